"""The seed's plan: which items to make, where each one's story ends, and when.

Pure (no I/O) so it can be read and tested on its own. Every status of every
kind's life cycle gets a share, and the open items' creation times are placed
against their SLA windows so that, at seeding time, some clocks are breached,
some at risk and most healthy: the queue looks like a busy centre's, not a
fresh install's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import cycle

from csq.domain.kinds import CATEGORIES, Channel, Kind
from csq.domain.sla import SlaPolicy
from csq.server.demo import scenarios
from csq.server.demo.people import Persona
from csq.server.demo.scenarios import Scenario
from csq.server.demo.staff import AGENTS, ENGLISH_DESK, LEADS

# How many seeded stories end in each status (callbacks that complaints and
# tickets spawn along the way come on top: ~50 more items).
MIX: dict[Kind, dict[str, int]] = {
    Kind.TICKET: {"new": 24, "open": 32, "pending_customer": 16, "resolved": 22, "closed": 58},
    Kind.COMPLAINT: {"new": 8, "registered": 8, "assigned": 10, "in_progress": 9,
                     "callback_pending": 14, "reopened": 6, "escalated": 6, "closed": 20,
                     "withdrawn": 4},  # 服务质量投诉 soothed by the lead (about an agent)
    Kind.CALLBACK: {"scheduled": 12, "attempted": 8, "completed": 12, "waived": 6},
}
# `replied` is left out: a reply or a `replied` transition creates the callback
# and moves on to `callback_pending` in the same action, so no item rests there.
# Seeded complaints pass through it; their timelines show the transition.
TRANSIENT: dict[Kind, frozenset[str]] = {Kind.COMPLAINT: frozenset({"replied"})}

HISTORY = timedelta(days=10)


class Aim(StrEnum):
    """Where an open item's SLA clock should stand when seeding ends."""

    BREACHED = "breached"
    AT_RISK = "at_risk"
    OK = "ok"
    DONE = "done"  # the story ends in a status whose clock has stopped


@dataclass(frozen=True)
class Plan:
    kind: Kind
    target: str
    aim: Aim
    customer: int  # index into the personas
    scenario: Scenario
    channel: Channel
    owner: str | None  # the agent who ends up with it (None: left for whoever claims)
    lead: str
    created: datetime
    anchor: datetime | None = None  # when the final SLA clock started (route, reply)
    due: datetime | None = None  # an explicit deadline (route, standalone callback)
    variant: float = 0.0  # picks among a story's alternative paths


def make_plans(rng: random.Random, now: datetime, policy: SlaPolicy,
               people: list[Persona]) -> list[Plan]:
    """All the stories to tell, oldest first (so item ids grow with age)."""
    plans: list[Plan] = []
    for kind, targets in MIX.items():
        categories = list(CATEGORIES[kind])
        rng.shuffle(categories)
        next_category = cycle(categories)  # every category, many times over
        for target, count in targets.items():
            for _ in range(count):
                # A complaint about an agent is about their manner: 服务态度.
                category = "service" if target == "withdrawn" else next(next_category)
                plans.append(_plan(rng, now, policy, people, kind, target, category))
    plans.sort(key=lambda p: p.created)
    return plans


def _plan(rng: random.Random, now: datetime, policy: SlaPolicy, people: list[Persona],
          kind: Kind, target: str, category: str) -> Plan:
    customer = _customer(rng, people, kind, category)
    persona = people[customer]
    scenario = scenarios.pick(rng, kind, category, persona.lang)
    channel = scenarios.channel_for(rng, category)
    aim = _aim(rng, kind, target)
    owner = None if target == "new" else _agent(rng, persona.lang)
    created, anchor, due = _timing(rng, now, policy, kind, target, aim, scenario, channel)
    return Plan(kind=kind, target=target, aim=aim, customer=customer, scenario=scenario,
                channel=channel, owner=owner, lead=rng.choice(LEADS), created=created,
                anchor=anchor, due=due, variant=rng.random())


