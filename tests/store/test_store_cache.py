"""The cache's files under crashes and damage: a batch is one appended line with
its cursor; a torn or stale journal loses nothing it promised to keep; damage
is moved aside, reported, and never deleted by a mere reader."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from csq.store import Cache, CacheBusy


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


def test_a_batch_is_one_appended_line_holding_its_records_and_the_cursor(
        tmp_path: Path) -> None:
    written(tmp_path, ([item(1), item(2)], 7))
    lines = (tmp_path / "journal.jsonl").read_bytes().splitlines()
    assert len(lines) == 2  # the generation header, then the batch
    batch = orjson.loads(lines[1])
    assert [d["id"] for d in batch["tables"]["items"]] == [1, 2]
    assert batch["meta"]["cursor"] == 7
    snap = reopened(tmp_path).snapshot()
    assert sorted(snap.items) == [1, 2] and snap.cursor == 7


def test_a_torn_last_line_is_ignored_and_the_next_batch_is_not_glued_to_it(
        tmp_path: Path) -> None:
    written(tmp_path, ([item(1)], 5))
    with (tmp_path / "journal.jsonl").open("ab") as journal:
        journal.write(b'{"tables":{"items":[{"id":2,"vers')  # SIGKILL mid-write
    cache = Cache(tmp_path).open(write=True)
    assert sorted(cache.snapshot().items) == [1] and cache.cursor == 5
    assert cache.warnings == []
    cache.apply([item(3)], [], 6)
    cache.apply([item(4)], [], 7)
    cache.close()

    again = reopened(tmp_path)
    assert again.warnings == []  # not "damaged": nothing to move aside
    assert sorted(again.snapshot().items) == [1, 3, 4] and again.cursor == 7


def test_a_whole_batch_missing_only_its_newline_is_kept_and_the_next_starts_a_line(
        tmp_path: Path) -> None:
    written(tmp_path, ([item(1)], 5), ([item(2)], 6))
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(journal.read_bytes().rstrip(b"\n"))
    cache = Cache(tmp_path).open(write=True)
    assert sorted(cache.snapshot().items) == [1, 2]
    cache.apply([item(3)], [], 7)
    cache.close()
    again = reopened(tmp_path)
    assert again.warnings == [] and sorted(again.snapshot().items) == [1, 2, 3]


def test_compaction_writes_a_new_generation_and_a_crash_halfway_loses_nothing(
        tmp_path: Path) -> None:
    cache = Cache(tmp_path, compact_at=2_000).open(write=True)
    cache.apply([item(i) for i in range(5)], [], 1)
    journal_before = (tmp_path / "journal.jsonl").read_bytes()
    cache.apply([item(i, body="x" * 400) for i in range(5, 10)], [], 2)  # over the limit
    cache.close()
    snapshot = orjson.loads((tmp_path / "snapshot.json").read_bytes())
    assert snapshot["_meta"]["generation"] == 1 and snapshot["_meta"]["cursor"] == 2
    assert (tmp_path / "journal.jsonl").read_bytes() == b'{"generation":1}\n'

    # The crash: the new snapshot was renamed in, the old journal never replaced.
    (tmp_path / "journal.jsonl").write_bytes(journal_before)
    cache = Cache(tmp_path).open(write=True)
    assert sorted(cache.snapshot().items) == list(range(10)) and cache.cursor == 2
    cache.apply([item(10)], [], 3)  # must not go into the stale journal, to be ignored
    cache.close()
    again = reopened(tmp_path)
    assert sorted(again.snapshot().items) == list(range(11)) and again.cursor == 3
    assert again.warnings == []


DAMAGE = {
    "garbage snapshot": ("snapshot.json", b"\x00\x17\xff garbage \xfe"),
    "truncated snapshot": ("snapshot.json", b'{"items": {"1": {"id": 1, "subj'),
    "snapshot not a document": ("snapshot.json", b"[1, 2, 3]"),
    "garbage journal": ("journal.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00"),
    "journal of the wrong shape": ("journal.jsonl",
                                   b'{"generation":0}\n{"tables":{"items":[{"no":"id"}]}}\n'
                                   b'{"tables":{}}\n'),
    "journal line not JSON mid-file": ("journal.jsonl",
                                       b'{"generation":0}\n{"tables"\n{"tables":{}}\n'),
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
    for path in directory.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    for path in (tmp_path / "new", directory):
        assert path.stat().st_mode & 0o777 == 0o700, path
