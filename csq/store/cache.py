"""The cache: the items and customers this user may see, and the sync cursor.

Rebuildable from the server, so a damaged cache is moved aside and started
afresh, and the message says so; one written by another version of csq is
rebuilt too. One process at a time writes it (a file lock, released by the
kernel if that process dies); others read it freely. Contact details are
stored only as the server sent them: masked. Records are kept as JSON bytes
and parsed when read (journal.py says why), so a reader gets a `Records`
mapping rather than a dict of dicts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from filelock import FileLock, Timeout
from tinydb import TinyDB

from csq.domain.records import list_view
from csq.store.errors import CacheBusy, CacheCorrupt, CacheOutdated, StoreUnwritable
from csq.store.files import FILE_MODE, ensure_dir
from csq.store.journal import CorruptData, JournalStorage, OutdatedFormat, Raw, Records


@dataclass(frozen=True)
class CacheSnapshot:
    """What a reader gets: the tables as of one moment, each record parsed into a
    plain dict when it is read (validated by whoever needs a model)."""

    items: Mapping[int, dict[str, Any]]
    customers: Mapping[int, dict[str, Any]]
    cursor: int
    synced_at: datetime | None
    rows: Mapping[int, dict[str, Any]]  # each item's list projection, same ids as items


class Rows(Records):
    """Each item's list projection (csq.domain.records.list_view), parsed when read:
    what a list draws, without parsing timelines. Its keys are the items'; an item
    whose projection is not stored (a cache an earlier csq wrote, before its writer
    fills them in) is projected from its full record."""

    def __init__(self, rows: dict[int, Raw], items: dict[int, Raw]) -> None:
        super().__init__(items)
        self._rows = rows

    def __getitem__(self, key: int) -> dict[str, Any]:
        raw = self._rows.get(key)
        if raw is not None:
            value: dict[str, Any] = orjson.loads(raw)
            return value
        return list_view(super().__getitem__(key))


class Cache:
    def __init__(self, directory: Path, *, compact_at: int = 8 * 1024 * 1024) -> None:
        self.dir = directory
        self.compact_at = compact_at
        self.lock = FileLock(str(directory / "cache.lock"), mode=FILE_MODE)
        self.db: TinyDB | None = None
        self.storage: JournalStorage | None = None
        self.warnings: list[str] = []
        self.writable = False

    # -- opening -----------------------------------------------------------------------

    def open(self, *, write: bool = False, wait: float = 0.0) -> Cache:
        """Load the cache; with `write`, take the writer lock (waiting up to `wait` s)."""
        ensure_dir(self.dir)
        if write:
            try:
                self.lock.acquire(timeout=wait)
            except Timeout:
                raise CacheBusy(self.dir, wait) from None
            except OSError as exc:  # a read-only data directory, say
                raise StoreUnwritable(Path(self.lock.lock_file),
                                      exc.strerror or str(exc)) from None
            self.writable = True
        self._load()
        return self

    def _load(self) -> None:
        if self.storage is not None:
            self.storage.close()  # a compaction under way finishes first
        storage = JournalStorage(str(self.dir), compact_at=self.compact_at)
        if self.writable:
            storage.sweep()
        try:
            storage.load()
        except OutdatedFormat as exc:
            self.warnings.append(str(CacheOutdated(self.dir, str(exc))))
            storage = JournalStorage(str(self.dir), compact_at=self.compact_at)
            storage.reset(on_disk=self.writable)  # nothing to keep: not damage, not ours
        except CorruptData as exc:
            moved = self._move_aside() if self.writable else None
            self.warnings.append(str(CacheCorrupt(self.dir, moved, str(exc))))
            storage = JournalStorage(str(self.dir), compact_at=self.compact_at)
            # Only the writer moves the files; a reader starts from nothing in memory
            # and leaves them alone (the writer may be appending to them right now).
            storage.reset(on_disk=self.writable)
        self.storage = storage
        # TinyDB builds its storage by calling what it is given; hand it this one.
        self.db = TinyDB(storage=lambda: storage)
        if self.writable:
            self._fill_rows()

    def _fill_rows(self) -> None:
        """Store the list projection of items that lack one: a cache written by an
        earlier csq gets them once, here, instead of on every start."""
        assert self.storage is not None
        items, rows = self.storage.tables["items"], self.storage.tables["rows"]
        if len(rows) >= len(items):
            return
        missing = [list_view(orjson.loads(raw)) for key, raw in items.items() if key not in rows]
        # If it cannot be written, readers project the full records: slower, not wrong.
        with contextlib.suppress(StoreUnwritable):
            self.storage.append({"tables": {"rows": missing}})

    def _move_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = ensure_dir(self.dir.parent / f"cache.damaged-{stamp}")
        for name in ("snapshot.json", "journal.1.jsonl", "journal.jsonl"):
            src = self.dir / name
            if src.exists():
                src.replace(aside / name)
        return aside

    def close(self) -> None:
        """Finish a compaction under way (so its work is not lost), then let go."""
        if self.storage is not None and self.writable:
            self.storage.close()
        if self.writable:
            self.lock.release()
            self.writable = False

    def reload(self) -> None:
        """Pick up what another process wrote (readers call this on change)."""
        self._load()

    # -- reading -----------------------------------------------------------------------

    def _storage(self) -> JournalStorage:
        assert self.storage is not None, "open the cache first"
        return self.storage

    def snapshot(self) -> CacheSnapshot:
        """Cheap: copies the index (references to immutable bytes), parses nothing."""
        storage = self._storage()
        synced = storage.meta.get("synced_at")
        items = dict(storage.tables.get("items", {}))
        return CacheSnapshot(
            items=Records(items),
            customers=Records(dict(storage.tables.get("customers", {}))),
            cursor=int(storage.meta.get("cursor", 0)),
            synced_at=datetime.fromisoformat(synced) if synced else None,
            rows=Rows(dict(storage.tables.get("rows", {})), items),
        )

    @property
    def cursor(self) -> int:
        return int(self._storage().meta.get("cursor", 0))

    def _record(self, table: str, key: int) -> dict[str, Any] | None:
        raw = self._storage().tables.get(table, {}).get(int(key))
        if raw is None:
            return None
        value: dict[str, Any] = orjson.loads(raw)
        return value

    def item(self, item_id: int) -> dict[str, Any] | None:
        return self._record("items", item_id)

    def row(self, item_id: int) -> dict[str, Any] | None:
        """An item's list projection (see `Rows`)."""
        if (row := self._record("rows", item_id)) is not None:
            return row
        item = self.item(item_id)
        return list_view(item) if item is not None else None

    def customer(self, customer_id: int) -> dict[str, Any] | None:
        return self._record("customers", customer_id)

    def __len__(self) -> int:
        return len(self._storage().tables.get("items", {}))

    def mtime(self) -> float:
        """Changes when any process writes; readers poll it to know when to reload."""
        stamps = [p.stat().st_mtime for p in (self.dir / "snapshot.json",
                                              self.dir / "journal.jsonl") if p.exists()]
        return max(stamps, default=0.0)

    # -- writing -----------------------------------------------------------------------

    def apply(self, items: list[dict[str, Any]], customers: list[dict[str, Any]],
              cursor: int | None = None) -> None:
        """One batch, one durable append: records and cursor move together."""
        if not self.writable:
            raise CacheBusy(self.dir, 0)
        assert self.storage is not None
        batch: dict[str, Any] = {"tables": {}}
        if items:
            batch["tables"]["items"] = items
            batch["tables"]["rows"] = [list_view(doc) for doc in items]
        if customers:
            batch["tables"]["customers"] = customers
        meta: dict[str, Any] = {}
        if cursor is not None:
            meta = {"cursor": cursor, "synced_at": datetime.now(UTC).isoformat()}
            batch["meta"] = meta
        if batch["tables"] or meta:
            self.storage.append(batch)

    def compact(self) -> None:
        """Fold the journal into a new snapshot now and wait for it. `apply` does this
        by itself in the background when the journal grows; this is for tools, tests
        and benchmarks that want a known state."""
        if not self.writable:
            raise CacheBusy(self.dir, 0)
        self._storage().compact(wait=True)

    def touch_synced(self) -> None:
        """Record that we talked to the server just now, with nothing new."""
        self.apply([], [], self.cursor)

    def wait_for_writer(self, seconds: float) -> bool:
        """For readers that want to see a sync finish before reading."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.lock.acquire(timeout=0.1)
            except Timeout:
                continue
            self.lock.release()
            return True
        return False

