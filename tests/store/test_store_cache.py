"""The cache's files under crashes and damage: a batch is one appended block with
its cursor; a torn or stale journal loses nothing it promised to keep; damage
is moved aside, reported, and never deleted by a mere reader; a cache of an
earlier format is rebuilt; compaction happens beside `apply`, never in it."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from csq.domain.records import LIST_BODY_CHARS, list_view
from csq.store import Cache, CacheBusy
from csq.store.journal import JournalStorage


def item(item_id: int, version: int = 1, **extra: object) -> dict[str, object]:
    return {"id": item_id, "version": version, "subject": f"item {item_id}", **extra}


def written(directory: Path, *batches: tuple[list[dict[str, object]], int]) -> None:
    cache = Cache(directory).open(write=True)
    for items, cursor in batches:
        cache.apply(items, [], cursor)
    cache.close()


def reopened(directory: Path) -> Cache:
    cache = Cache(directory).open(write=True)
    cache.close()
    return cache


def blocks(journal: Path) -> list[tuple[dict[str, object], list[bytes]]]:
    """The journal's blocks: each header line and the record lines under it."""
    raw = journal.read_bytes()
    pos, out = raw.index(b"\n") + 1, []
    while pos < len(raw):
        end = raw.index(b"\n", pos)
        head = orjson.loads(raw[pos:end])
        body = raw[end + 1:end + 1 + head["bytes"]]
        out.append((head, body.splitlines()))
        pos = end + 1 + head["bytes"]
    return out


def test_a_batch_is_one_appended_block_holding_its_records_and_the_cursor(
        tmp_path: Path) -> None:
    written(tmp_path, ([item(1), item(2)], 7))
    [(head, records)] = blocks(tmp_path / "journal.jsonl")
    # Each item's list projection travels in the same block as the item itself.
    assert head["tables"] == {"items": [1, 2], "rows": [1, 2]} and head["meta"]["cursor"] == 7
    assert [orjson.loads(r)["id"] for r in records] == [1, 2, 1, 2]
    snap = reopened(tmp_path).snapshot()
    assert sorted(snap.items) == [1, 2] and snap.cursor == 7
    assert snap.items[2] == item(2)  # parsed when read


def full_item(item_id: int) -> dict[str, object]:
    return item(item_id, kind="complaint", status="new", body="停电三天" * 1000,
                escalation={"by": "lee", "to": "ops", "reason": "重大",
                            "at": "2026-12-01T00:00:00Z"},
                timeline=[{"type": "note", "actor": "alice", "body": "中途意见" * 50}] * 20)


def test_a_list_reads_each_items_projection_never_its_timeline(tmp_path: Path) -> None:
    written(tmp_path, ([full_item(1), item(2)], 3))
    cache = Cache(tmp_path).open()
    row = cache.snapshot().rows[1]
    assert row == list_view(full_item(1)) == cache.row(1)
    assert "timeline" not in row and row["escalated"] is True
    assert len(row["body"]) == LIST_BODY_CHARS  # what free-text search reads, no more
    assert list(cache.snapshot().rows) == [1, 2]


def test_a_cache_written_without_projections_gets_them_once_from_its_writer(
        tmp_path: Path) -> None:
    # As the previous csq wrote it: items only.
    storage = JournalStorage(tmp_path)
    storage.append({"tables": {"items": [full_item(1), item(2)]}, "meta": {"cursor": 5}})
    reader = Cache(tmp_path).open()  # a reader projects the full records meanwhile
    assert reader.snapshot().rows[1] == list_view(full_item(1))
    assert reader.row(2) == list_view(item(2))
    Cache(tmp_path).open(write=True).close()
    stored = JournalStorage(tmp_path)
    stored.load()
    assert sorted(stored.tables["rows"]) == [1, 2] and stored.meta["cursor"] == 5
    assert orjson.loads(stored.tables["rows"][1]) == list_view(full_item(1))


def test_a_torn_last_block_is_ignored_and_the_next_batch_is_not_glued_to_it(
        tmp_path: Path) -> None:
    written(tmp_path, ([item(1)], 5), ([item(2), item(3)], 6))
    journal = tmp_path / "journal.jsonl"
    whole = journal.read_bytes()
    for cut in (len(whole) - 1, len(whole) - 30, whole.rindex(b'{"b":2') + 5):
        journal.write_bytes(whole[:cut])  # SIGKILL mid-append, at three places
        cache = Cache(tmp_path).open(write=True)
        assert sorted(cache.snapshot().items) == [1] and cache.cursor == 5
        assert cache.warnings == []
        cache.apply([item(4)], [], 7)
        cache.apply([item(5)], [], 8)
        cache.close()
        again = reopened(tmp_path)
        assert again.warnings == []  # not "damaged": nothing to move aside
        assert sorted(again.snapshot().items) == [1, 4, 5] and again.cursor == 8


