"""Key performance indicators over a period (DOMAIN.md §8): arithmetic on items.

Every report and every test reads these definitions; change one here and in
the docs together.

- **contacts** (受理量): tickets and complaints *received* in the period
  (`created_at` in it). Callbacks are the centre's own calls, not contacts;
  `callback_figures` covers them.
- **withdrawn complaints** (撤诉) are left out of every figure below and only
  counted as `withdrawn`: withdrawing a complaint about an agent clears that
  agent's record (domain.quality), and a complaint the customer took back is
  not held against whoever handled it either.
- **resolved**: a contact whose status now is an answered one (ticket resolved
  or closed; complaint replied, callback_pending or closed). It was answered
  when it last entered that answered stretch: a reopen starts the clock again.
- **resolution rate** (问题解决率) = resolved ÷ contacts.
- **complaint rate** (投诉率) = complaints ÷ contacts.
- **first-contact resolution** (一次解决率) = resolved by their first owner
  (首问负责制), never assigned to anyone else, never reopened ÷ resolved.
- **average handling time** = mean of (answered − created) over resolved.
- **SLA met** (按时答复率) = answered by `due_at` ÷ contacts whose clock has
  run out: answered (on time or late) or unanswered and past due. An
  unanswered contact not yet due is not counted either way.
- **satisfaction** (满意度) = mean score (1–5) of callbacks *completed* in the
  period, credited to the item called back about (its parent), so grouping
  by agent or category rates the work, not the call.
- **member callback coverage** (会员回访率) = member complaints *closed* in the
  period with a completed or waived callback ÷ member complaints closed in
  the period. The handbooks demand 100 %.
- **complaints per 10,000 customers** = complaints ÷ customers on record × 10,000.

The callback summary's own figures (calls made, on time, scores) are in
csq.domain.callback_summary.

Facts are gathered once (`gather`) and split by a key (`split`): by agent
(the item's owner), department, kind, category, or by day/week/month of
each fact's own moment (received, completed, closed). Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from csq.domain.kinds import Kind
from csq.domain.lifecycle import SLA_MET_STATUSES
from csq.domain.period import Period
from csq.domain.quality import WITHDRAWN
from csq.domain.records import Item

NONE_KEY = "-"  # an item with no owner, or no department
Grouping = Literal["agent", "department", "kind", "category"]
CONTACT_KINDS = (Kind.TICKET, Kind.COMPLAINT)
_MOVES = ("transition", "callback_waived")


# -- one item's story, read off its timeline -----------------------------------------


@dataclass(frozen=True)
class Answer:
    at: datetime
    by: str  # who made the answering move
    reopened: bool  # was it ever answered and then taken back


def answer(item: Item) -> Answer | None:
    """When and by whom the item was answered, if its status now is an answered one."""
    answered = SLA_MET_STATUSES[item.kind] - {WITHDRAWN}
    since: tuple[datetime, str] | None = None
    reopened = False
    for entry in item.timeline:
        if entry.type not in _MOVES:
            continue
        if entry.data.get("to") in answered:
            since = since or (entry.at, entry.actor)
        elif since is not None:
            since, reopened = None, True
    if item.status not in answered or since is None:
        return None
    return Answer(since[0], since[1], reopened)


def reassigned(item: Item) -> bool:
    """Was it ever assigned to someone other than its first owner?"""
    return any(e.type == "assign" and e.data.get("to") != item.first_owner
               for e in item.timeline)


def moved_at(item: Item, status: str) -> datetime | None:
    """The last time the item moved to `status`."""
    return max((e.at for e in item.timeline
                if e.type in _MOVES and e.data.get("to") == status), default=None)


# -- facts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    subject: Item
    at: datetime  # received
    answered: Answer | None
    first_contact: bool
    on_time: bool | None  # None: no clock, or still running


@dataclass(frozen=True)
class Score:
    subject: Item  # the item the callback was about
    at: datetime
    satisfaction: int


@dataclass(frozen=True)
class Closing:
    subject: Item  # a member's complaint
    at: datetime
    covered: bool  # had a completed or waived callback


@dataclass(frozen=True)
class Withdrawal:
    subject: Item
    at: datetime  # received


@dataclass(frozen=True)
class Facts:
    contacts: tuple[Contact, ...] = ()
    scores: tuple[Score, ...] = ()
    closings: tuple[Closing, ...] = ()
    withdrawals: tuple[Withdrawal, ...] = ()

    def split(self, key: Callable[[Item, datetime], str]) -> dict[str, Facts]:
        """Facts grouped by `key(subject, moment)`, keys sorted."""
        groups: dict[str, tuple[list[Any], ...]] = {}
        kinds: tuple[tuple[Contact | Score | Closing | Withdrawal, ...], ...] = (
            self.contacts, self.scores, self.closings, self.withdrawals)
        for n, facts in enumerate(kinds):
            for fact in facts:
                k = key(fact.subject, fact.at)
                bucket = groups.get(k)
                if bucket is None:
                    bucket = groups[k] = ([], [], [], [])
                bucket[n].append(fact)
        return {k: Facts(*(tuple(v) for v in groups[k])) for k in sorted(groups)}


def gather(items: Iterable[Item], period: Period, now: datetime,
           members: Iterable[int] = ()) -> Facts:
    """Everything the period's KPIs are made of. `items` must hold the callbacks
    of the complaints in it (coverage) and the parents of its callbacks
    (attribution); `members` are the ids of member customers."""
    items = list(items)
    start, end = period.start, period.end  # Period.contains, without recomputing both
    member_ids = set(members)
    by_id = {i.id: i for i in items}
    callbacks_of: dict[int, list[Item]] = {}
    for item in items:
        if item.kind == Kind.CALLBACK and item.parent_id is not None:
            callbacks_of.setdefault(item.parent_id, []).append(item)
    contacts, scores, closings, withdrawals = [], [], [], []
    for item in items:
        if item.kind in CONTACT_KINDS and start <= item.created_at < end:
            if item.status == WITHDRAWN:
                withdrawals.append(Withdrawal(item, item.created_at))
            else:
                contacts.append(_contact(item, now))
        if item.kind == Kind.CALLBACK and item.result is not None \
                and start <= item.result.at < end:
            subject = by_id.get(item.parent_id or 0, item)
            if subject.status != WITHDRAWN:
                scores.append(Score(subject, item.result.at, item.result.satisfaction))
        if item.kind == Kind.COMPLAINT and item.status == "closed" \
                and item.customer_id in member_ids:
            closed = moved_at(item, "closed")
            if closed is not None and start <= closed < end:
                covered = any(cb.status in ("completed", "waived")
                              for cb in callbacks_of.get(item.id, ()))
                closings.append(Closing(item, closed, covered))
    return Facts(tuple(contacts), tuple(scores), tuple(closings), tuple(withdrawals))


def _contact(item: Item, now: datetime) -> Contact:
    done = answer(item)
    first = (done is not None and not done.reopened and not reassigned(item)
             and item.first_owner is not None and done.by == item.first_owner)
    on_time: bool | None = None
    if item.due_at is not None:
        if done is not None:
            on_time = done.at <= item.due_at
        elif now > item.due_at:
            on_time = False
    return Contact(item, item.created_at, done, first, on_time)


# -- the figures -----------------------------------------------------------------------


def ratio(part: float, whole: float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


@dataclass(frozen=True)
class Kpis:
    contacts: int = 0
    resolved: int = 0
    complaints: int = 0
    withdrawn: int = 0
    first_contact: int = 0
    handling_seconds: float = 0.0  # summed over the resolved
    sla_met: int = 0
    sla_missed: int = 0
    satisfaction_total: int = 0
    satisfaction_count: int = 0
    member_closed: int = 0
    member_covered: int = 0
    customers: int | None = None  # on record, for the per-10,000 rate
    # Complaints naming each agent (withdrawn ones cleared): the agent's record.
    complaints_about: Counter[str] = field(default_factory=Counter)

    @property
    def resolution_rate(self) -> float | None:
        return ratio(self.resolved, self.contacts)

    @property
    def complaint_rate(self) -> float | None:
        return ratio(self.complaints, self.contacts)

    @property
    def first_contact_rate(self) -> float | None:
        return ratio(self.first_contact, self.resolved)

    @property
    def avg_handling_s(self) -> float | None:
        return ratio(self.handling_seconds, self.resolved, 1)

    @property
    def sla_met_rate(self) -> float | None:
        return ratio(self.sla_met, self.sla_met + self.sla_missed)

    @property
    def satisfaction(self) -> float | None:
        return ratio(self.satisfaction_total, self.satisfaction_count, 2)

    @property
    def callback_coverage(self) -> float | None:
        return ratio(self.member_covered, self.member_closed)

    @property
    def complaints_per_10k(self) -> float | None:
        return ratio(self.complaints * 10_000, self.customers or 0, 2)

    def figures(self) -> dict[str, int | float | None]:
        """Counts and rates, JSON-ready (rates as fractions, times in seconds)."""
        return {
            "contacts": self.contacts, "resolved": self.resolved,
            "resolution_rate": self.resolution_rate, "complaints": self.complaints,
            "complaint_rate": self.complaint_rate, "withdrawn": self.withdrawn,
            "first_contact": self.first_contact, "first_contact_rate": self.first_contact_rate,
            "avg_handling_s": self.avg_handling_s, "sla_met": self.sla_met,
            "sla_missed": self.sla_missed, "sla_met_rate": self.sla_met_rate,
            "satisfaction": self.satisfaction, "satisfaction_count": self.satisfaction_count,
            "member_closed": self.member_closed, "member_covered": self.member_covered,
            "callback_coverage": self.callback_coverage,
            "complaints_per_10k": self.complaints_per_10k,
        }


def summarise(facts: Facts, customers: int | None = None) -> Kpis:
    resolved = [c for c in facts.contacts if c.answered is not None]
    return Kpis(
        contacts=len(facts.contacts),
        resolved=len(resolved),
        complaints=sum(c.subject.kind == Kind.COMPLAINT for c in facts.contacts),
        withdrawn=len(facts.withdrawals),
        first_contact=sum(c.first_contact for c in resolved),
        handling_seconds=sum((c.answered.at - c.at).total_seconds()
                             for c in resolved if c.answered is not None),
        sla_met=sum(c.on_time is True for c in facts.contacts),
        sla_missed=sum(c.on_time is False for c in facts.contacts),
        satisfaction_total=sum(s.satisfaction for s in facts.scores),
        satisfaction_count=len(facts.scores),
        member_closed=len(facts.closings),
        member_covered=sum(c.covered for c in facts.closings),
        customers=customers,
        complaints_about=Counter(c.subject.about_agent for c in facts.contacts
                                 if c.subject.about_agent is not None),
    )


def group_key(by: Grouping) -> Callable[[Item, datetime], str]:
    def key(item: Item, _: datetime) -> str:
        if by == "agent":
            return item.owner or NONE_KEY
        if by == "department":
            return item.department or NONE_KEY
        if by == "kind":
            return item.kind.value
        return item.category
    return key


def by_group(facts: Facts, by: Grouping, customers: int | None = None) -> dict[str, Kpis]:
    return {k: summarise(f, customers) for k, f in facts.split(group_key(by)).items()}


def by_time(facts: Facts, buckets: Iterable[Period],
            customers: int | None = None) -> list[tuple[Period, Kpis]]:
    """One row per bucket (days, weeks or months of the period), empty ones included."""
    buckets = list(buckets)
    bounds = [(b.start, b.end, b.label) for b in buckets]

    def key(_: Item, at: datetime) -> str:
        return next((label for start, end, label in bounds if start <= at < end), NONE_KEY)

    split = facts.split(key)
    return [(b, summarise(split.get(b.label, Facts()), customers)) for b in buckets]
