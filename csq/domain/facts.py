"""Per-item facts (DOMAIN.md §8): what an item's story says, kept beside its record.

A KPI over a month reads, for each of tens of thousands of items, a handful of
facts that only its timeline tells: when and by whom it was answered, whether
it was reopened or handed to someone else, when it was closed, how its
callback went. Reading every timeline at report time cost seconds, so the
server stores these facts as columns of the item's row, rewritten in the same
statement every time the record is written (csq.server.models), and reports
aggregate the columns. This module is the one rule that computes them;
csq.domain.kpi reads them, whether from an `Item` (`of_item`) or from the
stored row.

`of_record` computes the same facts from the stored JSON form of an item (what
`Item.model_dump(mode="json")` gives), because the server writes that form and
validating it again into an `Item` would cost a write ten times more.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csq.domain.kinds import Kind
from csq.domain.lifecycle import SLA_MET_STATUSES
from csq.domain.quality import WITHDRAWN
from csq.domain.records import Item

MOVES = ("transition", "callback_waived")  # the timeline entries that change a status
CLOSED = "closed"
# The statuses that count as answered, per kind: a withdrawn complaint was decided,
# not answered, and it is left out of every KPI anyway.
ANSWERED: Mapping[str, frozenset[str]] = {
    kind.value: statuses - {WITHDRAWN} for kind, statuses in SLA_MET_STATUSES.items()}


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What a KPI needs to know of an item beyond its plain fields."""

    answered_at: datetime | None = None  # when it last entered its answered stretch, if
    answered_by: str | None = None  # answered now (a reopen starts the clock again)
    reopened: bool = False  # was it ever answered and then taken back
    reassigned: bool = False  # ever assigned to someone other than its first owner
    first_contact: bool = False  # answered by its first owner, never reopened or reassigned
    closed_at: datetime | None = None  # when it last moved to closed, if closed now
    scored_at: datetime | None = None  # a callback's result: when the customer said
    satisfaction: int | None = None  # and the score (1-5)

    def columns(self) -> dict[str, Any]:
        """As the server stores them: one column each, same names."""
        return {"answered_at": self.answered_at, "answered_by": self.answered_by,
                "reopened": self.reopened, "reassigned": self.reassigned,
                "first_contact": self.first_contact, "closed_at": self.closed_at,
                "scored_at": self.scored_at, "satisfaction": self.satisfaction}


# One entry as the rule reads it: (type, data.to, at, actor); `at` may still be text.
_Entry = tuple[str, Any, Any, str]


def _story(kind: str, status: str, first_owner: str | None, entries: Iterable[_Entry],
           when: Callable[[Any], datetime]) -> ItemFacts:
    answered = ANSWERED[kind]
    since: tuple[Any, str] | None = None
    closed: datetime | None = None
    reopened = reassigned = False
    for type_, to, at, actor in entries:
        if type_ in MOVES:
            if to in answered:
                since = since or (at, actor)
            elif since is not None:
                since, reopened = None, True
            if to == CLOSED:  # the last time, as a clock read it (kpi.moved_at)
                moment = when(at)
                closed = moment if closed is None or moment > closed else closed
        elif type_ == "assign" and to != first_owner:
            reassigned = True
    if status not in answered or since is None:
        since = None
    first = (since is not None and not reopened and not reassigned
             and first_owner is not None and since[1] == first_owner)
    return ItemFacts(
        answered_at=when(since[0]) if since else None, answered_by=since[1] if since else None,
        reopened=reopened, reassigned=reassigned, first_contact=first,
        closed_at=closed if status == CLOSED else None)


def of_item(item: Item) -> ItemFacts:
    facts = _story(item.kind.value, item.status, item.first_owner,
                   ((e.type, e.data.get("to"), e.at, e.actor) for e in item.timeline), _same)
    if item.kind == Kind.CALLBACK and item.result is not None:
        return _scored(facts, item.result.at, item.result.satisfaction)
    return facts


def of_record(doc: Mapping[str, Any]) -> ItemFacts:
    """The same facts from an item's stored JSON form (times as ISO text)."""
    facts = _story(doc["kind"], doc["status"], doc.get("first_owner"),
                   ((e["type"], e["data"].get("to"), e["at"], e["actor"])
                    for e in doc.get("timeline") or ()), _parse)
    result = doc.get("result")
    if doc["kind"] == Kind.CALLBACK.value and result:
        return _scored(facts, _parse(result["at"]), result["satisfaction"])
    return facts


def _scored(facts: ItemFacts, at: datetime, satisfaction: int) -> ItemFacts:
    return ItemFacts(facts.answered_at, facts.answered_by, facts.reopened, facts.reassigned,
                     facts.first_contact, facts.closed_at, at, satisfaction)


def _same(at: datetime) -> datetime:
    return at


def _parse(at: str | datetime) -> datetime:
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)
