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

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csq.api import LiveMetrics
from csq.api.schemas import AgentLoad
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



async def compute(session: AsyncSession, hub: Hub, policy: SlaPolicy,
                  depth_history: list[float] | None = None) -> LiveMetrics:
    now = datetime.now(UTC)
    docs = (await session.execute(select(models.Item.doc).where(
        models.Item.status.notin_(_DONE_ANYWHERE)))).scalars().all()
    items = [Item.model_validate(d) for d in docs]
    items = [i for i in items if is_open(i.kind, i.status)]
    waiting: dict[str, int] = {"ticket": 0, "complaint": 0, "callback": 0}
    oldest: float | None = None
    breached = at_risk = escalations = 0
    load: dict[str, int] = {}
    zone = policy.quiet.zone
    today = now.astimezone(zone).date()
    due_today = overdue_callbacks = 0
    for item in items:
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
        seq=hub.head, at=now, waiting_by_kind=waiting, oldest_waiting_s=oldest,
        breached=breached, at_risk=at_risk, escalations_open=escalations,
        agents=sorted(agents, key=lambda a: (-a.open_items, a.username)),
        callbacks_due_today=due_today, callbacks_overdue=overdue_callbacks,
        satisfaction_today=round(sum(values) / len(values), 2) if values else None,
        depth_history=list(depth_history or []),
        handovers_unacknowledged=await unacknowledged(session),
        quality_followups_overdue=sum(follow_up(i, now, policy).overdue for i in items
                                      if is_quality_complaint(i)))


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
        self.depth: deque[float] = deque(maxlen=72)  # six hours of five-minute samples
        self._sampled_at = 0.0

    async def get(self) -> LiveMetrics:
        async with self._lock:
            fresh = time.monotonic() - self._at < self.max_age
            if self._value is not None and self._value.seq == self.hub.head and fresh:
                return self._value
            async with self.sessions() as session:
                self._value = await compute(session, self.hub, self.policy, list(self.depth))
            self._at = time.monotonic()
            self.computed += 1
            if self._at - self._sampled_at >= SAMPLE_EVERY or not self.depth:
                self.depth.append(float(sum(self._value.waiting_by_kind.values())))
                self._sampled_at = self._at
            return self._value

    async def publish(self) -> None:
        """Push the figures on every stream when they change: computed once for
        all walls, at most once a second, and at least every five seconds while
        anyone listens (SLA clocks move without writes)."""
        last = None
        while True:
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
            await asyncio.sleep(1.0)