def _customer(rng: random.Random, people: list[Persona], kind: Kind, category: str) -> int:
    """Watched customers complain more; companies ask for quotes and services."""
    weights = [1 + (4 if p.watch and kind == Kind.COMPLAINT else 0)
               + (3 if p.company and category in ("quote", "request", "scheduled") else 0)
               for p in people]
    return rng.choices(range(len(people)), weights=weights)[0]


def _agent(rng: random.Random, lang: str) -> str:
    if lang == "en" and rng.random() < 0.6:
        return ENGLISH_DESK
    return rng.choice(AGENTS)


_DONE: dict[Kind, frozenset[str]] = {
    Kind.TICKET: frozenset({"resolved", "closed"}),
    Kind.COMPLAINT: frozenset({"closed", "withdrawn"}),
    Kind.CALLBACK: frozenset({"completed", "waived"}),
}


def _aim(rng: random.Random, kind: Kind, target: str) -> Aim:
    if target in _DONE[kind]:
        return Aim.DONE
    if target == "reopened":
        return Aim.BREACHED  # its old deadline has long passed: the wall shows it red
    return rng.choices([Aim.BREACHED, Aim.AT_RISK, Aim.OK], weights=[30, 20, 50])[0]


def aimed(rng: random.Random, now: datetime, window: timedelta, aim: Aim) -> datetime:
    """When a clock of length `window` must start to stand at `aim` now."""
    if aim == Aim.BREACHED:
        spare = max(HISTORY - window, timedelta(hours=1))
        return now - window - rng.uniform(0.01, 0.3) * spare
    if aim == Aim.AT_RISK:
        return now - window * rng.uniform(0.83, 0.97)
    return now - window * rng.uniform(0.03, 0.6)


def _timing(rng: random.Random, now: datetime, policy: SlaPolicy, kind: Kind, target: str,
            aim: Aim, scenario: Scenario, channel: Channel,
            ) -> tuple[datetime, datetime | None, datetime | None]:
    """(created, anchor, due) for one story."""
    hours = timedelta(hours=1)
    if aim == Aim.DONE:
        return now - rng.uniform(0.05, 1.0) * HISTORY, None, None
    if target == "reopened":
        reply = now - rng.uniform(20, 120) * hours
        return reply - rng.uniform(2, 36) * hours, reply, None
    if kind == Kind.COMPLAINT and target in ("assigned", "in_progress"):
        window = rng.choice((24, 48, 72)) * hours
        route = aimed(rng, now, window, aim)
        return route - rng.uniform(0.3, 8) * hours, route, route + window
    if kind == Kind.COMPLAINT and target == "callback_pending":
        # The clock that matters is the callback's: three days from the reply.
        reply = aimed(rng, now, timedelta(hours=policy.callback_after_resolution_h), aim)
        return reply - rng.uniform(1, 36) * hours, reply, None
    if kind == Kind.CALLBACK:
        window = rng.uniform(4, 96) * hours
        created = aimed(rng, now, window, aim)
        due = created + window
        if policy.quiet.contains(due):  # a callback may not fall due while customers rest
            earlier = policy.quiet.last_open_before(due)
            due = earlier if earlier > created + hours else policy.quiet.first_open_after(due)
        return created, created, due
    # Items whose first deadline runs from creation: try a few starts for one
    # that lands on the aim (an e-mail is due the same day, which moves it).
    priority = scenario.priority.value if scenario.priority else "P3"
    window = policy.resolution_window(kind, scenario.category, channel, priority)
    created = aimed(rng, now, window, aim)
    for _ in range(6):
        due = policy.due_for_new(kind, scenario.category, channel, priority, created)
        if _stands_at(now, created, due, policy) == aim:
            break
        created = aimed(rng, now, window, aim)
    return created, created, None


def _stands_at(now: datetime, start: datetime, due: datetime, policy: SlaPolicy) -> Aim:
    left = (due - now).total_seconds()
    if left < 0:
        return Aim.BREACHED
    if left < (due - start).total_seconds() * policy.at_risk_fraction:
        return Aim.AT_RISK
    return Aim.OK
