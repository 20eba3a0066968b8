"""The outbox: every action the user took that the server has not yet confirmed.

Small and durable. An append-only log (`oplog.py`): an action is one JSON line
appended and fsync'd under a file lock, so that the app and `csq do` in
another terminal can append at the same time, and an append costs the same
with 1 or 1,000 actions pending. Changes of state (sent, conflict, failed,
re-applied) are lines too; each change is one line, so it happens whole or not
at all. A plain read needs no lock (a line is only counted once its newline is
on disk, and compaction renames a whole new file into place), so reading works
in a read-only data directory too. An op leaves the outbox only after the
server has answered it; an op the server refused as stale stays as a conflict
until the agent re-applies or discards it. This module must never drop an op
it cannot read: it stops with the file's path instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, ValidationError

from csq.store.errors import OutboxCorrupt, StoreError, StoreUnwritable
from csq.store.files import FILE_MODE, ensure_dir
from csq.store.oplog import OpLog

# handover, acknowledge_handover: the lead's work (值班交接), tied to no item.
OpKind = Literal["action", "create_item", "create_customer", "handover", "acknowledge_handover"]
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
    order: int = 0  # position in the outbox: increasing, never reused (gaps allowed)

    @property
    def verb(self) -> str:
        return str(self.payload.get("action", self.kind))

    @classmethod
    def new(cls, kind: OpKind, payload: dict[str, Any], *, item_id: int | None = None,
            base_version: int | None = None) -> Op:
        return cls(op_id=str(uuid.uuid4()), kind=kind, item_id=item_id, payload=payload,
                   base_version=base_version, created_at=datetime.now(UTC))


def _record(op: Op) -> dict[str, Any]:
    return op.model_dump(mode="json", exclude={"order"})


class Outbox:
    def __init__(self, path: Path, lock_timeout: float = 10.0) -> None:
        self.path = path
        self.lock = FileLock(str(path.with_suffix(".lock")), timeout=lock_timeout,
                             mode=FILE_MODE)
        self.log = OpLog(path)
        self._validated: dict[int, tuple[dict[str, Any], Op]] = {}

    @contextmanager
    def _locked(self) -> Iterator[OpLog]:
        ensure_dir(self.path.parent)
        try:
            self.lock.acquire()
        except Timeout:
            raise StoreError(f"the outbox {self.path} is locked by another csq that does not "
                             "let go; is one stuck? Try again, or end it.") from None
        except OSError as exc:  # the lock file cannot be opened: a read-only directory
            raise StoreUnwritable(Path(self.lock.lock_file), exc.strerror or str(exc)) from None
        try:
            yield self.log
        finally:
            self.lock.release()

    def check(self) -> None:
        """Raise OutboxCorrupt now rather than at the first action."""
        self.all()

    def _ops(self) -> list[Op]:
        """Every op, in order, validated once per version of its record."""
        docs = self.log.read_docs()
        ops = []
        known = self._validated
        for order, doc in docs.items():
            seen = known.get(order)
            if seen is not None and seen[0] is doc:
                ops.append(seen[1])
                continue
            try:
                op = Op.model_validate({**doc, "order": order})
            except ValidationError as exc:
                raise OutboxCorrupt(self.path, f"record {order}: "
                                    f"{exc.errors()[0]['msg']}") from None
            known[order] = (doc, op)
            ops.append(op)
        for order in [o for o in known if o not in docs]:
            del known[order]
        return sorted(ops, key=lambda op: op.order)

    def append(self, op: Op) -> Op:
        """Durable once this returns: one line, written and fsync'd. Reads only the
        file's first and last lines, so the cost does not grow with what is pending."""
        with self._locked() as log:
            order = log.append_line(add=_record(op))
        return op.model_copy(update={"order": order})

    def all(self) -> list[Op]:
        """Without the lock: what the last whole line on disk says."""
        return [op.model_copy() for op in self._ops()]

    def get(self, op_id: str) -> Op | None:
        return next((op for op in self.all() if op.op_id == op_id), None)

    def update(self, op_id: str, **fields: Any) -> None:
        with self._locked() as log:
            for op in self._ops():
                if op.op_id == op_id:
                    new = _record(op.model_copy(update=fields))
                    changed = {k: v for k, v in new.items() if k in fields}
                    log.append_line(changes={op.order: changed})
                    return

    def remove(self, op_id: str) -> None:
        with self._locked() as log:
            orders = [op.order for op in self._ops() if op.op_id == op_id]
            if orders:
                log.append_line(delete=orders)
                log.compact_if_worth_it()

    def acknowledged(self, op: Op, old_version: int | None, new_version: int | None) -> None:
        """The server applied `op`: move later ops of the same item that were built
        on the view it changed onto the version it produced, and drop it.

        One line, so both happen or neither: a crash before it leaves the op here,
        to be sent again and replayed by the server (same Idempotency-Key), and
        the later ops on the version that replay will produce."""
        with self._locked() as log:
            ops = self._ops()
            rebase: dict[int, dict[str, Any]] = {}
            if op.item_id is not None and old_version is not None \
                    and new_version not in (None, old_version):
                rebase = {o.order: {"base_version": new_version} for o in ops
                          if o.order > op.order and o.item_id == op.item_id
                          and o.base_version == old_version}
            gone = [o.order for o in ops if o.op_id == op.op_id]
            if rebase or gone:
                log.append_line(changes=rebase, delete=gone)
                log.compact_if_worth_it()

    def reapply(self, op_id: str) -> Op | None:
        """Send a conflicted op again on top of the server's current version, with
        the ops waiting behind it moved onto that version too (in the same line)."""
        with self._locked() as log:
            ops = self._ops()
            for op in ops:
                if op.op_id == op_id and op.state in ("conflict", "failed"):
                    version = (op.server_item or {}).get("version", op.base_version)
                    changes: dict[int, dict[str, Any]] = {
                        o.order: {"base_version": version} for o in ops
                        if o.order > op.order and o.item_id == op.item_id
                        and o.state == "pending"}
                    fresh = {"op_id": str(uuid.uuid4()), "state": "pending", "error": None,
                             "error_type": None, "server_item": None, "attempts": 0,
                             "base_version": version}
                    changes[op.order] = fresh
                    log.append_line(changes=changes)
                    return op.model_copy(update=fresh)
        return None

    def discard(self, op_id: str) -> Op | None:
        with self._locked() as log:
            for op in self._ops():
                if op.op_id == op_id:
                    log.append_line(delete=[op.order])
                    log.compact_if_worth_it()
                    return op
        return None