def test_compaction_runs_beside_apply_and_a_crash_at_any_step_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = JournalStorage._write_snapshot

    def slow(self: JournalStorage, *args: object) -> int:
        release.wait(10)  # a big cache on a slow disk
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(JournalStorage, "_write_snapshot", slow)
    cache = Cache(tmp_path, compact_at=2_000).open(write=True)
    cache.apply([item(i) for i in range(5)], [], 1)
    cache.apply([item(i, body="x" * 400) for i in range(5, 10)], [], 2)  # over the limit
    cache.apply([item(10)], [], 3)  # not held up by the compaction under way
    assert not (tmp_path / "snapshot.json").exists()
    # The crash before the snapshot is in: the rotated journal and the new one.
    assert [h["b"] for h, _ in blocks(tmp_path / "journal.1.jsonl")] == [1, 2]
    assert [h["b"] for h, _ in blocks(tmp_path / "journal.jsonl")] == [3]
    assert sorted(Cache(tmp_path).open().snapshot().items) == list(range(11))
    previous = (tmp_path / "journal.1.jsonl").read_bytes()
    release.set()
    cache.close()  # waits for it

    snapshot = (tmp_path / "snapshot.json").read_bytes()
    header = orjson.loads(snapshot[:snapshot.index(b"\n")])
    assert header["upto"] == 2 and header["meta"]["cursor"] == 2
    assert header["tables"]["items"] == list(range(10))
    assert not (tmp_path / "journal.1.jsonl").exists()
    assert [h["b"] for h, _ in blocks(tmp_path / "journal.jsonl")] == [3]
    assert sorted(reopened(tmp_path).snapshot().items) == list(range(11))

    # The crash after the snapshot's rename, before journal.1 was deleted.
    (tmp_path / "journal.1.jsonl").write_bytes(previous)
    cache = Cache(tmp_path).open(write=True)
    assert sorted(cache.snapshot().items) == list(range(11)) and cache.cursor == 3
    cache.apply([item(11)], [], 4)  # batch 4, after the 3 already there
    cache.close()
    again = reopened(tmp_path)
    assert sorted(again.snapshot().items) == list(range(12)) and again.cursor == 4
    assert again.warnings == []
    cache = Cache(tmp_path).open(write=True)
    cache.compact()  # journal.1 is taken care of by the next compaction
    cache.close()
    assert not (tmp_path / "journal.1.jsonl").exists()
    assert sorted(reopened(tmp_path).snapshot().items) == list(range(12))


def test_a_snapshot_left_half_written_by_a_killed_compaction_is_swept(tmp_path: Path) -> None:
    written(tmp_path, ([item(1)], 5))
    (tmp_path / ".snapshot.json.4242.tmp").write_bytes(b'{"format":"csq-cache","ver')
    cache = reopened(tmp_path)
    assert cache.warnings == [] and sorted(cache.snapshot().items) == [1]
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_snapshot_is_a_moment_that_later_batches_do_not_change(tmp_path: Path) -> None:
    cache = Cache(tmp_path).open(write=True)
    cache.apply([item(1), item(2)], [], 5)
    snap = cache.snapshot()
    cache.apply([item(2, version=2), item(3)], [], 6)
    assert sorted(snap.items) == [1, 2] and snap.items[2]["version"] == 1
    assert cache.item(2) == item(2, version=2) and cache.item(99) is None
    cache.close()


