"""Promise 6 on the client's side: bad local files, a bad token, no server, or a
server that is not csq. Each gets a clear message naming what is wrong and the
right exit code, never a traceback, and no acknowledged action is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from csq.store import Cache, Op, Outbox
from tests.cli.conftest import Machine, clean
from tests.support.client import (
    CsqEnv,
    LiveServer,
    html_server,
    permissions_bind,
    seed,
    set_tree_writable,
    without_root_powers,
)

pytestmark = pytest.mark.process


def queue_note(env: CsqEnv, server: LiveServer, item_id: int, body: str) -> Op:
    """An action taken earlier and not yet sent (as if queued while offline)."""
    outbox = Outbox(env.profile(server.url, "alice").outbox_path)
    return outbox.append(Op.new("action", {"action": "note", "body": body}, item_id=item_id))


def cut(path: Path, keep: float) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


def with_snapshot(cache_dir: Path) -> None:
    """Fold the journal into a snapshot, as the cache does once it grows."""
    cache = Cache(cache_dir, compact_at=0).open(write=True)
    cache.touch_synced()
    cache.close()
    assert (cache_dir / "snapshot.json").exists()


DAMAGE = {
    "truncated snapshot": lambda d: cut(d / "snapshot.json", 0.5),
    "garbage cache": lambda d: [(d / n).write_bytes(b"\x8b\x00garbage\xff" * 50)
                                for n in ("snapshot.json", "journal.jsonl")],
    "journal cut inside its header": lambda d: (d / "journal.jsonl").write_bytes(b'{"gen'),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_cache_is_moved_aside_with_a_warning_and_rebuilt_from_the_server(
        shared: LiveServer, machine: Machine, damage: str) -> None:
    item_id = shared.item("bob")["id"]
    alice = machine(shared)
    seed(alice, shared)
    profile = alice.profile(shared.url, "alice")
    with_snapshot(profile.cache_dir)
    op = queue_note(alice, shared, item_id, f"pending through {damage}")
    DAMAGE[damage](profile.cache_dir)

    listing = clean(alice.run("ls", "--json"))
    assert f"warning: the cache {profile.cache_dir} was damaged" in listing.err
    assert "moved aside to" in listing.err and "rebuilt from the server" in listing.err
    assert f'"id": {item_id}' in listing.out  # rebuilt, then listed
    assert [p.name for p in profile.root.iterdir() if p.name.startswith("cache.damaged-")]
    assert Outbox(profile.outbox_path).all() == []  # the pending action went out...
    assert shared.events_per_key()[op.op_id] == (1, 1)  # ...exactly once


def test_a_torn_journal_tail_is_dropped_quietly_and_nothing_is_missing(
        shared: LiveServer, machine: Machine) -> None:
    items = [shared.item("bob")["id"] for _ in range(2)]
    alice = machine(shared)
    seed(alice, shared)
    journal = alice.profile(shared.url, "alice").cache_dir / "journal.jsonl"
    cut(journal, 0.8)  # mid-line: a crash while appending the last batch
    listing = clean(alice.run("ls", "--json"))
    assert "warning" not in listing.err
    assert all(f'"id": {i}' in listing.out for i in items)


def test_a_missing_profile_directory_is_recreated_and_the_action_goes_through(
        shared: LiveServer, machine: Machine) -> None:
    item_id = shared.item("bob")["id"]
    alice = machine(shared)
    seed(alice, shared)
    shutil.rmtree(alice.profile(shared.url, "alice").root)
    done = clean(alice.run("do", str(item_id), "note", "after the directory vanished"))
    assert done.out.startswith("done: note")
    assert shared.note_bodies()["after the directory vanished"] == 1


@pytest.mark.skipif(not permissions_bind(), reason="cannot make a directory read-only here")
def test_a_read_only_data_directory_is_named_reads_still_work_and_nothing_is_lost(
        shared: LiveServer, machine: Machine) -> None:
    item_id = shared.item("bob")["id"]
    alice = machine(shared)
    seed(alice, shared)
    profile = alice.profile(shared.url, "alice")
    op = queue_note(alice, shared, item_id, "queued before the directory went read-only")
    before = profile.outbox_path.read_bytes()
    set_tree_writable(profile.root, False)
    try:
        listing, refused, sync = alice.run_many(
            ["ls"], ["do", str(item_id), "note", "not possible"], ["sync"],
            prefix=without_root_powers())
        clean(listing)
        assert str(item_id) in listing.out
        assert f"cannot write {profile.cache_dir}" in listing.err
        clean(refused, rc=3)
        assert f"cannot write {profile.root}" in refused.err
        assert "queued" not in refused.out and "done" not in refused.out
        clean(sync, rc=3)
        assert profile.outbox_path.read_bytes() == before
    finally:
        set_tree_writable(profile.root, True)
    clean(alice.run("sync"))
    assert shared.events_per_key()[op.op_id] == (1, 1)
    assert shared.note_bodies()["not possible"] == 0


CORRUPT = {
    "garbage": b"\x00\x01\x02 this is not an outbox \xff",
    "wrong shape": b'{"ops": {"1": {"op_id": 42, "payload": "claim"}, "x": 1}}',
}


@pytest.mark.parametrize("content", CORRUPT.values(), ids=list(CORRUPT))
def test_a_corrupt_outbox_stops_every_command_with_exit_3_and_its_path(
        shared: LiveServer, machine: Machine, content: bytes) -> None:
    item_id = shared.item("bob")["id"]
    alice = machine(shared)
    outbox = alice.profile(shared.url, "alice").outbox_path
    outbox.parent.mkdir(parents=True)
    outbox.write_bytes(content)
    *refused, forced = alice.run_many(
        ["do", str(item_id), "note", "x"], ["ls"], ["sync"], ["status"], ["conflicts"],
        ["logout", "--purge"], ["logout", "--purge", "--force"])
    for run in refused:
        clean(run, rc=3)
        assert f"the outbox {outbox} cannot be read" in run.err
        assert "not yet sent" in run.err
    clean(forced)  # asked for in so many words
    assert not outbox.exists() and not alice.login_path.exists()


def test_a_wrong_token_says_run_csq_login_and_keeps_the_action(
        shared: LiveServer, machine: Machine) -> None:
    item_id = shared.item("bob")["id"]
    alice = machine(shared)
    seed(alice, shared)
    alice.write_login(shared.url, "alice", "not-a-token")
    *refused, queued = alice.run_many(["ls"], ["sync"], ["status"],
                                      ["do", str(item_id), "note", "kept for later"])
    for run in refused:
        clean(run, rc=1)
        assert "refused the token" in run.err and "run `csq login`" in run.err
    clean(queued, rc=1)
    assert queued.out.startswith("queued: note")
    assert "run `csq login`" in queued.err
    alice.write_login(shared.url, "alice", shared.tokens["alice"])
    clean(alice.run("sync"))
    assert shared.note_bodies()["kept for later"] == 1


def test_no_server_then_an_html_server_then_csq_again_loses_nothing(
        live: LiveServer, machine: Machine) -> None:
    item_id = live.item("bob")["id"]
    alice = machine(live)
    seed(alice, live)
    live.kill()

    shown, queued = alice.run_many(["show", str(item_id)],
                                   ["do", str(item_id), "note", "while unreachable"])
    assert f"#{item_id}" in clean(shown).out and "停电了" in shown.out
    assert "offline (cannot reach" in shown.err and "showing the cache from" in shown.err
    assert clean(queued).out.startswith("queued: note")

    with html_server(live.port) as url:
        assert url == live.url
        listing, queued, failed, login = alice.run_many(
            ["ls"], ["do", str(item_id), "note", "while html"], ["sync"],
            ["login", "--server", url, "--token", "t"])
        assert str(item_id) in clean(listing).out
        assert "text/html" in listing.err and "not the csq API" in listing.err
        assert clean(queued).out.startswith("queued: note") and "2 pending" in queued.out
        assert "sync failed" in clean(failed, rc=1).err and "not the csq API" in failed.err
        assert "login failed" in clean(login, rc=1).err
        assert "is the server URL right?" in login.err
    assert len(Outbox(alice.profile(live.url, "alice").outbox_path).all()) == 2

    live.start()
    clean(alice.run("sync"))
    notes = live.note_bodies()
    assert (notes["while unreachable"], notes["while html"]) == (1, 1)
