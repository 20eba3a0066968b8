"""The sync engine: keeps the cache up to date and the outbox draining.

    pull the changes feed until end_of_stream  ->  follow the SSE stream
    (reconnecting with backoff and jitter, resuming from the stored cursor)
    and, whenever connected and something is pending, flush the outbox.

It knows nothing of screens: the app subscribes to its events (`Changed`,
`StatusChanged`, `PresenceSeen`, `OpsSettled`) and turns them into Textual
messages. Everything takes an injected httpx.AsyncClient.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from httpx_sse import aconnect_sse

from csq.api import LiveMetrics, PresenceEvent
from csq.api.lead import AcknowledgeRequest, HandoverRequest
from csq.domain.actions import parse_action
from csq.domain.engine import Actor, Context, apply_action, new_item
from csq.domain.errors import Forbidden
from csq.domain.handover import Handover, check_acknowledge
from csq.domain.records import Customer, Item
from csq.domain.roles import may
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy
from csq.store.cache import Cache
from csq.store.outbox import Op, Outbox
from csq.store.paths import Profile
from csq.sync.backoff import Backoff
from csq.sync.client import ApiClient
from csq.sync.drafts import NEW_CUSTOMER, parse_new_item, provisional_customer
from csq.sync.errors import BadResponse, SyncError, Unauthorized, Unreachable
from csq.sync.overlay import overlay, pending_customers
from csq.sync.sender import FlushReport, Sender
from csq.sync.status import SyncStatus

log = logging.getLogger("csq.sync")
PRESENCE_EVERY = 20.0


@dataclass(frozen=True)
class Changed:
    item_ids: frozenset[int]
    customer_ids: frozenset[int]


@dataclass(frozen=True)
class StatusChanged:
    status: SyncStatus


@dataclass(frozen=True)
class PresenceSeen:
    event: PresenceEvent


@dataclass(frozen=True)
class OpsSettled:
    report: FlushReport


@dataclass(frozen=True)
class MetricsSeen:
    metrics: LiveMetrics


SyncEvent = Changed | StatusChanged | PresenceSeen | OpsSettled | MetricsSeen
Listener = Callable[[SyncEvent], None]


class SyncEngine:
    def __init__(self, profile: Profile, http: httpx.AsyncClient, actor: Actor, *,
                 policy: SlaPolicy = DEFAULT_POLICY, cache: Cache | None = None,
                 stream_read_timeout: float = 45.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.profile = profile.ensure()
        # The rules run on the app's clock: the one its forms validated against.
        self.clock = clock or (lambda: datetime.now(UTC))
        self.http = http
        self.api = ApiClient(http)
        self.actor = actor
        self.policy = policy
        self.cache = cache if cache is not None else Cache(profile.cache_dir)
        self.outbox = Outbox(profile.outbox_path)
        self.sender = Sender(self.outbox, self.api, self.cache, profile.root / "sender.lock")
        self.status = SyncStatus()
        self.listeners: list[Listener] = []
        self.presence: dict[tuple[str, int], PresenceEvent] = {}
        self.stream_read_timeout = stream_read_timeout
        self._kick = asyncio.Event()
        self._viewing: tuple[int, str] | None = None
        self._outbox_mtime = 0.0
        self.metrics: LiveMetrics | None = None
        self.want_metrics = False  # the wall turns this on
        self._metrics_at = 0.0

    # -- events --------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def _emit(self, event: SyncEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop sync
                log.exception("sync listener failed")

    def _set_status(self, **changes: Any) -> None:
        new = self.status.with_(**changes)
        if new != self.status:
            self.status = new
            self._emit(StatusChanged(new))

    def refresh_counts(self) -> list[Op]:
        ops = self.outbox.all()
        self._set_status(pending=sum(o.state == "pending" for o in ops),
                         conflicts=sum(o.state == "conflict" for o in ops),
                         failed=sum(o.state == "failed" for o in ops))
        return ops

    # -- the local view --------------------------------------------------------------------

    def view_overrides(self, ops: list[Op] | None = None) -> dict[int, Item]:
        snap = self.cache.snapshot()
        return overlay(snap.items, snap.customers, ops if ops is not None else self.outbox.all(),
                       self.actor, self.clock(), self.policy)

    def pending_customers(self, ops: list[Op] | None = None) -> dict[int, Customer]:
        """New customers that queued new items will create, by provisional id."""
        return pending_customers(ops if ops is not None else self.outbox.all())

    def local_item(self, item_id: int) -> Item | None:
        """One item as the user should see it, pending ops included."""
        ops = [o for o in self.outbox.all() if o.item_id == item_id]
        if ops:
            override = self.view_overrides(ops).get(item_id)
            if override is not None:
                return override
        raw = self.cache.item(item_id)
        return Item.model_validate(raw) if raw else None

    # -- intents ---------------------------------------------------------------------------

    def submit(self, item_id: int, payload: dict[str, Any]) -> Op:
        """Queue an action durably. Raises DomainError (the rules say no) or
        ValidationError (bad payload) before anything is written."""
        action = parse_action(payload)
        item = self.local_item(item_id)
        if item is not None:
            customer = self.cache.customer(item.customer_id)
            apply_action(item, action, Context(
                actor=self.actor, now=self.clock(), policy=self.policy,
                customer=Customer.model_validate(customer) if customer else None))
        raw = self.cache.item(item_id)
        base = int(raw["version"]) if raw else None
        op = self.outbox.append(Op.new("action", action.model_dump(mode="json"),
                                       item_id=item_id, base_version=base))
        self._after_submit({item_id})
        return op

    def submit_new_item(self, payload: dict[str, Any]) -> Op:
        """Queue a new item, and with it the new customer it may carry (see
        sync.drafts). Raises like `submit` before anything is written."""
        new = parse_new_item(payload)
        now = self.clock()
        if new.customer is not None:
            customer: Customer | None = provisional_customer(new.customer, -1, now)
        else:
            raw = self.cache.customer(new.draft.customer_id)
            customer = Customer.model_validate(raw) if raw else None
        new_item(new.draft, Context(actor=self.actor, now=now, policy=self.policy,
                                    customer=customer), 0)
        body = new.draft.model_dump(mode="json")
        if new.customer is not None:  # the server numbers the customer when it is sent
            del body["customer_id"]
            body[NEW_CUSTOMER] = new.customer.model_dump(mode="json")
        op = self.outbox.append(Op.new("create_item", body))
        self._after_submit(set())
        return op

    def submit_handover(self, payload: dict[str, Any]) -> Op:
        """Queue a shift handover (值班交接). The server computes its item list
        when it arrives, so a handover written offline lists what is open then."""
        body = HandoverRequest.model_validate(payload)
        if not may(self.actor.role, "handover"):
            raise Forbidden(f"a {self.actor.role} does not hand over a shift")
        op = self.outbox.append(Op.new("handover", body.model_dump(mode="json",
                                                                   exclude_none=True)))
        self._after_submit(set())
        return op

    def submit_acknowledge(self, handover: Handover, note: str = "") -> Op:
        """Queue taking a handover over; refused here when the rules would refuse it."""
        check_acknowledge(handover, self.actor.username, self.actor.role)
        body = AcknowledgeRequest(note=note)
        op = self.outbox.append(Op.new("acknowledge_handover",
                                       {"handover_id": handover.id, "note": body.note}))
        self._after_submit(set())
        return op

    def _after_submit(self, item_ids: set[int]) -> None:
        self.refresh_counts()
        self._emit(Changed(frozenset(item_ids), frozenset()))
        self._kick.set()

    def reapply(self, op_id: str) -> Op | None:
        op = self.outbox.reapply(op_id)
        self._after_submit({op.item_id} if op and op.item_id else set())
        return op

    def discard(self, op_id: str) -> Op | None:
        op = self.outbox.discard(op_id)
        self._after_submit({op.item_id} if op and op.item_id else set())
        return op

    # -- talking to the server -------------------------------------------------------------

    async def pull(self) -> int:
        """Read the changes feed to its end, one cache write per page."""
        count = 0
        self._set_status(connection="syncing")
        while True:
            page = await self.api.changes(self.cache.cursor)
            items = [i.model_dump(mode="json") for i in page.items]
            customers = [c.model_dump(mode="json") for c in page.customers]
            self.cache.apply(items, customers, page.next)
            count += len(items) + len(customers)
            if items or customers:
                self._emit(Changed(frozenset(i["id"] for i in items),
                                   frozenset(c["id"] for c in customers)))
            if page.end_of_stream:
                break
        self._set_status(synced_at=datetime.now(UTC))
        return count

    async def flush(self) -> FlushReport:
        report = await self.sender.flush()
        if report.sent or report.conflicts or report.failed:
            changed = {op.item_id for op in report.sent + report.conflicts + report.failed
                       if op.item_id is not None}
            changed |= {int(r["id"]) for r in report.results.values() if "id" in r}
            self._emit(OpsSettled(report))
            self._emit(Changed(frozenset(changed), frozenset()))
        self.refresh_counts()
        return report

    async def sync_once(self) -> FlushReport:
        """Pull, send, pull again: what `csq sync` does."""
        await self.pull()
        report = await self.flush()
        if report.sent:
            await self.pull()
        return report

    async def run(self) -> None:
        """Forever: sync, then follow the stream; on failure back off and retry."""
        backoff = Backoff()
        flusher = asyncio.create_task(self._flush_loop())
        presence = asyncio.create_task(self._presence_loop())
        metrics = asyncio.create_task(self._metrics_loop())
        try:
            while True:
                try:
                    await self.pull()
                    await self.flush()
                    backoff.reset()
                    await self._follow()
                except Unauthorized as exc:
                    self._set_status(connection="offline", error=str(exc))
                    await asyncio.sleep(30)
                except (Unreachable, BadResponse, httpx.HTTPError) as exc:
                    self._set_status(connection="offline", error=str(exc))
                    await asyncio.sleep(backoff.next_delay())
        finally:
            for task in (flusher, presence, metrics):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _follow(self) -> None:
        timeout = httpx.Timeout(10.0, read=self.stream_read_timeout)
        headers = {"Last-Event-ID": str(self.cache.cursor), "Accept": "text/event-stream"}
        try:
            async with aconnect_sse(self.http, "GET", "/v1/events", headers=headers,
                                    timeout=timeout) as source:
                response = source.response
                if response.status_code == 401:
                    raise Unauthorized("stream")
                if response.status_code != 200 or "event-stream" not in \
                        response.headers.get("content-type", ""):
                    raise BadResponse(f"the event stream answered HTTP {response.status_code}")
                self._set_status(connection="live", error=None, synced_at=datetime.now(UTC))
                self._kick.set()  # a reconnect is the moment to send what piled up
                async for event in source.aiter_sse():
                    self._on_event(event.event, event.data)
        except httpx.TransportError as exc:
            raise Unreachable(f"stream lost: {exc.__class__.__name__}") from None
        raise Unreachable("the server closed the stream")

    def _on_event(self, name: str, data: str) -> None:
        if name == "change":
            batch = orjson.loads(data)
            items, customers = batch.get("items", []), batch.get("customers", [])
            self.cache.apply(items, customers, int(batch["seq"]))
            self._set_status(synced_at=datetime.now(UTC))
            self._emit(Changed(frozenset(i["id"] for i in items),
                               frozenset(c["id"] for c in customers)))
        elif name == "metrics":
            self._take_metrics(LiveMetrics.model_validate_json(data))
        elif name == "presence":
            event = PresenceEvent.model_validate_json(data)
            key = (event.user, event.item_id)
            if event.state == "idle":
                self.presence.pop(key, None)
            else:
                self.presence[key] = event
            self._emit(PresenceSeen(event))

    async def _flush_loop(self) -> None:
        backoff = Backoff(base=1.0, cap=30.0)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=1.0)
            self._kick.clear()
            if self._outbox_changed():
                self.refresh_counts()
                self._emit(Changed(frozenset(), frozenset()))
            if not self.status.pending or self.status.connection != "live":
                continue
            try:
                await self.flush()
                backoff.reset()
            except SyncError as exc:
                self._set_status(error=str(exc))
                await asyncio.sleep(backoff.next_delay())

    def _outbox_changed(self) -> bool:
        """`csq do` in another terminal appends to the same outbox: notice it."""
        try:
            mtime = self.outbox.path.stat().st_mtime
        except FileNotFoundError:
            return False
        changed = mtime != self._outbox_mtime
        self._outbox_mtime = mtime
        return changed

    # -- the wall's figures -------------------------------------------------------------

    def _take_metrics(self, metrics: LiveMetrics) -> None:
        self.metrics = metrics
        self._metrics_at = asyncio.get_running_loop().time()
        self._emit(MetricsSeen(metrics))

    async def _metrics_loop(self) -> None:
        """Figures come pushed on the stream; this only fills the gaps (first
        paint, a server that pushes none, a quiet minute)."""
        while True:
            loop = asyncio.get_running_loop()
            if self.want_metrics and self.status.connection == "live" \
                    and loop.time() - self._metrics_at > 5.0:
                with contextlib.suppress(SyncError, httpx.HTTPError, ValueError):
                    self._take_metrics(LiveMetrics.model_validate(await self.api.metrics()))
            await asyncio.sleep(1.0)

    # -- presence ----------------------------------------------------------------------

    def set_presence(self, item_id: int | None, state: str = "viewing") -> None:
        previous = self._viewing
        self._viewing = (item_id, state) if item_id is not None else None
        if previous and (previous[0] != item_id):
            asyncio.get_running_loop().create_task(self._send_presence(previous[0], "idle"))
        if self._viewing and self._viewing != previous:
            asyncio.get_running_loop().create_task(self._send_presence(*self._viewing))

    async def _send_presence(self, item_id: int, state: str) -> None:
        if item_id <= 0 or self.status.connection != "live":
            return
        with contextlib.suppress(SyncError, httpx.HTTPError):
            await self.api.presence(item_id, state)

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_EVERY)
            if self._viewing:
                await self._send_presence(*self._viewing)
            now = datetime.now(UTC)
            for key in [k for k, e in self.presence.items() if e.expires_at <= now]:
                del self.presence[key]

