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

What an item's timeline says (answered when and by whom, reopened,
reassigned, closed, its callback's score) is computed by csq.domain.facts,
which the server also uses to keep those facts in columns beside each record.
The period's facts are collected once (`Collector`: from `Item` records in
`gather`, from the stored columns in the server's report reader; the rules
are the same methods either way) and split by a key (`split`): by agent (the
item's owner), department, kind, category, or by day/week/month of each
fact's own moment (received, completed, closed). Pure: no I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from csq.domain.facts import MOVES, of_item
from csq.domain.kinds import Kind
from csq.domain.period import Period
from csq.domain.quality import WITHDRAWN
from csq.domain.records import Item

NONE_KEY = "-"  # an item with no owner, or no department
Grouping = Literal["agent", "department", "kind", "category"]
CONTACT_KINDS = (Kind.TICKET, Kind.COMPLAINT)
COVERING = ("completed", "waived")  # a callback in one of these covers its complaint


# -- one item's story, read off its timeline (csq.domain.facts) ------------------------


@dataclass(frozen=True)
class Answer:
    at: datetime
    by: str  # who made the answering move
    reopened: bool  # was it ever answered and then taken back


def answer(item: Item) -> Answer | None:
    """When and by whom the item was answered, if its status now is an answered one."""
    facts = of_item(item)
    if facts.answered_at is None or facts.answered_by is None:
        return None
    return Answer(facts.answered_at, facts.answered_by, facts.reopened)


def reassigned(item: Item) -> bool:
    """Was it ever assigned to someone other than its first owner?"""
    return of_item(item).reassigned


def moved_at(item: Item, status: str) -> datetime | None:
    """The last time the item moved to `status`."""
    return max((e.at for e in item.timeline
                if e.type in MOVES and e.data.get("to") == status), default=None)


# -- facts -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """The item a fact is about, as far as the groupings read it."""

    id: int
    kind: str
    status: str
    owner: str | None
    department: str | None
    category: str
    about_agent: str | None

    @classmethod
    def of(cls, item: Item) -> Subject:
        return cls(item.id, item.kind.value, item.status, item.owner, item.department,
                   item.category, item.about_agent)


@dataclass(frozen=True, slots=True)
class Contact:
    subject: Subject
    at: datetime  # received
    answered_at: datetime | None  # None: not resolved now
    first_contact: bool
    on_time: bool | None  # None: no clock, or still running


@dataclass(frozen=True, slots=True)
class Score:
    subject: Subject  # the item the callback was about
    at: datetime
    satisfaction: int


@dataclass(frozen=True, slots=True)
class Closing:
    subject: Subject  # a member's complaint
    at: datetime
    covered: bool  # had a completed or waived callback


@dataclass(frozen=True, slots=True)
class Withdrawal:
    subject: Subject
    at: datetime  # received


@dataclass(frozen=True)
class Facts:
    contacts: tuple[Contact, ...] = ()
    scores: tuple[Score, ...] = ()
    closings: tuple[Closing, ...] = ()
    withdrawals: tuple[Withdrawal, ...] = ()

    def split(self, key: Callable[[Subject, datetime], str]) -> dict[str, Facts]:
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


class Collector:
    """A period's facts, fed one item at a time from wherever the items are: `Item`
    records (`gather`) or the facts the server keeps in columns beside them
    (csq.domain.facts; the server's report reader). Every rule of what counts
    as a contact, a score or a member's closing is here; a reader may fetch
    more than it needs, never less."""

    def __init__(self, period: Period, now: datetime, members: Iterable[int] = ()) -> None:
        self.start, self.end = period.start, period.end  # Period.contains, computed once
        self.now = now
        self.members = set(members)
        self.contacts: list[Contact] = []
        self.scores: list[Score] = []
        self.closings: list[Closing] = []
        self.withdrawals: list[Withdrawal] = []

    def received(self, subject: Subject, at: datetime, due_at: datetime | None,
                 answered_at: datetime | None, first_contact: bool) -> None:
        """An item received at `at`: a contact if it is a ticket or a complaint
        received in the period, unless it was withdrawn."""
        if subject.kind not in CONTACT_KINDS or not self.start <= at < self.end:
            return
        if subject.status == WITHDRAWN:
            self.withdrawals.append(Withdrawal(subject, at))
            return
        on_time: bool | None = None
        if due_at is not None:
            if answered_at is not None:
                on_time = answered_at <= due_at
            elif self.now > due_at:
                on_time = False
        self.contacts.append(Contact(subject, at, answered_at,
                                     first_contact and answered_at is not None, on_time))

    def scored(self, subject: Subject, at: datetime, satisfaction: int) -> None:
        """A callback's result at `at`, credited to `subject`: the item it was about."""
        if self.start <= at < self.end and subject.status != WITHDRAWN:
            self.scores.append(Score(subject, at, satisfaction))

    def closed(self, subject: Subject, customer_id: int, at: datetime | None,
               callback_statuses: Iterable[str]) -> None:
        """A complaint closed at `at` (None: not closed now), with its callbacks' statuses."""
        if subject.kind == Kind.COMPLAINT and at is not None \
                and customer_id in self.members and self.start <= at < self.end:
            covered = any(s in COVERING for s in callback_statuses)
            self.closings.append(Closing(subject, at, covered))

    def facts(self) -> Facts:
        return Facts(tuple(self.contacts), tuple(self.scores), tuple(self.closings),
                     tuple(self.withdrawals))


def gather(items: Iterable[Item], period: Period, now: datetime,
           members: Iterable[int] = ()) -> Facts:
    """Everything the period's KPIs are made of. `items` must hold the callbacks
    of the complaints in it (coverage) and the parents of its callbacks
    (attribution); `members` are the ids of member customers."""
    items = list(items)
    by_id = {i.id: i for i in items}
    callbacks_of: dict[int, list[Item]] = {}
    for item in items:
        if item.kind == Kind.CALLBACK and item.parent_id is not None:
            callbacks_of.setdefault(item.parent_id, []).append(item)
    collect = Collector(period, now, members)
    for item in items:
        facts = of_item(item)
        subject = Subject.of(item)
        collect.received(subject, item.created_at, item.due_at, facts.answered_at,
                         facts.first_contact)
        if item.kind == Kind.CALLBACK and facts.scored_at is not None \
                and facts.satisfaction is not None:
            parent = by_id.get(item.parent_id or 0, item)
            collect.scored(Subject.of(parent), facts.scored_at, facts.satisfaction)
        if item.kind == Kind.COMPLAINT:
            collect.closed(subject, item.customer_id, facts.closed_at,
                           [cb.status for cb in callbacks_of.get(item.id, ())])
    return collect.facts()


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
    """The figures of a set of facts: one pass over each kind of fact."""
    resolved = complaints = first_contact = sla_met = sla_missed = 0
    handling = 0.0
    about: Counter[str] = Counter()
    for c in facts.contacts:
        if c.answered_at is not None:
            resolved += 1
            first_contact += c.first_contact
            handling += (c.answered_at - c.at).total_seconds()
        if c.subject.kind == Kind.COMPLAINT:
            complaints += 1
        if c.on_time is not None:
            if c.on_time:
                sla_met += 1
            else:
                sla_missed += 1
        if c.subject.about_agent is not None:
            about[c.subject.about_agent] += 1
    return Kpis(
        contacts=len(facts.contacts),
        resolved=resolved,
        complaints=complaints,
        withdrawn=len(facts.withdrawals),
        first_contact=first_contact,
        handling_seconds=handling,
        sla_met=sla_met,
        sla_missed=sla_missed,
        satisfaction_total=sum(s.satisfaction for s in facts.scores),
        satisfaction_count=len(facts.scores),
        member_closed=len(facts.closings),
        member_covered=sum(c.covered for c in facts.closings),
        customers=customers,
        complaints_about=about,
    )


def group_key(by: Grouping) -> Callable[[Subject, datetime], str]:
    def key(subject: Subject, _: datetime) -> str:
        if by == "agent":
            return subject.owner or NONE_KEY
        if by == "department":
            return subject.department or NONE_KEY
        if by == "kind":
            return subject.kind
        return subject.category
    return key


def by_group(facts: Facts, by: Grouping, customers: int | None = None) -> dict[str, Kpis]:
    return {k: summarise(f, customers) for k, f in facts.split(group_key(by)).items()}


def by_time(facts: Facts, buckets: Iterable[Period],
            customers: int | None = None) -> list[tuple[Period, Kpis]]:
    """One row per bucket (days, weeks or months of the period), empty ones included."""
    buckets = list(buckets)
    bounds = sorted((b.start, b.end, b.label) for b in buckets)  # computed once
    starts = [start for start, _, _ in bounds]

    def key(_: Subject, at: datetime) -> str:
        n = bisect_right(starts, at) - 1
        return bounds[n][2] if n >= 0 and at < bounds[n][1] else NONE_KEY

    split = facts.split(key)
    return [(b, summarise(split.get(b.label, Facts()), customers)) for b in buckets]
