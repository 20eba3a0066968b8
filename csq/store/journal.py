"""A TinyDB storage whose per-batch cost does not grow with the data.

TinyDB's own JSONStorage rewrites the whole file on every change: ~400 ms per
upsert at 50,000 items. This storage keeps the data in memory and on disk as

    snapshot.json   the whole database in TinyDB's own format, plus a generation
    journal.jsonl   one line per applied batch since that snapshot

An applied batch is one appended line (its records and the sync cursor in the
same line, so the cursor can never run ahead of the data it describes). A torn
last line, from a crash mid-append, is ignored, and cut off before the next
append so that batch is not glued onto its remains; anything else unreadable
is corruption. When the journal outgrows the snapshot, `write` (TinyDB's full
rewrite) folds it into a new snapshot generation atomically.
"""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

from csq.store.files import append_durable, truncate, write_atomic

Data = dict[str, dict[str, Any]]


class CorruptData(Exception):
    pass


class JournalStorage(Storage):
    def __init__(self, directory: str, *, compact_at: int = 8 * 1024 * 1024) -> None:
        self.dir = Path(directory)
        self.snapshot_path = self.dir / "snapshot.json"
        self.journal_path = self.dir / "journal.jsonl"
        self.compact_at = compact_at
        self.generation = 0
        self.journal_bytes = 0
        self.snapshot_bytes = 0
        self._data: Data | None = None
        self._cut_at: int | None = None  # where a torn last line begins
        self._unterminated = False  # the last batch is whole but lacks its newline

    # -- loading -------------------------------------------------------------------------

    def load(self) -> Data:
        """Read snapshot and journal from disk. Raises CorruptData.

        The garbage collector is paused meanwhile: parsing 50,000 items makes
        ~450k objects, none of them garbage, and the collections it would run
        over them were two thirds of a cold open (docs/benchmarks.md)."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._load()
        finally:
            if enabled:
                gc.enable()

    def _load(self) -> Data:
        data: Data = {}
        self.generation = 0
        try:
            raw = self.snapshot_path.read_bytes()
        except FileNotFoundError:
            raw = b""
        self.snapshot_bytes = len(raw)
        if raw:
            try:
                loaded = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise CorruptData(f"snapshot is not JSON ({exc})") from None
            if not isinstance(loaded, dict) or not all(isinstance(v, dict)
                                                       for v in loaded.values()):
                raise CorruptData("snapshot is not a TinyDB document")
            data = loaded
            generation = data.get("_meta", {}).get("generation", 0)
            if not isinstance(generation, int):
                raise CorruptData("snapshot has no generation number")
            self.generation = generation
        self._replay(data)
        self._data = data
        return data

    def _replay(self, data: Data) -> None:
        self._cut_at, self._unterminated = None, False
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            self.journal_bytes = 0
            return
        self.journal_bytes = len(raw)
        lines = raw.split(b"\n")
        if not lines or not lines[0]:
            return
        try:
            header = orjson.loads(lines[0])
        except orjson.JSONDecodeError:
            raise CorruptData("journal header is not JSON") from None
        generation = header.get("generation") if isinstance(header, dict) else None
        if generation != self.generation:
            # Older than the snapshot (a crash mid-compaction) and already folded into
            # it: the next append starts a fresh journal rather than extend this one.
            self.journal_bytes = 0
            return
        body = [line for line in lines[1:] if line]
        for index, line in enumerate(body):
            try:
                batch = orjson.loads(line)
            except orjson.JSONDecodeError:
                if index == len(body) - 1:
                    # torn by a crash mid-append: that batch never happened
                    self._cut_at = len(raw.rstrip(b"\n")) - len(line)
                    break
                raise CorruptData(f"journal line {index + 2} is not JSON") from None
            try:
                apply_batch_to(data, batch)
            except (AttributeError, KeyError, TypeError):
                raise CorruptData(f"journal line {index + 2} is not a batch") from None
        self._unterminated = self._cut_at is None and not raw.endswith(b"\n")

    # -- TinyDB's interface --------------------------------------------------------------

    def read(self) -> Data | None:
        if self._data is None:
            self.load()
        return self._data

    def write(self, data: Data) -> None:
        """A full rewrite: a new snapshot generation and an empty journal."""
        self.generation += 1
        data.setdefault("_meta", {})["generation"] = self.generation
        blob = orjson.dumps(data)
        write_atomic(self.snapshot_path, blob)
        write_atomic(self.journal_path, self._header())
        self.snapshot_bytes = len(blob)
        self.journal_bytes = len(self._header())
        self._cut_at, self._unterminated = None, False
        self._data = data

    def close(self) -> None:
        pass

    # -- the fast path -----------------------------------------------------------------

    def _header(self) -> bytes:
        return orjson.dumps({"generation": self.generation}) + b"\n"

    def append(self, batch: dict[str, Any]) -> None:
        """Apply one batch in memory and journal it with a single durable append."""
        data = self.read()
        assert data is not None
        line = orjson.dumps(batch) + b"\n"
        if self.journal_bytes == 0:
            write_atomic(self.journal_path, self._header())
            self.journal_bytes = len(self._header())
        if self._cut_at is not None:
            truncate(self.journal_path, self._cut_at)
            self.journal_bytes, self._cut_at = self._cut_at, None
        if self._unterminated:
            line, self._unterminated = b"\n" + line, False
        append_durable(self.journal_path, line)
        self.journal_bytes += len(line)
        apply_batch_to(data, batch)
        if self.journal_bytes > max(self.compact_at, self.snapshot_bytes):
            self.write(data)

    def reset(self, *, on_disk: bool = True) -> None:
        """Start empty; with `on_disk`, delete the files too."""
        self._data = {}
        self.generation = 0  # what a directory without a snapshot holds
        if on_disk:
            for path in (self.snapshot_path, self.journal_path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self.journal_bytes = self.snapshot_bytes = 0
        self._cut_at, self._unterminated = None, False


def apply_batch_to(data: Data, batch: dict[str, Any]) -> None:
    """Tables by name, documents keyed by their id as a string (TinyDB's layout)."""
    for table, docs in batch.get("tables", {}).items():
        target = data.setdefault(table, {})
        for doc in docs:
            target[str(doc["id"])] = doc
    for table, ids in batch.get("delete", {}).items():
        target = data.get(table, {})
        for doc_id in ids:
            target.pop(str(doc_id), None)
    if "meta" in batch:
        data.setdefault("_meta", {}).update(batch["meta"])
