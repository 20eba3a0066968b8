"""The cache's files: a snapshot and a journal of numbered batches, each record
kept as the JSON bytes the server's document became, parsed only when read.

    snapshot.json   header line: format, the last batch it holds (`upto`), the
                    sync cursor and friends (`meta`), every table's ids in order,
                    the body's length and CRC; then one line per record
    journal.jsonl   header line: format; then per applied batch a block: a line
                    saying which records follow (ids per table, deletions, meta,
                    the batch number `b`, the body's length and CRC), then them
    journal.1.jsonl the journal before it, while a compaction folds it away

Why this shape (docs/benchmarks.md, "Store"):
- An applied batch is one block appended and fsync'd: its records and the
  cursor together, so the cursor never runs ahead of the data it describes,
  and the cost is that batch's bytes, whatever the size of the cache.
- Opening reads both files and splits them into lines; it parses no record.
  Parsing 50,000 items with their timelines costs a second or more and ~600 MB
  of Python objects; splitting costs a tenth of that and keeps ~the file's size.
  Readers parse the records they ask for (`Records`).
- A block whose end is missing or whose CRC fails is the last one and was cut
  short by a crash (its `apply` never returned): it is ignored, and cut off
  before the next append. Any other damage is corruption, for the cache to
  move aside.
- Folding the journal into a new snapshot (compaction) is a full write of the
  cache: it runs in a background thread from a frozen copy of the index (the
  record bytes are immutable, so the copy is of references), never inside an
  `apply`. All `apply` does is rename the journal to journal.1.jsonl and start
  a new one. The new snapshot says which batches it holds (`upto`); loading
  replays journal.1 then journal, skipping batches up to `upto` and checking
  that the numbers run on without a gap, so a crash at any step loses nothing:
  before the snapshot's rename, old snapshot + journal.1 + journal; after it,
  journal.1 is skipped, then deleted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

from csq.store.errors import StoreUnwritable
from csq.store.files import FILE_MODE, append_durable, fsync_dir, truncate, write_atomic

FORMAT = "csq-cache"
VERSION = 2
TABLES = ("items", "customers", "rows")  # rows: each item's list projection
CHUNK = 1024  # records per write while compacting

# A record's JSON: bytes, or a view into the snapshot file's bytes as read (see _lines).
Raw = bytes | memoryview
Index = dict[str, dict[int, Raw]]
log = logging.getLogger("csq.store")


class CorruptData(Exception):
    pass


class OutdatedFormat(CorruptData):
    """Written by another version of csq: not damaged, just not ours to read."""


class Records(Mapping[int, dict[str, Any]]):
    """A table as of one moment, parsing each record when it is asked for."""

    def __init__(self, raw: dict[int, Raw]) -> None:
        self._raw = raw

    def __getitem__(self, key: int) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self._raw[key])
        return value

    def __iter__(self) -> Iterator[int]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, key: object) -> bool:
        return key in self._raw


def _header(**fields: Any) -> bytes:
    return orjson.dumps({"format": FORMAT, "version": VERSION, **fields}) + b"\n"


JOURNAL_HEADER = _header()


class JournalStorage(Storage):
    def __init__(self, directory: str | Path, *, compact_at: int = 8 * 1024 * 1024) -> None:
        self.dir = Path(directory)
        self.snapshot_path = self.dir / "snapshot.json"
        self.journal_path = self.dir / "journal.jsonl"
        self.previous_path = self.dir / "journal.1.jsonl"
        self.compact_at = compact_at
        self.tables: Index = {name: {} for name in TABLES}
        self.meta: dict[str, Any] = {}
        self.upto = 0  # the last batch the snapshot holds
        self.batch = 0  # the last batch applied
        self.journal_bytes = 0
        self.snapshot_bytes = 0
        self.compactions = 0  # finished in this process (for the benchmark and tests)
        self._cut_at: int | None = None  # where a torn last block begins
        self._worker: threading.Thread | None = None
        self._done: tuple[int, int] | Exception | None = None  # (upto, bytes) or the error
        self._retry_at = 0

    # -- loading -------------------------------------------------------------------------

    def load(self) -> None:
        """Read snapshot and journal. Raises CorruptData (or OutdatedFormat).

        A reader can meet a compaction between its reads of the three files: the gap
        in batch numbers says so, and it reads again."""
        for _attempt in range(5):
            before = self._stamps()
            try:
                self._load()
                return
            except _Gap as gap:
                if self._stamps() == before:
                    raise CorruptData(str(gap)) from None
        raise CorruptData("the cache files kept changing while being read")

    def _stamps(self) -> list[tuple[int, int, int] | None]:
        return [_stamp(p) for p in (self.snapshot_path, self.previous_path, self.journal_path)]

    def _load(self) -> None:
        self.tables = {name: {} for name in TABLES}
        self.meta, self.upto, self.batch = {}, 0, 0
        try:
            raw = self.snapshot_path.read_bytes()
        except FileNotFoundError:
            raw = b""
        self.snapshot_bytes = len(raw)
        if raw:
            self._read_snapshot(raw)
        del raw
        self._cut_at = None
        self._replay(self.previous_path)
        self._cut_at = None  # a torn end there is skipped, and never written to again
        self.journal_bytes = self._replay(self.journal_path)

    def _read_snapshot(self, raw: bytes) -> None:
        end = raw.find(b"\n")
        header = _parse_header(raw[:end] if end >= 0 else raw, "snapshot")
        try:
            upto, meta, ids, size, crc = (header["upto"], header["meta"], header["tables"],
                                          header["bytes"], header["crc"])
            if not (isinstance(upto, int) and isinstance(meta, dict) and isinstance(size, int)):
                raise TypeError
            body = memoryview(raw)[end + 1:]  # a view: a copy would cost 70 MB at 50k
            if end < 0 or len(body) != size:
                raise CorruptData(f"snapshot is cut short ({len(body)} of {size} bytes)")
            if zlib.crc32(body) != crc:
                raise CorruptData("snapshot does not match its checksum")
            body.release()
            self._index(_lines(raw, end + 1), ids, "snapshot")
        except (KeyError, TypeError, AttributeError, ValueError):
            raise CorruptData("snapshot header is not a cache header") from None
        self.meta, self.upto, self.batch = dict(meta), upto, upto

    def _index(self, lines: Sequence[Raw], ids: dict[str, list[int]], what: str) -> None:
        """Records (one per line, then the empty rest after the last newline) under
        the ids listed, table by table."""
        if lines[-1]:
            raise CorruptData(f"{what} does not end a line")
        at = 0
        for name, keys in ids.items():
            table = self.tables.setdefault(name, {})
            table.update(zip(keys, lines[at:at + len(keys)], strict=True))
            at += len(keys)
        if at != len(lines) - 1:
            raise CorruptData(f"{what} holds {len(lines) - 1} records for {at} ids")

    def _replay(self, path: Path) -> int:
        """Apply a journal's batches after `self.batch`; its size."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return 0
        if not raw:
            return 0
        end = raw.find(b"\n")
        if end < 0:
            raise CorruptData("journal header is cut short")
        _parse_header(raw[:end], "journal")
        pos = end + 1
        while pos < len(raw):
            end = raw.find(b"\n", pos)
            if end < 0:  # a block header cut short: the last append never finished
                self._cut_at = pos
                break
            try:
                block = orjson.loads(raw[pos:end])
                number, ids, size, crc = (block["b"], block["tables"], block["bytes"],
                                          block["crc"])
                if not (isinstance(number, int) and isinstance(size, int)):
                    raise TypeError
            except (orjson.JSONDecodeError, KeyError, TypeError):
                raise CorruptData(f"journal block at byte {pos} is not a batch") from None
            stop = end + 1 + size
            body = raw[end + 1:stop]
            if stop > len(raw) or zlib.crc32(body) != crc:
                if stop >= len(raw):  # the last block, cut short: that batch never happened
                    self._cut_at = pos
                    break
                raise CorruptData(f"journal block {number} does not match its checksum")
            if number > self.upto:  # older ones are in the snapshot already
                if number != self.batch + 1:
                    raise _Gap(f"journal jumps from batch {self.batch} to {number}")
                try:
                    self._index(body.split(b"\n"), ids, f"journal block {number}")
                    self._forget(block.get("delete", {}))
                    self.meta.update(block.get("meta", {}))
                except (AttributeError, TypeError, ValueError):
                    raise CorruptData(f"journal block {number} is not a batch") from None
                self.batch = number
            pos = stop
        return len(raw)

    def _forget(self, deleted: dict[str, list[int]]) -> None:
        for name, keys in deleted.items():
            table = self.tables.get(name, {})
            for key in keys:
                table.pop(int(key), None)

    # -- TinyDB's interface --------------------------------------------------------------

    def read(self) -> dict[str, dict[str, Any]] | None:
        """The whole cache in TinyDB's layout, every record parsed: for TinyDB queries
        and tools. The cache's own reads never call it (they parse what they use)."""
        data: dict[str, dict[str, Any]] = {
            name: {str(k): orjson.loads(v) for k, v in table.items()}
            for name, table in self.tables.items()}
        data["_meta"] = dict(self.meta)
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """A full rewrite (TinyDB's own writes): a new snapshot, synchronously."""
        self.wait()
        self.tables = {name: {int(k): orjson.dumps(v) for k, v in table.items()}
                       for name, table in data.items() if name != "_meta"}
        self.meta = dict(data.get("_meta", {}))
        self.batch += 1  # a batch of its own, so journal blocks before it are skipped
        self._installed(self.batch, self._write_snapshot(self._frozen(), dict(self.meta),
                                                         self.batch))

    def close(self) -> None:
        self.wait()

    # -- the fast path -------------------------------------------------------------------

    def append(self, batch: dict[str, Any]) -> None:
        """Apply one batch in memory and journal it with a single durable append.

        `batch` is {"tables": {name: [docs]}, "delete": {name: [ids]}, "meta": {…}}."""
        self._finish()
        ids: dict[str, list[int]] = {}
        lines: list[bytes] = []
        for name, docs in batch.get("tables", {}).items():
            ids[name] = [int(doc["id"]) for doc in docs]
            lines += [orjson.dumps(doc) for doc in docs]
        body = b"\n".join(lines) + b"\n" if lines else b""
        number = self.batch + 1
        head: dict[str, Any] = {"b": number, "tables": ids}
        if batch.get("delete"):
            head["delete"] = batch["delete"]
        if batch.get("meta"):
            head["meta"] = batch["meta"]
        head.update(bytes=len(body), crc=zlib.crc32(body))
        block = orjson.dumps(head) + b"\n" + body

        if self.journal_bytes == 0:
            write_atomic(self.journal_path, JOURNAL_HEADER)
            self.journal_bytes = len(JOURNAL_HEADER)
        if self._cut_at is not None:
            truncate(self.journal_path, self._cut_at)
            self.journal_bytes, self._cut_at = self._cut_at, None
        append_durable(self.journal_path, block)
        self.journal_bytes += len(block)
        for name, keys in ids.items():
            self.tables.setdefault(name, {}).update(zip(keys, lines[:len(keys)], strict=True))
            lines = lines[len(keys):]
        self._forget(batch.get("delete", {}))
        self.meta.update(batch.get("meta", {}))
        self.batch = number
        if self._due():
            self.compact(wait=False)

    def _due(self) -> bool:
        return (self._worker is None and self.journal_bytes > self._retry_at
                and self.journal_bytes > max(self.compact_at, self.snapshot_bytes // 2))

    def compact(self, *, wait: bool = True) -> None:
        """Fold the journal into a new snapshot, in a background thread; with `wait`,
        wait for it and finish (tests, the benchmark, and `close`)."""
        if self._worker is None and self.batch > self.upto:
            frozen, meta, upto = self._frozen(), dict(self.meta), self.batch
            if not self.previous_path.exists():  # (else a failed compaction left it)
                self._rotate()
            self._worker = threading.Thread(target=self._compact, args=(frozen, meta, upto),
                                            name="csq-cache-compaction", daemon=True)
            self._worker.start()
        if wait:
            self.wait()

    def wait(self) -> None:
        if self._worker is not None:
            self._worker.join()
        self._finish()

    def _rotate(self) -> None:
        """The journal so far becomes journal.1 (the compaction's to delete); appends
        go to a new one. Two renames' worth of work, on the caller's thread."""
        if self.journal_bytes == 0:
            return
        try:
            os.replace(self.journal_path, self.previous_path)
        except OSError as exc:
            raise StoreUnwritable(self.journal_path, exc.strerror or str(exc)) from None
        write_atomic(self.journal_path, JOURNAL_HEADER)  # fsyncs the directory too
        self.journal_bytes, self._cut_at = len(JOURNAL_HEADER), None

    def _frozen(self) -> Index:
        return {name: dict(table) for name, table in self.tables.items()}

    def _compact(self, frozen: Index, meta: dict[str, Any], upto: int) -> None:
        try:
            self._done = (upto, self._write_snapshot(frozen, meta, upto))
        except Exception as exc:  # reported by _finish; the journal still has it all
            self._done = exc

    def _write_snapshot(self, frozen: Index, meta: dict[str, Any], upto: int) -> int:
        """Write snapshot.json for `frozen` (temp file, fsync, rename): its size."""
        records = [line for table in frozen.values() for line in table.values()]
        crc, size = 0, 0
        for at in range(0, len(records), CHUNK):  # two passes: the CRC goes first
            chunk = b"\n".join(records[at:at + CHUNK]) + b"\n"
            crc, size = zlib.crc32(chunk, crc), size + len(chunk)
        header = _header(upto=upto, meta=meta, bytes=size, crc=crc,
                         tables={name: list(table) for name, table in frozen.items()})
        tmp = self.dir / f".snapshot.json.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            _write(fd, header)
            for at in range(0, len(records), CHUNK):
                _write(fd, b"\n".join(records[at:at + CHUNK]) + b"\n")
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(fd)
        os.replace(tmp, self.snapshot_path)
        fsync_dir(self.dir)
        # Everything in journal.1 is older than `upto` (it was rotated out before the
        # freeze, or by an earlier compaction that failed): all folded in now.
        with contextlib.suppress(FileNotFoundError):
            self.previous_path.unlink()
            fsync_dir(self.dir)
        return len(header) + size

    def _finish(self) -> None:
        """After a compaction: cut the journal down to the batches the snapshot lacks."""
        if self._worker is None or self._worker.is_alive():
            return
        self._worker, done, self._done = None, self._done, None
        if isinstance(done, Exception) or done is None:
            log.warning("cache compaction failed (the journal keeps everything): %s", done)
            self._retry_at = self.journal_bytes + max(self.compact_at, 1024 * 1024)
            return
        self._installed(*done)

    def _installed(self, upto: int, size: int) -> None:
        self.upto, self.snapshot_bytes = upto, size
        self.compactions += 1
        self._retry_at = 0

    def reset(self, *, on_disk: bool = True) -> None:
        """Start empty; with `on_disk`, delete the files too."""
        self.wait()
        self.tables = {name: {} for name in TABLES}
        self.meta, self.upto, self.batch = {}, 0, 0
        if on_disk:
            for path in (self.snapshot_path, self.previous_path, self.journal_path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self.journal_bytes = self.snapshot_bytes = 0
        self._cut_at = None

    def sweep(self) -> None:
        """Remove temp files left by a writer killed mid-compaction (writer only)."""
        for stale in self.dir.glob(".snapshot.json.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()


class _Gap(Exception):
    pass


def _lines(raw: bytes, start: int) -> list[Raw]:
    """`raw[start:].split(b"\n")` as views of `raw`, not copies: the snapshot's
    records stay in the one buffer read from disk. Copying them out doubled the
    memory of an open and took 0.1-0.3 s of a 50,000-item start."""
    view, find = memoryview(raw), raw.find
    out: list[Raw] = []
    while (end := find(b"\n", start)) >= 0:
        out.append(view[start:end])
        start = end + 1
    out.append(view[start:])
    return out


def _parse_header(line: bytes, what: str) -> dict[str, Any]:
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise CorruptData(f"{what} is not a csq cache file") from None
    if not isinstance(header, dict):
        raise CorruptData(f"{what} is not a csq cache file")
    if header.get("format") != FORMAT:
        if "generation" in header or "_meta" in header or "items" in header:
            raise OutdatedFormat(f"{what} is in the format of an earlier csq")
        raise CorruptData(f"{what} is not a csq cache file")
    if header.get("version") != VERSION:
        raise OutdatedFormat(f"{what} is in cache format {header.get('version')!r}, "
                             f"this csq reads {VERSION}")
    return header


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
