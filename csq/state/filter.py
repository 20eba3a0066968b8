"""The filter language of `/`: free text plus `key:value` terms.

    停电 kind:complaint pri:P1,P2 owner:me tier:A status:open sla:breached
    due:today tag:vip channel:phone

Terms are ANDed; commas inside a term are ORs. Free text matches id,
subject, body and customer name, case-insensitively (Chinese included).
An unknown key is an error the filter bar shows, not a silent no-match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import attrgetter, contains
from typing import Any
from zoneinfo import ZoneInfo

from csq.domain.lifecycle import DONE_STATUSES
from csq.domain.sla import SlaPolicy, SlaState, sla_state
from csq.domain.text import normalise
from csq.state.rows import CustomerInfo, QueueRow

DONE_PAIRS = frozenset((k.value, s) for k, sts in DONE_STATUSES.items() for s in sts)
KEYS = ("kind", "pri", "owner", "tier", "status", "sla", "due", "tag", "channel", "open",
        "escalated")
ALIASES = {"priority": "pri", "k": "kind", "p": "pri", "o": "owner", "s": "status"}


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Filter:
    text: tuple[str, ...] = ()
    terms: tuple[tuple[str, frozenset[str]], ...] = ()
    source: str = ""

    def narrows(self, other: Filter) -> bool:
        """True if every row this filter keeps, `other` kept too (so we may
        filter `other`'s result instead of the whole queue)."""
        if not set(other.terms) <= set(self.terms):
            return False
        return all(any(t.startswith(o) or o in t for t in self.text) for o in other.text) \
            and len(self.text) >= len(other.text)


def parse_filter(source: str) -> Filter:
    text: list[str] = []
    terms: list[tuple[str, frozenset[str]]] = []
    for word in source.split():
        key, sep, value = word.partition(":")
        if word.lower() == "escalated":
            terms.append(("escalated", frozenset({"yes"})))
            continue
        if sep and key.lower() in (*KEYS, *ALIASES):
            key = ALIASES.get(key.lower(), key.lower())
            values = frozenset(v.lower() for v in value.split(",") if v)
            if not values:
                raise FilterError(f"{key}: needs a value, e.g. {key}:{_example(key)}")
            terms.append((key, values))
        elif sep and key.isalpha() and key.isascii() and key.islower() and value:
            raise FilterError(f"unknown filter key {key!r}; keys: {', '.join(KEYS)}")
        else:
            text.append(normalise(word).casefold())
    return Filter(tuple(text), tuple(terms), source)


def _example(key: str) -> str:
    return {"kind": "complaint", "pri": "P1", "owner": "me", "tier": "A", "status": "open",
            "sla": "breached", "due": "today", "tag": "vip", "channel": "phone",
            "open": "no"}.get(key, "x")


Predicate = Callable[[QueueRow], bool]
Getter = Callable[[QueueRow], Any]


@dataclass(frozen=True)
class Check:
    """A test of one field of a row: its value is one of `accept`, or (free text)
    its text holds `word`. Kept as data, not a closure, so the queue can test a
    whole column of the field at once in C (QueueState._by_columns) and a single
    row the same way (`row_test`): one definition of what each term means."""

    field: str  # a key of row_fields()
    accept: frozenset[Any] = frozenset()
    word: str = ""

    def mask(self, column: Iterable[Any]) -> Iterator[bool]:
        if self.word:
            return map(contains, column, repeat(self.word))
        return map(self.accept.__contains__, column)


def _is_open(row: QueueRow) -> bool:
    return (row.kind, row.status) not in DONE_PAIRS


def _owner(row: QueueRow) -> str | None:
    return None if row.owner is None else row.owner.lower()


def row_fields(customers: dict[int, CustomerInfo]) -> dict[str, Getter]:
    """Every field a Check may test, by name: what a column of it holds."""

    def tier(row: QueueRow) -> str | None:
        c = customers.get(row.customer_id)
        return c.tier.lower() if c is not None else None

    def hay(row: QueueRow) -> str:
        return row.haystack or build_haystack(row, customers)

    return {"kind": attrgetter("kind"), "pri": attrgetter("priority"),
            "status": attrgetter("status"), "open": _is_open, "owner": _owner,
            "channel": attrgetter("channel"), "escalated": attrgetter("escalated"),
            "tier": tier, "hay": hay}


def build_haystack(row: QueueRow, customers: dict[int, CustomerInfo]) -> str:
    """What free text is matched against, kept on the row until it or its
    customer changes (QueueState clears it)."""
    c = customers.get(row.customer_id)
    row.haystack = normalise(
        f"{row.id} {row.subject} {row.body_text} {c.name if c else ''}").casefold()
    return row.haystack


OPEN_ONLY = Check("open", frozenset({True}))  # what every view shows unless asked


def compile_checks(flt: Filter, *, me: str, customers: dict[int, CustomerInfo],
                   now: datetime, policy: SlaPolicy) -> tuple[list[Check], list[Predicate]]:
    """The filter as Checks (tests of one field) and the tests that are not
    (tags, and the time-bound sla: and due:)."""
    checks: list[Check] = []
    rest: list[Predicate] = []
    zone = ZoneInfo(policy.quiet.tz)
    for key, values in flt.terms:
        term = _term(key, values, me=me, now=now, policy=policy, zone=zone)
        if isinstance(term, Check):
            checks.append(term)
        else:
            rest.append(term)
    checks.extend(Check("hay", word=word) for word in flt.text)
    return checks, rest


def row_test(check: Check, fields: dict[str, Getter]) -> Predicate:
    """`check` as a test of one row. These run once per row walked (50,000 times
    for a filter over the whole queue without columns): free text is one `in`."""
    if check.word:
        word, build = check.word, fields["hay"]
        return lambda row: word in (row.haystack or build(row))
    get, accept = fields[check.field], check.accept.__contains__
    return lambda row: accept(get(row))


def all_of(tests: list[Predicate]) -> Predicate:
    # One test, the usual case, is itself; two are one `and`, not a generator.
    if not tests:
        return lambda row: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda row: first(row) and second(row)
    return lambda row: all(test(row) for test in tests)


def _term(key: str, values: frozenset[str], *, me: str, now: datetime, policy: SlaPolicy,
          zone: ZoneInfo) -> Check | Predicate:
    if key in ("kind", "channel"):
        return Check(key, values)
    if key == "pri":
        return Check("pri", frozenset(v.upper() if v.startswith("p") else f"P{v}"
                                      for v in values))
    if key == "owner":
        names = {me.lower() if v == "me" else v for v in values}
        none = "none" in values or "-" in values
        return Check("owner", frozenset(names | ({None} if none else set())))
    if key == "tier":
        return Check("tier", values)
    if key == "status":
        if "open" in values and len(values) == 1:
            return OPEN_ONLY
        return Check("status", values)
    if key == "sla":
        states = {SlaState(v) for v in values if v in SlaState._value2member_map_}
        return lambda r: sla_state(r, now, policy) in states
    if key == "due":
        today = now.astimezone(zone).date()
        want_today, want_overdue = "today" in values, "overdue" in values

        def due(r: QueueRow) -> bool:  # due:today,overdue is either, as commas are elsewhere
            if r.due_at is None:
                return False
            if want_overdue and r.due_at < now and (r.kind, r.status) not in DONE_PAIRS:
                return True
            return want_today and r.due_at.astimezone(zone).date() == today

        return due
    if key == "tag":
        return lambda r: bool(values & {t.lower() for t in r.tags})
    if key == "escalated":
        return Check("escalated", frozenset({"no" not in values}))
    if key == "open":
        return Check("open", frozenset({"no" not in values and "false" not in values}))
    raise FilterError(f"unknown filter key {key!r}")
