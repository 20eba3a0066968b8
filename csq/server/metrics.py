"""Live figures for the supervisors' wall, computed once per change, not per wall.

`LiveMetricsCache.get` recomputes only when the seq has moved or the figures
have aged past a second (SLA clocks move without writes), so twenty walls
polling or streaming cost one query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import ColumnClause

from csq.api import LiveMetrics
from csq.api.schemas import AgentLoad
from csq.domain.kinds import Kind
from csq.domain.lifecycle import DONE_STATUSES, is_open
from csq.domain.quality import follow_up, is_quality_complaint
from csq.domain.records import Item
from csq.domain.roles import Role
from csq.domain.sla import SlaPolicy, SlaState, sla_state
from csq.server import models
from csq.server.handovers import unacknowledged
from csq.server.hub import Hub

log = logging.getLogger("csq.server.metrics")
# Statuses terminal for every kind that has them: a coarse SQL prefilter only;
# is_open below is the rule (csq.domain.lifecycle).
_DONE_ANYWHERE = sorted({s for statuses in DONE_STATUSES.values() for s in statuses})
SAMPLE_EVERY = 300.0  # seconds between points of the depth chart
# Pushes at most this often: a change waits at most this long plus one
# computation before every wall has it (issue 6: lag <= 1 s p99).
PUSH_EVERY = 0.25
DEPTH_POINTS = 72  # six hours of them
# Items read or scored between two yields to the event loop. A yield is not free
# on a busy server: it waits behind every request queued meanwhile, so a
# computation that yielded every 100 items (when each item was validated whole,
# ~0.1 s for a few thousand) took seconds at 300 actions/s and the walls lagged.
# Light items (see OpenItems) cost ~5-10 us each: 2,000 of them stay under ~20 ms.
_CHUNK = 2000
BACKFILL_EVENTS = 200_000  # at most this many events replayed at start (a busy server:
                           # a shorter chart, not a slow start)



class OpenItems:
    """The open items, kept in memory and brought up to date by reading only the
    items written since the last time (items.seq is indexed, and seq order is
    commit order). Reading and validating every open item on each round cost
    ~0.1 s of the event loop per round: at 300 actions/s the figures then lagged
    seconds behind and held every request back (docs/benchmarks.md, issue 6).
    Any replica reads what any replica wrote: it is the database, not a replica's
    own writes, that brings it up to date."""

    def __init__(self) -> None:
        self.items: dict[int, Item] = {}
        self.seq: int | None = None  # None: nothing read yet

    async def refresh(self, session: AsyncSession, upto: int) -> list[Item]:
        slim: ColumnClause[str] = literal_column(
            models.ITEM_WITHOUT_TIMELINE[session.get_bind().dialect.name])
        query = select(slim).select_from(models.Item)
        if self.seq is None:  # the first read: every item not finished
            query = query.where(models.Item.status.notin_(_DONE_ANYWHERE))
        else:
            query = query.where(models.Item.seq > self.seq, models.Item.seq <= upto)
        docs = (await session.execute(query)).scalars().all()
        whole: list[int] = []  # quality complaints: their follow-up reads the timeline
        for start in range(0, len(docs), _CHUNK):
            for item in map(_light, map(orjson.loads, docs[start:start + _CHUNK])):
                if not is_open(item.kind, item.status):
                    self.items.pop(item.id, None)
                elif is_quality_complaint(item):
                    whole.append(item.id)
                else:
                    self.items[item.id] = item
            await asyncio.sleep(0)  # see _CHUNK
        if whole:
            for doc in (await session.execute(select(models.Item.doc).where(
                    models.Item.id.in_(whole)))).scalars():
                self.items[int(doc["id"])] = Item.model_validate(doc)
        self.seq = upto if self.seq is None else max(self.seq, upto)
        return list(self.items.values())


def _light(doc: dict[str, Any]) -> Item:
    """The record as the service wrote and validated it, built without validating
    it again (~10x cheaper) and without its timeline and body: the figures read
    only the kind, status, owner and clocks."""
    fields = dict(doc, kind=Kind(doc["kind"]))
    for key in ("created_at", "updated_at", "due_at", "sla_start", "promised_at"):
        if fields.get(key):
            fields[key] = datetime.fromisoformat(fields[key])
    return Item.model_construct(**fields)


async def compute(session: AsyncSession, hub: Hub, policy: SlaPolicy,
                  depth_history: list[float] | None = None,
                  open_items: OpenItems | None = None) -> LiveMetrics:
    now = datetime.now(UTC)
    # The seq before the read: every write up to it is committed, so the figures
    # reflect at least that much (a later head could name writes not read here).
    seq = hub.head
    items = await (open_items or OpenItems()).refresh(session, seq)
    waiting: dict[str, int] = {"ticket": 0, "complaint": 0, "callback": 0}
    oldest: float | None = None
    breached = at_risk = escalations = 0
    load: dict[str, int] = {}
    zone = policy.quiet.zone
    today = now.astimezone(zone).date()
    due_today = overdue_callbacks = 0
    for index, item in enumerate(items):
        if index % _CHUNK == _CHUNK - 1:
            await asyncio.sleep(0)
        state = sla_state(item, now, policy)
        breached += state == SlaState.BREACHED
        at_risk += state == SlaState.AT_RISK
        escalations += item.escalation is not None
        if item.owner is None:
            waiting[item.kind.value] += 1
            age = (now - item.created_at).total_seconds()
            oldest = age if oldest is None else max(oldest, age)
        else:
            load[item.owner] = load.get(item.owner, 0) + 1
        if item.kind == "callback" and item.due_at is not None:
            if item.due_at < now:
                overdue_callbacks += 1
            elif item.due_at.astimezone(zone).date() == today:
                due_today += 1
    users = (await session.execute(select(models.User.username, models.User.name).where(
        models.User.role.in_([Role.AGENT.value, Role.LEAD.value])))).all()
    online = hub.online()
    agents = [AgentLoad(username=u, name=n, open_items=load.get(u, 0), online=u in online)
              for u, n in users]
    start_of_day = datetime.combine(today, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    scores = (await session.execute(select(models.Event.data).where(
        models.Event.type == "callback_completed", models.Event.at >= start_of_day))).scalars()
    values = [int(d["satisfaction"]) for d in scores if "satisfaction" in d]
    return LiveMetrics(
        seq=seq, at=now, waiting_by_kind=waiting, oldest_waiting_s=oldest,
        breached=breached, at_risk=at_risk, escalations_open=escalations,
        agents=sorted(agents, key=lambda a: (-a.open_items, a.username)),
        callbacks_due_today=due_today, callbacks_overdue=overdue_callbacks,
        satisfaction_today=round(sum(values) / len(values), 2) if values else None,
        depth_history=list(depth_history or []),
        handovers_unacknowledged=await unacknowledged(session),
        quality_followups_overdue=sum(follow_up(i, now, policy).overdue for i in items
                                      if is_quality_complaint(i)))


def _waiting(kind: str, status: str | None, owner: str | None) -> bool:
    return status is not None and owner is None and is_open(kind, status)


async def depth_backfill(session: AsyncSession, now: datetime, *, every: float = SAMPLE_EVERY,
                         points: int = DEPTH_POINTS,
                         budget: int = BACKFILL_EVENTS) -> list[float]:
    """Items waiting at each of the `points` sample times before `now`, oldest
    first, so a restarted server or a fresh replica draws the chart at once.

    Replayed backwards from the items' state now through the events' diffs
    ({field: [old, new]} on the first event of every write): undoing a write
    moves the count by whether the item waited before it and after it. Stops
    after `budget` events; samples older than that are left out, not guessed."""
    start = now - timedelta(seconds=every * points)
    rows = (await session.execute(
        select(models.Event.at, models.Event.item_id, models.Event.data)
        .where(models.Event.at >= start, models.Event.item_id.is_not(None))
        .order_by(models.Event.at.desc(), models.Event.id.desc()).limit(budget))).all()
    diffs = [(_aware(at), int(item_id), data["diff"]) for at, item_id, data in rows
             if isinstance(data, dict) and isinstance(data.get("diff"), dict)]
    state: dict[int, tuple[str, str | None, str | None]] = {}
    ids = sorted({item_id for _, item_id, _ in diffs})
    for chunk in range(0, len(ids), 1000):
        for row in (await session.execute(
                select(models.Item.id, models.Item.kind, models.Item.status, models.Item.owner)
                .where(models.Item.id.in_(ids[chunk:chunk + 1000])))).all():
            state[int(row.id)] = (str(row.kind), row.status, row.owner)
    open_now = (await session.execute(select(models.Item.kind, models.Item.status).where(
        models.Item.owner.is_(None), models.Item.status.notin_(_DONE_ANYWHERE)))).all()
    depth = sum(is_open(k, st) for k, st in open_now)
    times = [now - timedelta(seconds=every * k) for k in range(1, points + 1)]  # newest first
    samples: list[float] = []
    for at, item_id, diff in diffs:
        while len(samples) < len(times) and times[len(samples)] >= at:
            samples.append(float(depth))
        if len(samples) == len(times) or item_id not in state:
            continue
        after = state[item_id]
        before = (after[0], diff["status"][0] if "status" in diff else after[1],
                  diff["owner"][0] if "owner" in diff else after[2])
        depth -= _waiting(*after) - _waiting(*before)
        state[item_id] = before
    if len(rows) < budget:  # the whole window was replayed: the oldest samples are known
        samples += [float(depth)] * (len(times) - len(samples))
    return samples[::-1]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite drops the zone


class LiveMetricsCache:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                 policy: SlaPolicy, max_age: timedelta = timedelta(seconds=1)) -> None:
        self.sessions = sessions
        self.hub = hub
        self.policy = policy
        self.max_age = max_age.total_seconds()
        self._value: LiveMetrics | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()
        self.computed = 0  # how many times the figures were really computed
        self.depth: deque[float] = deque(maxlen=DEPTH_POINTS)  # five-minute samples
        self.open_items = OpenItems()
        self._sampled_at = 0.0

    async def get(self) -> LiveMetrics:
        async with self._lock:
            fresh = time.monotonic() - self._at < self.max_age
            if self._value is not None and self._value.seq == self.hub.head and fresh:
                return self._value
            async with self.sessions() as session:
                self._value = await compute(session, self.hub, self.policy, list(self.depth),
                                            self.open_items)
            self._at = time.monotonic()
            self.computed += 1
            if self._at - self._sampled_at >= SAMPLE_EVERY or not self.depth:
                self.depth.append(float(sum(self._value.waiting_by_kind.values())))
                self._sampled_at = self._at
            return self._value

    async def backfill(self, *, replace: bool = False, now: datetime | None = None) -> None:
        """Draw the depth chart's past from the events, before the samples taken live.
        With `replace`, the events are the whole truth: after a bulk load with past
        times (the demo's seed, as of its `now`), which the samples taken meanwhile
        know nothing of."""
        try:
            async with self.sessions() as session:
                past = await depth_backfill(session, now or datetime.now(UTC))
        except Exception:  # a chart without its past is no reason to stop
            log.warning("could not back-fill the queue depth", exc_info=True)
            return
        async with self._lock:
            kept = [] if replace else list(self.depth)
            self.depth = deque([*past, *kept][-DEPTH_POINTS:], maxlen=DEPTH_POINTS)

    async def publish(self) -> None:
        """Push the figures on every stream when they change: computed once for
        all walls and encoded once for all streams, at most every PUSH_EVERY
        seconds, and at least every five seconds while anyone listens (SLA
        clocks move without writes)."""
        await self.backfill()
        last = None
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            self.hub.head_moved.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancel that lands as the event fires, and shutdown then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self.hub.head_moved.wait()
            if self.hub.streams:
                try:
                    figures = await self.get()
                except Exception:  # a database blip must not end the publisher
                    log.warning("could not compute live metrics", exc_info=True)
                else:
                    body = figures.model_dump_json(exclude={"at"})
                    if body != last:
                        last = body
                        self.hub.push("metrics", figures.model_dump_json())
            await asyncio.sleep(max(0.0, PUSH_EVERY - (loop.time() - started)))
