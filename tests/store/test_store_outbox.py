"""The outbox: durable on return, shared safely by processes, never silently
dropped when damaged, rebased correctly as the server answers, and cheap to
append to however much is pending."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from filelock import FileLock, Timeout

from csq.store import Cache, CacheBusy, Op, Outbox, OutboxCorrupt
from csq.store.oplog import OpLog
from tests.support.client import ROOT


def note(item_id: int, body: str, base: int | None = 1) -> Op:
    return Op.new("action", {"action": "note", "body": body}, item_id=item_id,
                  base_version=base)


def move(item_id: int, to: str, base: int | None) -> Op:
    return Op.new("action", {"action": "transition", "to": to}, item_id=item_id,
                  base_version=base)


def test_an_append_is_on_disk_in_order_when_it_returns(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "p" / "outbox.json")
    ops = [outbox.append(note(1, f"n{i}")) for i in range(5)]
    assert [o.order for o in ops] == [1, 2, 3, 4, 5]
    fresh = Outbox(tmp_path / "p" / "outbox.json").all()  # as another process sees it
    assert [o.op_id for o in fresh] == [o.op_id for o in ops]
    assert not list((tmp_path / "p").glob(".*.tmp"))  # no temp file left behind
    assert (tmp_path / "p" / "outbox.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "p" / "outbox.lock").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "p").stat().st_mode & 0o777 == 0o700


UNREADABLE = {
    "garbage": b"\x00\x01garbage\xff",
    "truncated": b'{"ops": {"1": {"op_id": "3f1c", "kind": "act',
    "a list": b"[]",
    "a table that is a list": b'{"ops": []}',
    "a record that is a number": b'{"ops": {"1": 1}}',
    "a record key that is not a number": b'{"ops": {"first": {"op_id": "a"}}}',
    "a byte-order mark": b'\xef\xbb\xbf{"ops": {}}',
}


UNREADABLE |= {
    "a header cut short": b'{"format":"csq-outbox","version":2,"n":0',
    "a last line that is not an entry": b'{"format":"csq-outbox","version":2,"n":0}\n[1]\n',
    "a newer format": b'{"format":"csq-outbox","version":9,"n":0}\n',
}


@pytest.mark.parametrize("content", UNREADABLE.values(), ids=list(UNREADABLE))
def test_an_unreadable_outbox_stops_with_its_path_and_is_never_overwritten(
        tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "outbox.json"
    path.write_bytes(content)
    outbox = Outbox(path)
    for attempt in (outbox.check, outbox.all, lambda: outbox.append(note(1, "new"))):
        with pytest.raises(OutboxCorrupt) as caught:
            attempt()
        assert str(path) in str(caught.value) and "not yet sent" in str(caught.value)
    assert path.read_bytes() == content


def test_damage_before_the_last_line_is_reported_by_a_read_and_never_overwritten(
        tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    content = (b'{"format":"csq-outbox","version":2,"n":0}\n{"n":1,"add":\n'
               b'{"n":2,"del":[1]}\n')
    path.write_bytes(content)
    outbox = Outbox(path)
    for attempt in (outbox.check, outbox.all):
        with pytest.raises(OutboxCorrupt) as caught:
            attempt()
        assert str(path) in str(caught.value) and "line 2" in str(caught.value)
    # An append reads only the file's ends (the app and `csq do` check first): it
    # adds its line and leaves the damage where it is, for a person to repair.
    outbox.append(note(1, "new"))
    assert path.read_bytes().startswith(content)


def test_a_record_that_is_not_an_action_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    bad = {"op_id": 5, "payload": "claim"}
    path.write_bytes(orjson.dumps({"ops": {"1": bad}}))  # the previous release's format
    outbox = Outbox(path)
    with pytest.raises(OutboxCorrupt) as caught:
        outbox.check()
    assert "record 1" in str(caught.value) and str(path) in str(caught.value)
    outbox.append(note(1, "new"))  # (the app and `csq do` check before they append)
    assert OpLog(path).read_docs()[1] == bad  # never dropped


def test_an_outbox_of_the_previous_release_is_read_and_carried_over_in_order(
        tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    old = [note(7, "first"), move(7, "resolved", 3)]
    path.write_bytes(orjson.dumps({"ops": {  # TinyDB's layout, as it wrote it
        str(i): op.model_dump(mode="json", exclude={"order"}) for i, op in ((3, old[0]),
                                                                              (8, old[1]))}}))
    outbox = Outbox(path)
    assert [(o.order, o.op_id) for o in outbox.all()] == [(3, old[0].op_id), (8, old[1].op_id)]
    new = outbox.append(note(7, "after the upgrade"))
    assert new.order == 9
    assert path.read_bytes().startswith(b'{"format":"csq-outbox"')
    assert [o.op_id for o in Outbox(path).all()] == [old[0].op_id, old[1].op_id, new.op_id]


def test_an_append_reads_only_the_ends_of_the_file_and_a_torn_last_line_is_cut(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "outbox.json"
    outbox = Outbox(path)
    ops = [outbox.append(note(i, f"n{i}")) for i in range(300)]
    with path.open("ab") as log:
        log.write(b'{"n":301,"add":{"op_id":"half-writ')  # SIGKILL mid-append
    assert [o.op_id for o in Outbox(path).all()] == [o.op_id for o in ops]  # not counted

    def no_full_read(self: OpLog, fd: int, size: int) -> bytes:
        raise AssertionError("an append read the whole outbox")

    monkeypatch.setattr(OpLog, "_read_all", no_full_read)
    after = Outbox(path).append(note(1, "after the crash"))
    monkeypatch.undo()
    assert after.order == 301
    assert [o.op_id for o in Outbox(path).all()] == [o.op_id for o in ops] + [after.op_id]


def test_a_drained_outbox_is_folded_back_to_its_header_and_numbering_goes_on(
        tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    outbox = Outbox(path)
    ops = [outbox.append(note(1, "x" * 500)) for _ in range(200)]
    full = path.stat().st_size
    sizes = []
    for op in ops[:-1]:
        outbox.acknowledged(op, None, None)
        sizes.append(path.stat().st_size)
    assert max(sizes) < full + 64 * 1024  # history is folded away as it piles up
    outbox.acknowledged(ops[-1], None, None)
    assert path.stat().st_size < 200  # nothing pending: just the header
    assert outbox.all() == []
    assert outbox.append(note(1, "next")).order > ops[-1].order  # orders are never reused


def test_an_unreadable_outbox_is_corrupt_not_empty(tmp_path: Path) -> None:
    (tmp_path / "outbox.json").mkdir()  # something that is not a file where it should be
    with pytest.raises(OutboxCorrupt) as caught:
        Outbox(tmp_path / "outbox.json").all()
    assert str(tmp_path / "outbox.json") in str(caught.value)


def test_an_ack_rebases_only_later_ops_of_that_item_built_on_the_old_version(
        tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.json")
    first = outbox.append(move(7, "open", 3))
    same = outbox.append(move(7, "resolved", 3))
    newer = outbox.append(move(7, "closed", 5))  # built on a version seen later
    other = outbox.append(move(8, "open", 3))
    outbox.acknowledged(first, 3, 4)
    left = {o.op_id: o.base_version for o in outbox.all()}
    assert left == {same.op_id: 4, newer.op_id: 5, other.op_id: 3}
    outbox.acknowledged(outbox.get(same.op_id) or same, 4, 4)  # a note: version unchanged
    assert {o.op_id: o.base_version for o in outbox.all()} == {newer.op_id: 5, other.op_id: 3}


def test_reapply_is_a_new_request_on_the_server_version_and_carries_later_ops(
        tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.json")
    stale = outbox.append(move(7, "resolved", 3))
    later = outbox.append(note(7, "after", 3))
    outbox.update(stale.op_id, state="conflict", error="stale", server_item={"version": 6})
    fresh = outbox.reapply(stale.op_id)
    assert fresh is not None and fresh.op_id != stale.op_id
    ops = outbox.all()
    assert [(o.state, o.base_version) for o in ops] == [("pending", 6), ("pending", 6)]
    assert ops[0].op_id == fresh.op_id and ops[1].op_id == later.op_id
    assert outbox.reapply(later.op_id) is None  # only a conflict or a failure is re-applied


class Died(BaseException):
    """The process ended here (SIGKILL, power): nothing after this write happens."""


def dying_at_write(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """The next outbox write dies: before a byte reaches the file, or halfway."""
    from csq.store import oplog

    def append_durable(path: Path, data: bytes, *, sync: bool = True) -> None:
        if how == "torn":
            with path.open("ab") as log:
                log.write(data[: len(data) // 2])
        raise Died

    monkeypatch.setattr(oplog, "append_durable", append_durable)


@pytest.mark.parametrize("how", ["before", "torn"])
def test_a_crash_inside_an_ack_never_leaves_later_ops_on_a_left_behind_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    outbox = Outbox(tmp_path / "outbox.json")
    sent = outbox.append(move(7, "open", 3))
    later = outbox.append(move(7, "resolved", 3))
    dying_at_write(monkeypatch, how)
    with pytest.raises(Died):
        outbox.acknowledged(sent, 3, 4)
    monkeypatch.undo()
    left = {o.op_id: o for o in Outbox(tmp_path / "outbox.json").all()}
    # The ack is one line: it happened whole or not at all. Here, not at all: the op
    # will be sent again, replayed by the server, and acknowledged again.
    assert {o.base_version for o in left.values()} == {3} and sent.op_id in left
    outbox.acknowledged(left[sent.op_id], 3, 4)
    assert [(o.op_id, o.base_version) for o in outbox.all()] == [(later.op_id, 4)]


@pytest.mark.parametrize("how", ["before", "torn"])
def test_a_crash_inside_a_reapply_never_sends_what_waits_behind_on_an_old_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    outbox = Outbox(tmp_path / "outbox.json")
    stale = outbox.append(move(7, "resolved", 3))
    later = outbox.append(note(7, "after", 3))
    outbox.update(stale.op_id, state="conflict", server_item={"version": 6})
    dying_at_write(monkeypatch, how)
    with pytest.raises(Died):
        outbox.reapply(stale.op_id)
    monkeypatch.undo()
    ops = Outbox(tmp_path / "outbox.json").all()
    # still a conflict, holding the item, with what waits behind it untouched
    assert [(o.op_id, o.state) for o in ops] == [(stale.op_id, "conflict"),
                                                 (later.op_id, "pending")]
    outbox.reapply(stale.op_id)
    assert [(o.state, o.base_version) for o in outbox.all()] == [("pending", 6)] * 2


def _append_many(path: str, worker: int, count: int) -> None:
    outbox = Outbox(Path(path))
    for n in range(count):
        outbox.append(note(worker, f"w{worker}-{n}"))


@pytest.mark.process
def test_appends_from_many_processes_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=_append_many, args=(str(path), w, 25)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    bodies = [str(o.payload["body"]) for o in Outbox(path).all()]
    assert sorted(bodies) == sorted(f"w{w}-{n}" for w in range(4) for n in range(25))
    for w in range(4):  # each process's own order is kept
        assert [b for b in bodies if b.startswith(f"w{w}-")] == [f"w{w}-{n}" for n in range(25)]


HOLD = """
import sys, time
from filelock import FileLock
from csq.store import Cache
from pathlib import Path
root = Path(sys.argv[1])
cache = Cache(root / "cache").open(write=True)
outbox_lock = FileLock(str(root / "outbox.lock"))
outbox_lock.acquire()
print("holding", flush=True)
time.sleep(60)
"""


@pytest.mark.process
def test_locks_of_a_sigkilled_process_are_released_by_the_kernel_and_taken_over(
        tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        with pytest.raises(CacheBusy):
            Cache(tmp_path / "cache").open(write=True, wait=0.2)
        with pytest.raises(Timeout):
            FileLock(str(tmp_path / "outbox.lock")).acquire(timeout=0.2)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        holder.kill()
        holder.wait(10)
    assert (tmp_path / "cache" / "cache.lock").exists()  # the file stays; the lock is gone
    Cache(tmp_path / "cache").open(write=True, wait=0).close()
    outbox = Outbox(tmp_path / "outbox.json", lock_timeout=0)
    outbox.append(note(1, "after the crash"))
    assert [o.payload["body"] for o in outbox.all()] == ["after the crash"]
