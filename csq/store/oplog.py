"""The outbox's file: an append-only log of JSON lines, with TinyDB's layout
as its meaning.

    {"format":"csq-outbox","version":2,"n":K,"id":"…"}     the header
    {"n":12,"add":{record}}                                  record 12 is queued
    {"n":13,"set":{"12":{"state":"conflict",…}}}             fields of record 12 change
    {"n":14,"set":{"12":{"base_version":6}},"del":[9]}       several changes, all or none

Every line is numbered; an added record is known by its line's number, which
is its place in the outbox. A line counts once its newline is on disk: a last
line without one was cut short by a crash (its writer never returned, so
nobody was told it was done) and is ignored, then cut off by the next writer.
Appending reads only the header and the last line, so its cost does not grow
with the number of records. When most of the file is history, a writer folds
it (`compact`): the live records as `add` lines under their own numbers, into
a new file renamed into place; the header's `n` carries the numbering on.

Read as a TinyDB storage, the file is `{"ops": {"12": {record}, …}}`, which is
also the layout of the previous release's outbox (a plain TinyDB file): such a
file is read as it is and rewritten in this format by the first writer.

Nothing here takes the lock: the outbox does, around every write.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

from csq.store.errors import OutboxCorrupt, StoreUnwritable
from csq.store.files import append_durable, truncate, write_atomic

FORMAT = "csq-outbox"
VERSION = 2
TABLE = "ops"
TAIL_CHUNK = 8192

Docs = dict[int, dict[str, Any]]


def _header(n: int) -> bytes:
    return orjson.dumps({"format": FORMAT, "version": VERSION, "n": n,
                         "id": uuid.uuid4().hex}) + b"\n"


class OpLog(Storage):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # What this process has read so far: the file (its header line), how far
        # into it, and the records as of there. Appends by others are read from there.
        self._head = b""
        self._offset = 0
        self._lines = 0
        self._last_n = 0
        self._docs: Docs = {}
        self._legacy = False

    # -- reading -----------------------------------------------------------------------

    def _corrupt(self, reason: str) -> OutboxCorrupt:
        return OutboxCorrupt(self.path, reason)

    def read_docs(self) -> Docs:
        """The records by number, reading only what was appended since last time."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._reset()
            return self._docs
        except OSError as exc:
            raise self._corrupt(exc.strerror or str(exc)) from None
        try:
            size = os.fstat(fd).st_size
            head = os.pread(fd, len(self._head), 0) if self._head else b""
            if not self._head or head != self._head or size < self._offset:
                self._reset()
                raw = self._read_all(fd, size)
                self._parse_start(raw)
            elif size > self._offset:
                raw = os.pread(fd, size - self._offset, self._offset)
                self._parse_lines(raw, self._offset)
        except OSError as exc:
            self._reset()
            raise self._corrupt(exc.strerror or str(exc)) from None
        except OutboxCorrupt:
            self._reset()  # half-read: the next read starts over (and fails the same way)
            raise
        finally:
            os.close(fd)
        return self._docs

    def _reset(self) -> None:
        self._head, self._offset, self._lines, self._last_n = b"", 0, 0, 0
        self._docs, self._legacy = {}, False

    @staticmethod
    def _read_all(fd: int, size: int) -> bytes:
        chunks: list[bytes] = []
        at = 0
        while True:
            chunk = os.pread(fd, max(size - at, 65536), at)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            at += len(chunk)

    def _parse_start(self, raw: bytes) -> None:
        if not raw.strip():
            return  # an empty file: nothing queued
        end = raw.find(b"\n")
        first = raw[:end] if end >= 0 else raw
        try:
            header = orjson.loads(first)
        except orjson.JSONDecodeError:
            header = None
        if isinstance(header, dict) and header.get("format") == FORMAT:
            if end < 0:
                raise self._corrupt("its header line is cut short")
            if header.get("version") != VERSION or not isinstance(header.get("n"), int):
                raise self._corrupt(f"written in outbox format {header.get('version')!r} "
                                    f"by another version of csq (this one reads {VERSION})")
            self._head, self._last_n, self._lines = raw[:end + 1], header["n"], 1
            self._offset = end + 1
            self._parse_lines(raw[end + 1:], end + 1)
            return
        self._read_legacy(raw)

    def _read_legacy(self, raw: bytes) -> None:
        """The previous release's outbox: one TinyDB document."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise self._corrupt(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not all(_is_table(t) for t in data.values()):
            raise self._corrupt("not an outbox (expected tables of numbered records)")
        self._docs = {int(k): v for k, v in data.get(TABLE, {}).items()}
        self._last_n = max(self._docs, default=0)
        self._legacy = True
        # No header to recognise the file by: every read parses it again (until a
        # writer rewrites it in this format, at its first change).

    def _parse_lines(self, raw: bytes, at: int) -> None:
        lines = raw.split(b"\n")
        # The last piece has no newline: empty, or a line still being written (or
        # cut short by a crash). Either way it does not count yet.
        for line in lines[:-1]:
            self._lines += 1
            self._apply(line)
            at += len(line) + 1
        self._offset = at

    def _apply(self, line: bytes) -> None:
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise self._corrupt(f"line {self._lines} is not JSON") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("n"), int):
            raise self._corrupt(f"line {self._lines} is not an outbox entry")
        n = entry["n"]
        docs = self._docs
        try:
            if "add" in entry:
                if not isinstance(entry["add"], dict):
                    raise TypeError
                docs[n] = entry["add"]
            for key, fields in entry.get("set", {}).items():
                order = int(key)
                if order in docs:  # replace, never mutate: the outbox caches by identity
                    docs[order] = {**docs[order], **fields}
            for order in entry.get("del", []):
                docs.pop(int(order), None)
        except (AttributeError, TypeError, ValueError):
            raise self._corrupt(f"line {self._lines} is not an outbox entry") from None
        self._last_n = max(self._last_n, n)

    # -- writing (the caller holds the outbox lock) -------------------------------------

    def _tail(self) -> tuple[int, int, bool]:
        """(the highest line number, where the whole lines end, whether the file is in
        this format) from the header and the last whole line alone."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return 0, 0, False
        except OSError as exc:
            raise self._corrupt(exc.strerror or str(exc)) from None
        try:
            size = os.fstat(fd).st_size
            head = os.pread(fd, 4096, 0)
            header_end = head.find(b"\n") + 1
            try:
                header = orjson.loads(head[:header_end]) if header_end else None
            except orjson.JSONDecodeError:
                header = None
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                return 0, size, False  # empty, or the old format, or damage: read it all
            if header.get("version") != VERSION or not isinstance(header.get("n"), int):
                raise self._corrupt(f"written in outbox format {header.get('version')!r} "
                                    f"by another version of csq (this one reads {VERSION})")
            last_n = header["n"]
            chunk = TAIL_CHUNK
            while True:  # widen the window until it holds the last whole line
                start = max(header_end, size - chunk)
                tail = os.pread(fd, size - start, start)
                end = tail.rfind(b"\n")
                if end < 0 and start == header_end:
                    return last_n, header_end, True  # no whole line after the header
                begin = tail.rfind(b"\n", 0, end) + 1 if end >= 0 else -1
                if end >= 0 and (begin > 0 or start == header_end):
                    entry = self._loads(tail[begin:end], "its last line")
                    if not isinstance(entry.get("n"), int):
                        raise self._corrupt("its last line is not an outbox entry")
                    return max(last_n, entry["n"]), start + end + 1, True
                chunk *= 4
        except OSError as exc:
            raise self._corrupt(exc.strerror or str(exc)) from None
        finally:
            os.close(fd)

    def _loads(self, line: bytes, what: str) -> dict[str, Any]:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise self._corrupt(f"{what} is not JSON") from None
        if not isinstance(value, dict):
            raise self._corrupt(f"{what} is not an outbox entry")
        return value

    def append_line(self, *, add: dict[str, Any] | None = None,
                    changes: dict[int, dict[str, Any]] | None = None,
                    delete: list[int] | None = None) -> int:
        """Append one entry and fsync it; returns its number (an added record's order)."""
        last_n, whole, ours = self._tail()
        if not ours:
            if whole:  # a file in the previous release's format (or damage): read it all
                self.read_docs()  # raises OutboxCorrupt for damage, leaving it be
                if self._legacy:
                    self._rewrite(self._docs, self._last_n)
                    return self.append_line(add=add, changes=changes, delete=delete)
                if self._head or self._docs:  # never start afresh over what is there
                    raise self._corrupt("its header is not one this csq can append to")
            # an empty or missing file: start one (atomically, so never a torn header)
            write_atomic(self.path, _header(0))
            last_n, whole = 0, len(_header(0))
        elif whole < self._size():
            truncate(self.path, whole)  # the remains of an append cut short by a crash
        n = last_n + 1
        entry: dict[str, Any] = {"n": n}
        if add is not None:
            entry["add"] = add
        if changes:
            entry["set"] = {str(k): v for k, v in changes.items()}
        if delete:
            entry["del"] = delete
        append_durable(self.path, orjson.dumps(entry) + b"\n")
        return n

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError as exc:
            raise StoreUnwritable(self.path, exc.strerror or str(exc)) from None

    def compact_if_worth_it(self, *, floor: int = 64 * 1024) -> None:
        """Fold the history away when it is most of the file: at once when nothing is
        left (the usual end of a flush), otherwise when the file is 4× what is live."""
        size = self._size()
        docs = self.read_docs()  # (already read by the caller: only new lines are parsed)
        if not docs:
            if size > 256:  # longer than a header
                self._rewrite(docs, self._last_n)
        elif size > floor and size > 4 * sum(len(orjson.dumps(d)) for d in docs.values()) \
                + floor:
            self._rewrite(docs, self._last_n)

    def _rewrite(self, docs: Docs, last_n: int) -> None:
        lines = [orjson.dumps({"n": order, "add": doc}) + b"\n"
                 for order, doc in sorted(docs.items())]
        write_atomic(self.path, _header(last_n) + b"".join(lines))
        self._reset()

    # -- TinyDB's interface: the same records, as TinyDB lays them out ------------------

    def read(self) -> dict[str, dict[str, Any]] | None:
        docs = self.read_docs()
        return {TABLE: {str(k): v for k, v in docs.items()}}

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """A whole new outbox (TinyDB's own writes, and compaction): atomic."""
        table = data.get(TABLE, {})
        docs = {int(k): v for k, v in table.items()}
        with contextlib.suppress(OutboxCorrupt):
            self.read_docs()
        self._rewrite(docs, max([self._last_n, *docs]))

    def close(self) -> None:
        pass


def _is_table(table: object) -> bool:
    """TinyDB's layout: {"1": {record}, "2": {record}, …}."""
    return isinstance(table, dict) and all(
        isinstance(doc, dict) and key.isascii() and key.isdigit() for key, doc in table.items())
