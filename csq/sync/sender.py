"""Sends the outbox: in order per item, each op once, whatever happens.

Each op's op_id is its Idempotency-Key, so a resend after a lost answer is
replayed by the server, not applied again. Answers:
  2xx  applied: the server's record goes to the cache, the op leaves the outbox
  412  conflict: kept with the server's version; later ops on that item wait
  4xx  failed: kept with the server's reason; its optimistic effect disappears
  network error: stop here, retry later (the op stays pending)
Only one process sends a profile's outbox at a time (a file lock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from csq.domain.actions import needs_if_match
from csq.store.cache import Cache
from csq.store.files import FILE_MODE
from csq.store.outbox import Op, Outbox
from csq.sync.client import ApiClient
from csq.sync.drafts import NEW_CUSTOMER, customer_key, item_body
from csq.sync.errors import Refused, Stale, Unauthorized


@dataclass
class FlushReport:
    sent: list[Op] = field(default_factory=list)
    conflicts: list[Op] = field(default_factory=list)
    failed: list[Op] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # op_id -> record
    busy: bool = False  # another process is sending


class Sender:
    def __init__(self, outbox: Outbox, api: ApiClient, cache: Cache | None,
                 lock_path: Path) -> None:
        self.outbox = outbox
        self.api = api
        self.cache = cache
        self.lock = FileLock(str(lock_path), mode=FILE_MODE)

    async def flush(self) -> FlushReport:
        """Send what can be sent. Raises Unreachable/BadResponse when the link is down."""
        report = FlushReport()
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            report.busy = True
            return report
        try:
            await self._flush(report)
        finally:
            self.lock.release()
        return report

    async def _flush(self, report: FlushReport) -> None:
        blocked: set[int] = set()
        for op in self.outbox.all():
            if op.item_id is not None and op.item_id in blocked:
                continue
            if op.state == "conflict":
                if op.item_id is not None:
                    blocked.add(op.item_id)
                continue
            if op.state != "pending":
                continue
            current = self.outbox.get(op.op_id)  # another process may have sent it
            if current is None or current.state != "pending":
                continue
            op = current
            try:
                records = await self._send(op)
            except Stale as exc:
                self.outbox.update(op.op_id, state="conflict", error=str(exc),
                                   error_type="stale", server_item=exc.current)
                if exc.current is not None:
                    self._keep([exc.current])
                report.conflicts.append(op)
                if op.item_id is not None:
                    blocked.add(op.item_id)
                continue
            except Unauthorized:
                raise
            except Refused as exc:
                self.outbox.update(op.op_id, state="failed", error=str(exc),
                                   error_type=exc.type)
                report.failed.append(op)
                continue
            report.sent.append(op)
            if records:
                report.results[op.op_id] = records[0]

    async def _send(self, op: Op) -> list[dict[str, Any]]:
        if op.kind == "create_item":
            payload = op.payload
            if NEW_CUSTOMER in payload:  # a caller not on file: create them first
                customer = await self.api.create_customer(payload[NEW_CUSTOMER],
                                                          key=customer_key(op.op_id))
                if self.cache is not None and self.cache.writable:
                    self.cache.apply([], [customer])
                payload = item_body(payload, int(customer["id"]))
            item = await self.api.create_item(payload, key=op.op_id)
            self._keep([item])
            self.outbox.remove(op.op_id)
            return [item]
        if op.kind == "create_customer":
            customer = await self.api.create_customer(op.payload, key=op.op_id)
            if self.cache is not None and self.cache.writable:
                self.cache.apply([], [customer])
            self.outbox.remove(op.op_id)
            return [customer]
        if op.kind == "handover":  # not an item: nothing for the cache, nothing to report
            await self.api.hand_over(op.payload, key=op.op_id)
            self.outbox.remove(op.op_id)
            return []
        if op.kind == "acknowledge_handover":
            await self.api.acknowledge_handover(int(op.payload["handover_id"]),
                                                str(op.payload.get("note", "")), key=op.op_id)
            self.outbox.remove(op.op_id)
            return []
        assert op.item_id is not None
        version = op.base_version if needs_if_match(op.verb) else None
        result = await self.api.act(op.item_id, op.payload, key=op.op_id, version=version)
        records = [result.item.model_dump(mode="json")]
        records += [c.model_dump(mode="json") for c in result.created]
        self._keep(records)
        # Later ops of this item were built on base_version; they may move onto the
        # answer's version only if the server checked If-Match. A note or reply is
        # applied on whatever version is current, so its answer can carry other
        # agents' changes, which those ops must meet as a conflict, not step over.
        self.outbox.acknowledged(op, version, result.item.version)
        return records

    def _keep(self, items: list[dict[str, Any]]) -> None:
        """Write server records to the cache unless it already holds newer ones.
        The cursor does not move: the feed will bring these seqs again, harmlessly."""
        if self.cache is None or not self.cache.writable:
            return
        fresh = []
        for item in items:
            cached = self.cache.item(int(item["id"]))
            if cached is None or int(cached.get("seq", 0)) <= int(item.get("seq", 0)):
                fresh.append(item)
        if fresh:
            self.cache.apply(fresh, [])
