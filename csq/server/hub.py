"""Fan-out of changes and presence to every open event stream of this process.

A write calls `advance(seq)` after commit; on PostgreSQL every replica also
hears it through LISTEN/NOTIFY (the notification carries only the seq). Each
stream reads its next batch through `batch()`, which runs one query per
(cursor, head) however many streams wait on it, so 200 streams cost one read,
and encodes the SSE frame once, so they cost one encoding too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from csq.api import ChangesPage, PresenceEvent

log = logging.getLogger("csq.server.hub")
PRESENCE_TTL = timedelta(seconds=30)
PageReader = Callable[[int, int], Awaitable[ChangesPage]]


Pushed = tuple[str, str]  # (SSE event name, JSON data): events that are not in the log


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[Pushed] = field(default_factory=lambda: asyncio.Queue(maxsize=256))
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Hub:
    def __init__(self, read_page: PageReader | None = None) -> None:
        self.head = 0
        self.read_page = read_page
        self._subs: set[Subscriber] = set()
        self._pages: OrderedDict[tuple[int, int], tuple[ChangesPage, bytes]] = OrderedDict()
        self._reading: dict[tuple[int, int], asyncio.Future[tuple[ChangesPage, bytes]]] = {}
        self.presence: dict[tuple[str, int], PresenceEvent] = {}
        self.last_seen: dict[str, datetime] = {}
        self._listener: Any = None
        self._dsn: str | None = None  # where to LISTEN again if the link drops
        self.ending = False  # set when the server stops: every stream returns at once
        self.publish_presence: Callable[[PresenceEvent], Awaitable[None]] | None = None
        self.head_moved = asyncio.Event()  # for the metrics publisher
        self.latest_metrics: str | None = None  # sent to each stream as it opens

    # -- changes -------------------------------------------------------------------

    def advance(self, seq: int) -> None:
        if seq <= self.head:
            return
        self.head = seq
        self.head_moved.set()
        for sub in self._subs:
            sub.wake.set()

    async def batch(self, after: int, limit: int = 500) -> tuple[ChangesPage, bytes]:
        """The page after `after` and its SSE frame (b"" when it holds no record),
        read and encoded once for every stream.

        Every stream asking for the same (cursor, head) awaits one shared future, so
        200 streams wake together in one turn of the loop. (An asyncio.Lock here woke
        them one per turn, 200 turns, each one behind whatever else was ready.)"""
        key = (after, self.head)
        hit = self._pages.get(key)
        if hit is not None:
            return hit
        pending = self._reading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._read(key, limit))
            self._reading[key] = pending
            pending.add_done_callback(lambda _: self._reading.pop(key, None))
        return await asyncio.shield(pending)  # one stream ending must not cancel the read

    async def _read(self, key: tuple[int, int], limit: int) -> tuple[ChangesPage, bytes]:
        assert self.read_page is not None
        page = await self.read_page(key[0], limit)
        frame = b""
        if page.items or page.customers:
            data = orjson.dumps({
                "seq": page.next, "items": [i.model_dump(mode="json") for i in page.items],
                "customers": [c.model_dump(mode="json") for c in page.customers]})
            frame = b"id: %d\nevent: change\ndata: %s\n\n" % (page.next, data)
        if page.next >= key[1] or not page.end_of_stream:
            self._pages[key] = (page, frame)
        while len(self._pages) > 64:
            self._pages.popitem(last=False)
        return page, frame

    def end_streams(self) -> None:
        """The server is stopping: end every stream now rather than have the
        graceful-shutdown timeout cut them (clients reconnect with Last-Event-ID)."""
        self.ending = True
        for sub in self._subs:
            sub.wake.set()

    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)

    @property
    def streams(self) -> int:
        return len(self._subs)

    # -- presence (kept in memory, never in the event log) -----------------------------

    def seen(self, username: str) -> None:
        self.last_seen[username] = datetime.now(UTC)

    def online(self, within: timedelta = timedelta(minutes=2)) -> set[str]:
        cutoff = datetime.now(UTC) - within
        return {u for u, at in self.last_seen.items() if at >= cutoff}

    def show_presence(self, event: PresenceEvent) -> None:
        key = (event.user, event.item_id)
        if event.state == "idle":
            self.presence.pop(key, None)
        else:
            self.presence[key] = event
        self.push("presence", event.model_dump_json())

    def push(self, name: str, data: str) -> None:
        """Send an event that is not in the log (presence, metrics) to every stream."""
        if name == "metrics":
            self.latest_metrics = data
        for sub in self._subs:
            with contextlib.suppress(asyncio.QueueFull):  # a slow stream misses a blip
                sub.queue.put_nowait((name, data))
            sub.wake.set()

    def current_presence(self) -> list[PresenceEvent]:
        now = datetime.now(UTC)
        for key in [k for k, e in self.presence.items() if e.expires_at <= now]:
            del self.presence[key]
        return list(self.presence.values())

    # -- PostgreSQL LISTEN/NOTIFY --------------------------------------------------------

    async def listen(self, dsn: str) -> None:
        """Hear other replicas' commits and presence (`relisten` reopens a lost link)."""
        import asyncpg

        self._dsn = dsn

        def on_change(_c: Any, _pid: int, _channel: str, payload: str) -> None:
            with contextlib.suppress(ValueError):
                self.advance(int(payload))

        def on_presence(c: Any, pid: int, _channel: str, payload: str) -> None:
            if pid == c.get_server_pid():
                return  # our own publication: shown here already when it was posted
            with contextlib.suppress(ValueError):
                self.show_presence(PresenceEvent.model_validate_json(payload))

        conn = await asyncpg.connect(dsn)
        await conn.add_listener("csq_changes", on_change)
        await conn.add_listener("csq_presence", on_presence)
        self._listener = conn

    async def relisten(self) -> bool:
        """Open a new LISTEN link if the database dropped ours (restart, failover, an
        idle-connection killer). The app calls this every second; True if it did."""
        if self._dsn is None or self.ending or (self._listener is not None
                                                and not self._listener.is_closed()):
            return False
        self._listener = None
        await self.listen(self._dsn)
        return True

    async def close(self) -> None:
        self.ending = True
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        for sub in self._subs:
            sub.wake.set()
