"""The outbox: every action the user took that the server has not yet confirmed.

Small and durable. A TinyDB database whose storage writes atomically (temp
file, fsync, rename), guarded by a file lock so that the app and `csq do` in
another terminal can append at the same time. Each change re-reads the
file under the lock, so no process works from a stale copy; a plain read
needs no lock, since every write renames a whole new file into place (and so
reading works in a read-only data directory too). An op leaves the
outbox only after the server has answered it; an op the server refused as
stale stays as a conflict until the agent re-applies or discards it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, ValidationError
from tinydb import TinyDB
from tinydb.storages import Storage

from csq.store.errors import OutboxCorrupt, StoreError, StoreUnwritable
from csq.store.files import FILE_MODE, ensure_dir, write_atomic

OpKind = Literal["action", "create_item", "create_customer"]
OpState = Literal["pending", "conflict", "failed"]


class Op(BaseModel):
    """One queued action. `op_id` is its Idempotency-Key, for ever."""

    model_config = ConfigDict(extra="ignore")

    op_id: str
    kind: OpKind = "action"
    item_id: int | None = None
    payload: dict[str, Any]
    base_version: int | None = None  # the server version the user's view was built on
    created_at: datetime
    state: OpState = "pending"
    attempts: int = 0
    error: str | None = None
    error_type: str | None = None
    server_item: dict[str, Any] | None = None  # the server's version, for a conflict
    order: int = 0  # position in the outbox (TinyDB's doc id)

    @property
    def verb(self) -> str:
        return str(self.payload.get("action", self.kind))

    @classmethod
    def new(cls, kind: OpKind, payload: dict[str, Any], *, item_id: int | None = None,
            base_version: int | None = None) -> Op:
        return cls(op_id=str(uuid.uuid4()), kind=kind, item_id=item_id, payload=payload,
                   base_version=base_version, created_at=datetime.now(UTC))


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file behind."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise OutboxCorrupt(self.path, exc.strerror or str(exc)) from None
        if not raw.strip():
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise OutboxCorrupt(self.path, f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not all(_is_table(t) for t in data.values()):
            raise OutboxCorrupt(self.path, "not an outbox (expected tables of numbered records)")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        write_atomic(self.path, orjson.dumps(data))

    def close(self) -> None:
        pass


def _is_table(table: object) -> bool:
    """TinyDB's layout: {"1": {record}, "2": {record}, …}."""
    return isinstance(table, dict) and all(
        isinstance(doc, dict) and key.isascii() and key.isdigit() for key, doc in table.items())


class Outbox:
    def __init__(self, path: Path, lock_timeout: float = 10.0) -> None:
        self.path = path
        self.lock = FileLock(str(path.with_suffix(".lock")), timeout=lock_timeout,
                             mode=FILE_MODE)

    @contextmanager
    def _table(self) -> Iterator[Any]:
        ensure_dir(self.path.parent)
        try:
            self.lock.acquire()
        except Timeout:
            raise StoreError(f"the outbox {self.path} is locked by another csq that does not "
                             "let go; is one stuck? Try again, or end it.") from None
        except OSError as exc:  # the lock file cannot be opened: a read-only directory
            raise StoreUnwritable(Path(self.lock.lock_file), exc.strerror or str(exc)) from None
        try:
            db = TinyDB(str(self.path), storage=AtomicJSONStorage)
            try:
                yield db.table("ops", cache_size=0)
            finally:
                db.close()
        finally:
            self.lock.release()

    def check(self) -> None:
        """Raise OutboxCorrupt now rather than at the first action."""
        self.all()

    def _ops(self, table: Any) -> list[Op]:
        ops = []
        for doc in table.all():
            try:
                ops.append(Op.model_validate({**doc, "order": doc.doc_id}))
            except ValidationError as exc:
                raise OutboxCorrupt(self.path, f"record {doc.doc_id}: "
                                    f"{exc.errors()[0]['msg']}") from None
        return sorted(ops, key=lambda op: op.order)

    def append(self, op: Op) -> Op:
        """Durable once this returns: the file is fsync'd and renamed into place."""
        with self._table() as table:
            doc_id = table.insert(op.model_dump(mode="json", exclude={"order"}))
        return op.model_copy(update={"order": doc_id})

    def all(self) -> list[Op]:
        db = TinyDB(str(self.path), storage=AtomicJSONStorage)
        try:
            return self._ops(db.table("ops", cache_size=0))
        finally:
            db.close()

    def get(self, op_id: str) -> Op | None:
        return next((op for op in self.all() if op.op_id == op_id), None)

    def update(self, op_id: str, **fields: Any) -> None:
        with self._table() as table:
            for op in self._ops(table):
                if op.op_id == op_id:
                    new = op.model_copy(update=fields).model_dump(mode="json", exclude={"order"})
                    table.update(new, doc_ids=[op.order])
                    return

    def remove(self, op_id: str) -> None:
        with self._table() as table:
            ids = [op.order for op in self._ops(table) if op.op_id == op_id]
            if ids:
                table.remove(doc_ids=ids)

    def acknowledged(self, op: Op, old_version: int | None, new_version: int | None) -> None:
        """The server applied `op`: move later ops of the same item that were built
        on the view it changed onto the version it produced, then drop it.

        Two writes, in this order so that a crash between them is harmless: the op
        is still here, is sent again and replayed, and the rebase is not repeated
        (those ops are no longer on `old_version`). The other order would leave
        them on a version the server has left behind: a conflict with oneself."""
        with self._table() as table:
            ops = self._ops(table)
            if op.item_id is not None and old_version is not None \
                    and new_version not in (None, old_version):
                later = [o.order for o in ops if o.order > op.order
                         and o.item_id == op.item_id and o.base_version == old_version]
                if later:  # one rewrite of the file, not one per op
                    table.update({"base_version": new_version}, doc_ids=later)
            table.remove(doc_ids=[o.order for o in ops if o.op_id == op.op_id])

    def reapply(self, op_id: str) -> Op | None:
        """Send a conflicted op again on top of the server's current version (the
        ops waiting behind it first, so a crash in between leaves it a conflict)."""
        with self._table() as table:
            ops = self._ops(table)
            for op in ops:
                if op.op_id == op_id and op.state in ("conflict", "failed"):
                    version = (op.server_item or {}).get("version", op.base_version)
                    later = [o.order for o in ops if o.order > op.order
                             and o.item_id == op.item_id and o.state == "pending"]
                    if later:
                        table.update({"base_version": version}, doc_ids=later)
                    fresh = {"op_id": str(uuid.uuid4()), "state": "pending", "error": None,
                             "error_type": None, "server_item": None, "attempts": 0,
                             "base_version": version}
                    table.update(fresh, doc_ids=[op.order])
                    return op.model_copy(update=fresh)
        return None

    def discard(self, op_id: str) -> Op | None:
        with self._table() as table:
            for op in self._ops(table):
                if op.op_id == op_id:
                    table.remove(doc_ids=[op.order])
                    return op
        return None
