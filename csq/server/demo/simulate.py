"""Live traffic for the demo: customers call in and the other agents work.

A demo queue that stands still teaches nothing about a live one: rows must
arrive, change owner, turn red and leave while the person at the keyboard
watches. The simulator acts through `Service.write` exactly as HTTP requests
do (same rules, same audit trail, same seq and fan-out), as the demo's
non-human staff, at a mean of RATE actions per second.

It leaves the human's own items alone, keeps a pool of unclaimed work for
them, treats a refusal as ordinary (someone else got there first) and stops
at once when its task is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csq.domain import actions as acts
from csq.domain.kinds import CATEGORIES, Kind
from csq.domain.lifecycle import DONE_STATUSES
from csq.domain.records import Item, ItemDraft
from csq.server import models, repo
from csq.server.demo import phrases, scenarios
from csq.server.demo.people import speaks_english, walk_in
from csq.server.demo.phrases import one
from csq.server.demo.scenarios import Sector
from csq.server.demo.staff import AGENTS, HUMANS, LEADS, Staff
from csq.server.service import Service

log = logging.getLogger("csq.server.demo")

KEEP_UNCLAIMED = 12  # never claim below this many waiting items: the human needs work
CLIENT = "csq-demo-simulator"
_DONE = [s for statuses in DONE_STATUSES.values() for s in statuses]


class _Idle(Exception):
    """Nothing sensible to do this turn: roll back, record nothing."""


@dataclass
class SimStats:
    ok: int = 0
    refused: int = 0  # the rules said no (a race with a person, say): normal
    idle: int = 0
    failed: int = 0  # an unexpected error: logged, and the loop goes on
    moves: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Row:
    """The columns a move chooses by, read without parsing any item's document."""

    id: int
    kind: str
    status: str
    owner: str | None
    due_at: datetime | None


Move = Callable[[Session, int, list[_Row]], str]