def test_a_cache_of_an_earlier_csq_is_rebuilt_with_a_message_not_a_crash(
        tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    # The previous release: TinyDB's layout in snapshot.json, generations in the journal.
    (directory / "snapshot.json").write_bytes(orjson.dumps(
        {"items": {"1": item(1)}, "customers": {}, "_meta": {"cursor": 5, "generation": 1}}))
    (directory / "journal.jsonl").write_bytes(
        b'{"generation":1}\n{"tables":{"items":[{"id":2}]},"meta":{"cursor":6}}\n')
    reader = Cache(directory).open()
    assert len(reader.warnings) == 1 and "another version of csq" in reader.warnings[0]
    assert reader.snapshot().items == {} and (directory / "snapshot.json").exists()

    cache = Cache(directory).open(write=True)
    assert "rebuilt from the server" in cache.warnings[0] and cache.cursor == 0
    cache.apply([item(3)], [], 9)
    cache.close()
    again = reopened(directory)
    assert again.warnings == [] and sorted(again.snapshot().items) == [3]


HEAD = b'{"format":"csq-cache","version":2}\n'
DAMAGE = {
    "garbage snapshot": ("snapshot.json", b"\x00\x17\xff garbage \xfe"),
    "truncated snapshot": ("snapshot.json", b'{"format":"csq-cache","version":2,"upto":1,'
                                            b'"meta":{},"tables":{"items":[1]},"bytes":40,'
                                            b'"crc":0}\n{"id": 1, "subj'),
    "snapshot not a document": ("snapshot.json", b"[1, 2, 3]"),
    "garbage journal": ("journal.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00"),
    "journal of the wrong shape": ("journal.jsonl", HEAD + b'{"tables":{"items":[1]}}\n{}\n'),
    "journal block not JSON mid-file": ("journal.jsonl", HEAD + b'{"b"\n{"b":1}\n'),
    "journal block damaged mid-file": ("journal.jsonl", HEAD +
                                       b'{"b":1,"tables":{"items":[1]},"bytes":3,"crc":1}\n'
                                       b'{}\n{"b":2,"tables":{},"bytes":0,"crc":0}\n'),
    "journal missing batches": ("journal.jsonl",
                                HEAD + b'{"b":4,"tables":{},"bytes":0,"crc":0}\n'),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_cache_is_moved_aside_reported_and_started_afresh(
        tmp_path: Path, damage: str) -> None:
    directory = tmp_path / "cache"
    written(directory, ([item(1)], 5))
    name, content = DAMAGE[damage]
    (directory / name).write_bytes(content)

    cache = Cache(directory).open(write=True)
    assert len(cache.warnings) == 1
    warning = cache.warnings[0]
    assert str(directory) in warning and "moved aside to" in warning
    assert "rebuilt from the server" in warning
    snap = cache.snapshot()
    assert snap.items == {} and snap.cursor == 0  # a pull starts from the beginning
    cache.apply([item(2)], [], 9)
    cache.close()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("cache.damaged-")]
    assert len(aside) == 1 and (aside[0] / name).read_bytes() == content  # kept, for a person
    assert aside[0].stat().st_mode & 0o777 == 0o700
    assert sorted(reopened(directory).snapshot().items) == [2]


def test_a_reader_of_a_damaged_cache_reports_it_but_leaves_the_files_to_the_writer(
        tmp_path: Path) -> None:
    writer = Cache(tmp_path).open(write=True)
    writer.apply([item(1)], [], 5)
    (tmp_path / "snapshot.json").write_bytes(b"not json")
    reader = Cache(tmp_path).open(write=False)
    assert len(reader.warnings) == 1 and str(tmp_path) in reader.warnings[0]
    assert reader.snapshot().items == {}
    assert (tmp_path / "snapshot.json").read_bytes() == b"not json"
    assert (tmp_path / "journal.jsonl").exists()
    with pytest.raises(CacheBusy):
        reader.apply([item(2)], [], 6)
    writer.close()


def test_one_writer_at_a_time_while_readers_read(tmp_path: Path) -> None:
    writer = Cache(tmp_path).open(write=True)
    writer.apply([item(1)], [], 5)
    with pytest.raises(CacheBusy) as busy:
        Cache(tmp_path).open(write=True, wait=0.1)
    assert str(tmp_path) in str(busy.value) and "try again" in str(busy.value)
    reader = Cache(tmp_path).open()
    assert sorted(reader.snapshot().items) == [1]
    writer.apply([item(2)], [], 6)
    reader.reload()
    assert sorted(reader.snapshot().items) == [1, 2] and reader.cursor == 6
    writer.close()
    Cache(tmp_path).open(write=True, wait=0).close()  # free again


def test_cache_files_and_lock_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "cache"
    written(directory, ([item(1)], 5))
    assert {p.name for p in directory.iterdir()} == {"cache.lock", "journal.jsonl"}
    cache = Cache(directory).open(write=True)
    cache.compact()
    cache.close()
    assert {p.name for p in directory.iterdir()} == {"cache.lock", "journal.jsonl",
                                                      "snapshot.json"}
    for path in directory.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    for path in (tmp_path / "new", directory):
        assert path.stat().st_mode & 0o777 == 0o700, path
