"""The filter language of `/`: free text plus `key:value` terms.

    停电 kind:complaint pri:P1,P2 owner:me tier:A status:open sla:breached
    due:today tag:vip channel:phone

Terms are ANDed; commas inside a term are ORs. Free text matches id,
subject, body and customer name, case-insensitively (Chinese included).
An unknown key is an error the filter bar shows, not a silent no-match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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


def build_haystack(row: QueueRow, customers: dict[int, CustomerInfo]) -> str:
    """What free text is matched against, kept on the row until it or its
    customer changes (QueueState clears it)."""
    c = customers.get(row.customer_id)
    row.haystack = normalise(
        f"{row.id} {row.subject} {row.body_text} {c.name if c else ''}").casefold()
    return row.haystack


def compile_filter(flt: Filter, *, me: str, customers: dict[int, CustomerInfo],
                   now: datetime, policy: SlaPolicy) -> Predicate:
    checks: list[Predicate] = []
    zone = ZoneInfo(policy.quiet.tz)
    for key, values in flt.terms:
        checks.append(_term(key, values, me=me, customers=customers, now=now, policy=policy,
                            zone=zone))
    words = flt.text

    def haystack(row: QueueRow) -> str:
        return build_haystack(row, customers)

    # These run once per row per keystroke (50,000 times): one word, the usual
    # case, is one `in`, and two checks are one `and`, not a generator.
    if len(words) == 1:
        word = words[0]
        checks.append(lambda row: word in (row.haystack or haystack(row)))
    elif words:
        checks.append(lambda row: all(w in (row.haystack or haystack(row)) for w in words))
    if not checks:
        return lambda row: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda row: first(row) and second(row)
    return lambda row: all(check(row) for check in checks)


def _term(key: str, values: frozenset[str], *, me: str, customers: dict[int, CustomerInfo],
          now: datetime, policy: SlaPolicy, zone: ZoneInfo) -> Predicate:
    if key == "kind":
        return lambda r: r.kind in values
    if key == "pri":
        wanted = {v.upper() if v.startswith("p") else f"P{v}" for v in values}
        return lambda r: r.priority in wanted
    if key == "owner":
        names = {me if v == "me" else v for v in values}
        none = "none" in values or "-" in values
        return lambda r: (r.owner is None and none) or (r.owner or "").lower() in names
    if key == "tier":
        return lambda r: (c := customers.get(r.customer_id)) is not None \
            and c.tier.lower() in values
    if key == "status":
        if "open" in values and len(values) == 1:
            return lambda r: (r.kind, r.status) not in DONE_PAIRS
        return lambda r: r.status in values
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
    if key == "channel":
        return lambda r: r.channel in values
    if key == "escalated":
        want = "no" not in values
        return lambda r: r.escalated == want
    if key == "open":
        want_open = "no" not in values and "false" not in values
        return lambda r: ((r.kind, r.status) in DONE_PAIRS) != want_open
    raise FilterError(f"unknown filter key {key!r}")