class Simulator:
    def __init__(self, service: Service, staff: Staff, rate: float, *,
                 seed: int | None = None, keep_unclaimed: int = KEEP_UNCLAIMED) -> None:
        self.service = service
        self.staff = staff
        self.rate = rate
        self.rng = random.Random(seed)
        self.keep_unclaimed = keep_unclaimed
        self.stats = SimStats()
        self.agents = [a for a in AGENTS if a not in HUMANS and a in staff.principals]
        self.leads = [u for u in LEADS if u not in HUMANS and u in staff.principals]
        if not self.agents or not self.leads:
            raise ValueError("the demo users are missing: seed the database with --demo first")
        self.moves: list[tuple[Move, int]] = [
            (self._arrive, 20), (self._claim, 14), (self._work, 44), (self._note, 8),
            (self._lead, 7), (self._callback_soon, 7),
        ]

    # -- the loop ----------------------------------------------------------------------

    async def run(self, max_actions: int | None = None) -> SimStats:
        """Act at a mean of `rate` per second (Poisson arrivals) until cancelled."""
        done = 0
        failures = 0
        while max_actions is None or done < max_actions:
            await asyncio.sleep(self.rng.expovariate(self.rate))
            ok = await self.step()
            done += 1
            failures = 0 if ok else failures + 1
            if failures >= 5:  # the database is away, say: breathe instead of spinning
                await asyncio.sleep(min(30.0, 2.0 ** min(failures - 5, 5)))
        return self.stats

    async def step(self) -> bool:
        """One simulated action; False only if it failed unexpectedly."""
        move = self.rng.choices([m for m, _ in self.moves], [w for _, w in self.moves])[0]
        name = move.__name__.lstrip("_")
        req = self.staff.req(self.rng.choice(self.agents))
        said: list[str] = []

        def work(session: Session, seq: int) -> tuple[int, dict[str, Any]]:
            rows = self._rows(session)
            said.append(move(session, seq, rows))
            return 200, {"simulated": said[-1]}

        try:
            status, body = await self.service.write(req, work)
        except _Idle:
            self.stats.idle += 1
            return True
        except Exception:
            self.stats.failed += 1
            log.warning("demo simulator: %s failed", name, exc_info=True)
            return False
        if status >= 400:
            self.stats.refused += 1
            log.debug("demo simulator: %s refused: %s", name, body.get("detail"))
        else:
            self.stats.ok += 1
            self.stats.moves[name] += 1
            log.debug("demo simulator: %s", said[-1] if said else name)
        return True

    def _rows(self, session: Session) -> list[_Row]:
        result = session.execute(
            select(models.Item.id, models.Item.kind, models.Item.status, models.Item.owner,
                   models.Item.due_at).where(models.Item.status.notin_(_DONE)))
        return [_Row(*r) for r in result.all()]

    # -- helpers -------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.service.clock()

    def _pick(self, rows: list[_Row]) -> _Row:
        if not rows:
            raise _Idle
        return self.rng.choice(rows)

    def _mine(self, rows: list[_Row]) -> list[_Row]:
        """Open items the simulated agents own (never the human's)."""
        return [r for r in rows if r.owner in self.agents]

    def _waiting(self, rows: list[_Row]) -> list[_Row]:
        return [r for r in rows if r.owner is None]

    def _load(self, session: Session, row: _Row) -> Item:
        item = repo.load_item(session, row.id)
        if item is None:
            raise _Idle
        return item

    def _act(self, session: Session, seq: int, who: str, item: Item,
                   action: acts.Action) -> str:
        self.service.apply(session, seq, self.staff.req(who), item.id, action,
                                 item.version)
        return f"{who}: {action.action} #{item.id}"

    def _sector(self, item: Item) -> Sector:
        for s in scenarios.SCENARIOS:
            if s.kind == item.kind and s.category == item.category:
                return s.sector
        return Sector.POWER

    # -- the moves -------------------------------------------------------------------------

    def _arrive(self, session: Session, seq: int, rows: list[_Row]) -> str:
        """A customer calls, writes or walks in; the item waits in the queue."""
        r = self.rng
        who = r.choice(self.agents)
        req = self.staff.req(who)
        if r.random() < 0.2:
            persona = walk_in(r)
            customer = self.service.insert_customer(session, seq, req, persona.draft)
            customer_id, lang = customer.id, persona.lang
        else:
            ids = (session.execute(select(models.Customer.id))).scalars().all()
            if not ids:
                raise _Idle
            customer_id = r.choice(ids)
            found = repo.load_customer(session, customer_id)
            lang = "en" if found is not None and speaks_english(found.name) else "zh"
        kind = r.choices([Kind.TICKET, Kind.COMPLAINT, Kind.CALLBACK], [62, 24, 14])[0]
        category = r.choice(CATEGORIES[kind])
        scenario = scenarios.pick(r, kind, category, lang)
        subject, body = scenario.fill(r)
        due = None
        if kind == Kind.CALLBACK:  # falls due within the demo, outside the quiet window
            due = self.service.policy.quiet.first_open_after(
                self._now() + timedelta(minutes=r.uniform(3, 90)))
        draft = ItemDraft(kind=kind, category=category, subject=subject, body=body,
                          channel=scenarios.channel_for(r, category), customer_id=customer_id,
                          priority=scenario.priority, tags=scenario.tags, due_at=due)
        item = self.service.insert_item(session, seq, req, draft)
        return f"new {kind} #{item.id}: {subject}"

    def _claim(self, session: Session, seq: int, rows: list[_Row]) -> str:
        waiting = self._waiting(rows)
        if len(waiting) <= self.keep_unclaimed:
            raise _Idle
        # The most pressing first, as the queue order says: earliest deadline.
        waiting.sort(key=lambda w: (w.due_at is None, w.due_at or self._now()))
        row = self.rng.choice(waiting[:5])
        return self._act(session, seq, self.rng.choice(self.agents),
                               self._load(session, row), acts.Claim())

    def _note(self, session: Session, seq: int, rows: list[_Row]) -> str:
        row = self._pick(self._mine(rows) + self._waiting(rows))
        return self._act(session, seq, self.rng.choice(self.agents),
                               self._load(session, row),
                               acts.Note(body=one(self.rng, phrases.NOTES)))

    def _callback_soon(self, session: Session, seq: int, rows: list[_Row]) -> str:
        """An agent books a callback a few minutes out: the human sees it fall due."""
        tickets = [r for r in self._mine(rows) if r.kind == Kind.TICKET]
        row = self._pick(tickets)
        item = self._load(session, row)
        at = self._now() + timedelta(minutes=self.rng.uniform(2, 20))
        agreed = self.service.policy.quiet.contains(at)  # late: only if the customer asked
        action = acts.ScheduleCallback(at=at, customer_agreed=agreed,
                                       note=one(self.rng, phrases.CALLBACK_NOTES))
        return self._act(session, seq, item.owner or self.agents[0], item, action)

    def _lead(self, session: Session, seq: int, rows: list[_Row]) -> str:
        """The shift lead: sends escalated complaints back to a department, hands
        out waiting work when the pool is deep, and now and then escalates."""
        r, lead = self.rng, self.rng.choice(self.leads)
        escalated = [x for x in rows if x.status == "escalated" and x.owner not in HUMANS]
        if escalated and r.random() < 0.6:
            item = self._load(session, r.choice(escalated))
            return self._act(session, seq, lead, item, self._route(item))
        waiting = self._waiting(rows)
        if len(waiting) > self.keep_unclaimed and r.random() < 0.7:
            item = self._load(session, r.choice(waiting))
            return self._act(session, seq, lead, item, acts.Assign(
                to=r.choice(self.agents), note=one(r, phrases.ASSIGN_NOTES)))
        complaints = [x for x in self._mine(rows) if x.kind == Kind.COMPLAINT
                      and x.status not in ("escalated", "callback_pending")]
        item = self._load(session, self._pick(complaints))
        return self._act(session, seq, lead, item, acts.Escalate(
            to=one(r, phrases.ESCALATE_TO), reason=one(r, phrases.ESCALATE_REASONS)))

    def _route(self, item: Item) -> acts.Route:
        due = self._now() + self.rng.choice((24, 48, 72)) * timedelta(hours=1)
        return acts.Route(department=one(self.rng, phrases.DEPARTMENTS[self._sector(item)]),
                          due_at=due)

    def _work(self, session: Session, seq: int, rows: list[_Row]) -> str:
        """An agent takes the next natural step on one of their own items."""
        row = self._pick(self._mine(rows))
        item = self._load(session, row)
        assert item.owner is not None
        action = self._next_step(item)
        if action is None:
            raise _Idle
        return self._act(session, seq, item.owner, item, action)

    def _next_step(self, item: Item) -> acts.Action | None:
        r, status = self.rng, item.status
        lang = "en" if r.random() < 0.1 else "zh"
        reply = acts.Reply(body=phrases.reply(r, self._sector(item), lang))
        if item.kind == Kind.TICKET:
            options: dict[str, list[tuple[acts.Action, int]]] = {
                "new": [(acts.Claim(), 1)],
                "open": [(reply, 35), (acts.Transition(
                    to="pending_customer", reason=one(r, phrases.PENDING_REASONS)), 15),
                    (acts.Transition(to="resolved", reason=one(r, phrases.RESOLVED_REASONS)), 38),
                    (acts.Promise(at=self._now() + timedelta(hours=r.uniform(0.5, 8))), 12)],
                "pending_customer": [(acts.Transition(to="open", reason="客户已回复。"), 40),
                                     (acts.Transition(to="resolved", reason=one(
                                         r, phrases.RESOLVED_REASONS)), 60)],
                "resolved": [(acts.Transition(to="closed", reason=one(
                    r, phrases.CLOSE_REASONS)), 85), (acts.Transition(
                        to="open", reason=one(r, phrases.REOPEN_REASONS)), 15)],
            }
            choices = options.get(status)
            if not choices:
                return None
            return r.choices([a for a, _ in choices], [w for _, w in choices])[0]
        if item.kind == Kind.COMPLAINT:
            if status in ("new", "registered", "reopened"):
                return self._route(item)
            if status == "assigned":
                return reply if r.random() < 0.4 else acts.Transition(
                    to="in_progress", reason=one(r, phrases.PROGRESS_REASONS))
            if status == "in_progress":
                return reply
            return None  # escalated waits for a lead; callback_pending for its callback
        return self._callback_step(item)

    def _callback_step(self, item: Item) -> acts.Action | None:
        """Callbacks are made when they fall due (or are late), not before."""
        r = self.rng
        if item.due_at is not None and item.due_at - self._now() > timedelta(hours=2):
            return None
        roll = r.random()
        if roll < 0.25:
            return acts.AttemptCallback(note=one(r, phrases.ATTEMPT_NOTES))
        if roll < 0.75:
            return acts.CompleteCallback(outcome="satisfied", satisfaction=r.choice((3, 4, 5, 5)),
                                         notes=one(r, phrases.CALLBACK_SATISFIED))
        if roll < 0.9:  # an unhappy customer: the complaint reopens
            return acts.CompleteCallback(outcome="unsatisfied", satisfaction=r.choice((1, 2)),
                                         notes=one(r, phrases.CALLBACK_UNSATISFIED))
        return acts.WaiveCallback(reason=one(r, phrases.WAIVE_REASONS))

