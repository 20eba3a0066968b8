"""The client's files: private (0600 files, 0700 directories), never holding an
unmasked phone number or e-mail (promise 5), and removed by `csq logout
--purge` only when that loses nothing, or when told to in so many words."""

from __future__ import annotations

from pathlib import Path

import pytest

from csq.domain.engine import Actor
from csq.domain.roles import Role
from csq.store import Cache, Op, Outbox
from csq.sync import SyncEngine, make_http
from tests.cli.conftest import Machine, clean
from tests.support.client import CsqEnv, LiveServer, seed, seed_async

pytestmark = pytest.mark.process

PHONE, EMAIL = "13812345678", "zhang.wei@example.com"


def tree(top: Path) -> list[Path]:
    return [top, *sorted(top.rglob("*"))]


def test_login_outbox_and_cache_are_0600_in_0700_directories(
        shared: LiveServer, tmp_path: Path) -> None:
    item_id = shared.item("bob")["id"]
    alice = CsqEnv(tmp_path / "alice")  # not logged in yet: `csq login` writes the file
    login, done, synced = alice.run_many(
        ["login", "--server", shared.url, "--token", shared.tokens["alice"]],
        ["do", str(item_id), "note", "files"], ["sync"])
    assert str(alice.login_path) in clean(login).out
    clean(done)
    clean(synced)
    made = tree(alice.data_home / "csq") + tree(alice.config_home / "csq")
    names = {p.name for p in made}
    assert {"login.toml", "outbox.json", "outbox.lock", "journal.jsonl",
            "cache.lock", "sender.lock"} <= names
    for path in made:
        want = 0o700 if path.is_dir() else 0o600
        assert path.stat().st_mode & 0o777 == want, path


async def test_the_cache_never_holds_unmasked_contact_details_after_a_reveal(
        shared: LiveServer, machine: Machine) -> None:
    item = shared.item("bob")
    shared.act("alice", item["id"], "claim")
    alice = machine(shared)
    await seed_async(alice, shared)
    profile = alice.profile(shared.url, "alice")
    cache = Cache(profile.cache_dir).open(write=True)
    try:
        async with make_http(shared.url, shared.tokens["alice"]) as http:
            engine = SyncEngine(profile, http, Actor("alice", "Alice", Role.AGENT), cache=cache)
            details = await engine.api.reveal(item["customer_id"], item["id"])
            assert (details.phone, details.email) == (PHONE, EMAIL)  # the agent sees them
            await engine.sync_once()  # the audit event moves the feed on: pull it
    finally:
        cache.close()
    assert shared.query("SELECT COUNT(*) FROM events WHERE type = 'reveal'") >= [(1,)]
    shown, listed = alice.run_many(["show", str(item["id"]), "--json"], ["ls", "--json"])
    assert "138****5678" in clean(shown).out and PHONE not in shown.out
    assert PHONE not in clean(listed).out and EMAIL not in listed.out

    masked_seen = False
    for path in tree(alice.data_home):
        if path.is_file():
            raw = path.read_bytes()
            assert PHONE.encode() not in raw and EMAIL.encode() not in raw, path
            masked_seen |= b"138****5678" in raw
    assert masked_seen  # the customer is cached, as the server sent it: masked


def test_logout_purge_refuses_while_actions_are_pending_unless_forced(
        shared: LiveServer, machine: Machine) -> None:
    item_id = shared.item("bob")["id"]
    alice = machine(shared)
    seed(alice, shared)
    profile = alice.profile(shared.url, "alice")
    Outbox(profile.outbox_path).append(
        Op.new("action", {"action": "note", "body": "not yet sent"}, item_id=item_id))

    refused, synced, purged = alice.run_many(["logout", "--purge"], ["sync"],
                                             ["logout", "--purge"])
    assert "1 action(s) in the outbox have not reached the server" in clean(refused, rc=1).err
    clean(synced)  # the pending note goes out, so the purge below loses nothing
    assert f"deleted {profile.root}" in clean(purged).out
    assert not profile.root.exists() and not alice.login_path.exists()
    assert shared.note_bodies()["not yet sent"] == 1

    alice = machine(shared, name="alice-again")
    seed(alice, shared)
    profile = alice.profile(shared.url, "alice")
    Outbox(profile.outbox_path).append(
        Op.new("action", {"action": "note", "body": "given up"}, item_id=item_id))
    (refused,) = alice.run_many(["logout", "--purge"])
    assert "--force" in clean(refused, rc=1).err
    assert profile.outbox_path.exists() and alice.login_path.exists()  # nothing removed
    clean(alice.run("logout", "--purge", "--force"))
    assert not profile.root.exists() and not alice.login_path.exists()
    assert shared.note_bodies()["given up"] == 0


def test_customer_text_cannot_drive_the_terminal(shared: LiveServer, machine: Machine) -> None:
    """Promise 4: escape and control sequences in any field are neutralised."""
    hostile = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\r\x08\x9b1m"
    item = shared.item("bob", subject=f"停电 {hostile}", body=f"line\n{hostile}",
                       customer={"name": f"张伟{hostile}"})
    shared.act("bob", item["id"], "note", body=hostile)
    alice = machine(shared)
    for run in alice.run_many(["ls"], ["show", str(item["id"])]):
        clean(run)
        for text in (run.out, run.err):
            assert not any(c in text for c in "\x1b\x07\x08\x9b\r"), repr(text)
    assert "停电" in run.out
