"""The queue in memory: every row, kept in the domain's queue order.

The order is maintained incrementally (bisect on sort keys), because a full
sort of 50,000 rows costs more than a frame. Time moves rows too: when an
item's due time passes it jumps to the breached group; a heap of due times
finds exactly those rows each tick. Filtering walks the ordered list once;
typing that narrows the previous filter walks only the previous result.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from csq.domain.lifecycle import SLA_MET_STATUSES
from csq.domain.priority import Priority, Tier
from csq.domain.sla import SlaPolicy
from csq.state.filter import (
    DONE_PAIRS,
    Filter,
    Predicate,
    build_haystack,
    compile_filter,
    parse_filter,
)
from csq.state.rows import CustomerInfo, QueueRow

INF = float("inf")
# Plain-string lookups: enum construction per row costs more than the sort.
_NO_CLOCK = frozenset((k.value, s) for k, sts in SLA_MET_STATUSES.items() for s in sts)
_PRI_RANK = {p.value: p.rank for p in Priority}
_TIER_RANK = {t.value: t.rank for t in Tier}
SortKey = tuple[int, int, int, float, float, int]


@dataclass(frozen=True)
class Tab:
    """A saved filter shown as a tab; users add their own in the config file."""

    id: str
    title: str
    query: str


DEFAULT_TABS: tuple[Tab, ...] = (
    Tab("all", "All", ""),
    Tab("mine", "Mine", "owner:me"),
    Tab("unassigned", "Unassigned", "owner:none"),
    Tab("complaints", "Complaints", "kind:complaint"),
    Tab("callbacks", "Callbacks today", "kind:callback due:today,overdue"),
    Tab("breaching", "Breaching", "sla:breached,at_risk"),
)

RESULTS_KEPT = 8  # complete results remembered per version (see _known)
SCAN_STEP = 512  # rows walked between the chances iter_view gives a screen to pause

COLUMN_KEYS = ("id", "kind", "pri", "customer", "subject", "status", "owner", "channel", "sla")


class QueueState:
    def __init__(self, me: str, policy: SlaPolicy, tabs: Iterable[Tab] = DEFAULT_TABS) -> None:
        self.me = me
        self.policy = policy
        self.tabs = {t.id: t for t in tabs}
        self._tab_filters = {t.id: parse_filter(t.query) for t in self.tabs.values()}
        self.rows: dict[int, QueueRow] = {}
        self.customers: dict[int, CustomerInfo] = {}
        self._keys: list[SortKey] = []
        self._key_of: dict[int, SortKey] = {}
        self._of_customer: dict[int, set[int]] = {}  # customer id -> their item ids
        self._due: list[tuple[float, int]] = []
        self._now = 0.0
        self.version = 0
        self.sort_column: str | None = None
        self.sort_reverse = False
        # Complete results of this version, newest last: a filter typed on from one
        # of them walks only its rows, and one typed back to (backspace) is one.
        self._results: dict[tuple[str, tuple[str, ...], tuple[Any, ...]], list[QueueRow]] = {}
        self._walking: set[tuple[str, tuple[str, ...], tuple[Any, ...]]] = set()  # this version

    # -- keeping rows ------------------------------------------------------------------

    def _key(self, row: QueueRow) -> SortKey:
        due = row.due_at.timestamp() if row.due_at is not None else INF
        clock = due != INF and (row.kind, row.status) not in _NO_CLOCK
        breached = clock and due < self._now
        c = self.customers.get(row.customer_id)
        tier = _TIER_RANK.get(c.tier, 3) if c else 3
        if clock and not breached:
            heapq.heappush(self._due, (due, row.id))
        return (0 if breached else 1, _PRI_RANK.get(row.priority, 3), tier,
                due if clock else INF, row.created_at.timestamp(), row.id)

    def _place(self, row: QueueRow) -> None:
        old = self._key_of.pop(row.id, None)
        if old is not None:
            index = bisect_left(self._keys, old)
            if index < len(self._keys) and self._keys[index] == old:
                del self._keys[index]
        before = self.rows.get(row.id)
        if before is not None and before.customer_id != row.customer_id:
            self._of_customer.get(before.customer_id, set()).discard(row.id)
        self._of_customer.setdefault(row.customer_id, set()).add(row.id)
        self.rows[row.id] = row
        key = self._key(row)
        self._key_of[row.id] = key
        insort(self._keys, key)

    def load(self, items: Iterable[dict[str, Any]], customers: Iterable[dict[str, Any]],
             now: datetime, pending: Iterable[int] = ()) -> None:
        """Replace everything (cold start): one sort, not 50,000 inserts."""
        self._now = now.timestamp()
        self.customers = {int(c["id"]): CustomerInfo.from_doc(c) for c in customers}
        marked = set(pending)
        self.rows = {}
        self._due = []
        self._of_customer = {}
        for doc in items:
            row = QueueRow.from_doc(doc, pending=int(doc["id"]) in marked)
            self.rows[row.id] = row
            self._of_customer.setdefault(row.customer_id, set()).add(row.id)
        self._key_of = {rid: self._key(row) for rid, row in self.rows.items()}
        self._keys = sorted(self._key_of.values())
        self._bump()

    def upsert(self, docs: Iterable[dict[str, Any]], pending: Iterable[int] = ()) -> set[int]:
        marked = set(pending)
        changed = set()
        for doc in docs:
            row = QueueRow.from_doc(doc, pending=int(doc["id"]) in marked)
            self._place(row)
            changed.add(row.id)
        if changed:
            self._bump()
        return changed

    def remove(self, item_ids: Iterable[int]) -> None:
        for item_id in item_ids:
            old = self._key_of.pop(item_id, None)
            row = self.rows.pop(item_id, None)
            if row is not None:
                self._of_customer.get(row.customer_id, set()).discard(item_id)
            if old is not None:
                index = bisect_left(self._keys, old)
                if index < len(self._keys) and self._keys[index] == old:
                    del self._keys[index]
        self._bump()

    def upsert_customers(self, docs: Iterable[dict[str, Any]]) -> None:
        touched = set()
        for doc in docs:
            info = CustomerInfo.from_doc(doc)
            old = self.customers.get(info.id)
            self.customers[info.id] = info
            if old is None or old.tier != info.tier or old.name != info.name:
                touched.add(info.id)
        if touched:
            for row in [r for r in self.rows.values() if r.customer_id in touched]:
                row.haystack = ""
                self._place(row)
        self._bump()

    def tick(self, now: datetime) -> set[int]:
        """Move rows whose due time has just passed into the breached group."""
        self._now = now.timestamp()
        crossed = set()
        while self._due and self._due[0][0] < self._now:
            _, item_id = heapq.heappop(self._due)
            row = self.rows.get(item_id)
            key = self._key_of.get(item_id)
            if row is not None and key is not None and key[0] == 1 and key[3] < self._now:
                self._place(row)
                crossed.add(item_id)
        if crossed:
            self._bump()
        return crossed

    def _bump(self) -> None:
        self.version += 1
        self._results.clear()
        self._walking.clear()  # a walk begun before now ends with a stale result

    # -- reading -----------------------------------------------------------------------

    def ordered(self) -> list[QueueRow]:
        return [self.rows[k[-1]] for k in self._keys]

    def open_items_of(self, customer_id: int) -> list[QueueRow]:
        """The customer's items not yet done, in queue order: so the agent links
        to them instead of making the customer call twice. From an index, not a
        walk of every row (it is asked on every open of an item)."""
        rows = [self.rows[i] for i in self._of_customer.get(customer_id, ())]
        return sorted((r for r in rows if (r.kind, r.status) not in DONE_PAIRS),
                      key=lambda r: self._key_of[r.id])

    def predicate(self, tab: str, flt: Filter, now: datetime, *,
                  with_done: bool = False) -> Predicate:
        """Finished items are left out unless the filter speaks of status (or
        `with_done`: `csq ls --all`)."""
        combined = Filter(self._tab_filters[tab].text + flt.text,
                          self._tab_filters[tab].terms + flt.terms, flt.source)
        base = compile_filter(combined, me=self.me, customers=self.customers, now=now,
                              policy=self.policy)
        keys = {k for k, _ in combined.terms}
        if with_done or keys & {"status", "open"}:
            return base
        return lambda r: (r.kind, r.status) not in DONE_PAIRS and base(r)

    def iter_view(self, tab: str, flt: Filter, now: datetime, *,
                  with_done: bool = False) -> Iterator[QueueRow | None]:
        """The tab's rows matching `flt`, in order, lazily: a screen can show the
        first page before the whole queue has been walked. A None after every
        SCAN_STEP rows walked lets the screen stop at its frame budget however few
        rows match (a narrow filter over 50,000 rows walks them all for one match)."""
        keep = self.predicate(tab, flt, now, with_done=with_done)
        self._walking.add((tab, flt.text, flt.terms))
        known = None if with_done else self._known(tab, flt)
        if known is not None:
            narrowed: list[QueueRow] = known

            def blocks() -> Iterator[Iterable[QueueRow]]:
                for start in range(0, len(narrowed), SCAN_STEP):
                    yield narrowed[start:start + SCAN_STEP]
        else:
            # A copy of the order (a memcpy), so changes that land while a long scan
            # is under way cannot shift it; rows are looked up a block at a time.
            keys, row_of, last_of = list(self._keys), self.rows.__getitem__, itemgetter(-1)

            def blocks() -> Iterator[Iterable[QueueRow]]:
                for start in range(0, len(keys), SCAN_STEP):
                    yield map(row_of, map(last_of, keys[start:start + SCAN_STEP]))

        def walk() -> Iterator[QueueRow | None]:
            # filter() and map() run the per-row loop in C: the walk costs the
            # predicate and little else (all 50,000 rows: ~45 ms here, ~70 before).
            for block in blocks():
                yield from filter(keep, block)
                yield None

        return walk()

    def build_haystacks(self) -> Iterator[None]:
        """Make every row's search text, SCAN_STEP rows per step: done in the quiet
        after start, the first `/` search does not make 50,000 of them itself
        (~150 ms at once). Rows added later get theirs when first searched."""
        rows = list(self.rows.values())
        for start in range(0, len(rows), SCAN_STEP):
            for row in rows[start:start + SCAN_STEP]:
                if not row.haystack:
                    build_haystack(row, self.customers)
            yield None

    def _remember(self, tab: str, flt: Filter, rows: list[QueueRow], *,
                  walked: bool = True) -> None:
        key = (tab, flt.text, flt.terms)
        if walked and key not in self._walking:
            return  # walked over an older version: not a result of this one
        self._results.pop(key, None)
        self._results[key] = rows
        while len(self._results) > RESULTS_KEPT:
            del self._results[next(iter(self._results))]

    def known_view(self, tab: str, flt: Filter, now: datetime) -> list[QueueRow] | None:
        """The complete view of a filter already walked at this version (typed
        back to with backspace, or the tab shown again), or None: no walk at all,
        so the screen paints it whole in one frame rather than a screenful first."""
        key = (tab, flt.text, flt.terms)
        rows = None if self.time_dependent(tab, flt) else self._results.pop(key, None)
        if rows is None:
            return None
        self._results[key] = rows  # the most recent again
        if self.sort_column:
            rows = sorted(rows, key=self._column_key(self.sort_column, now),
                          reverse=self.sort_reverse)
        return rows

    def _known(self, tab: str, flt: Filter) -> list[QueueRow] | None:
        """The fewest rows known to hold every row `flt` keeps: its own result if
        it was typed before, else the smallest result it narrows."""
        if self.time_dependent(tab, flt):
            return None  # rows enter it as time passes (at risk, due today), not only leave
        exact = self._results.get((tab, flt.text, flt.terms))
        if exact is not None:
            return exact
        best: list[QueueRow] | None = None
        for (known_tab, text, terms), rows in self._results.items():
            if known_tab == tab and (best is None or len(rows) < len(best)) \
                    and flt.narrows(Filter(text, terms)):
                best = rows
        return best

    def finish_view(self, tab: str, flt: Filter, now: datetime,
                    rows: list[QueueRow]) -> list[QueueRow]:
        """Remember a complete result (to narrow from) and apply a column sort."""
        self._remember(tab, flt, rows)
        if self.sort_column:
            rows = sorted(rows, key=self._column_key(self.sort_column, now),
                          reverse=self.sort_reverse)
        return rows

    def view(self, tab: str, flt: Filter, now: datetime, *,
             with_done: bool = False) -> list[QueueRow]:
        rows = [r for r in self.iter_view(tab, flt, now, with_done=with_done) if r is not None]
        if with_done:  # not a result the screens may narrow from
            return rows
        return self.finish_view(tab, flt, now, rows)

    def time_dependent(self, tab: str, flt: Filter) -> bool:
        """Whether rows enter or leave this view as time passes (sla:, due:)."""
        terms = self._tab_filters[tab].terms + flt.terms
        return any(key in ("sla", "due") for key, _ in terms)

    def reposition(self, view: list[QueueRow], moved: set[int], tab: str, flt: Filter,
                   now: datetime) -> list[QueueRow]:
        """A complete view in queue order, with the `moved` rows (a deadline passed:
        QueueState.tick) put where they now belong, or left out if the filter no longer
        keeps them. What a fresh view would hold when nothing else changed and the view
        does not depend on time, without walking 50,000 rows once a second."""
        keep = self.predicate(tab, flt, now)
        rows = [r for r in view if r.id not in moved]
        for item_id in moved:
            row = self.rows.get(item_id)
            if row is not None and keep(row):
                insort(rows, row, key=lambda r: self._key_of[r.id])
        self._remember(tab, flt, rows, walked=False)
        return rows

    def counts(self, now: datetime) -> dict[str, int]:
        *_, done = self.counting(now)
        assert done is not None
        return done

    def counting(self, now: datetime, chunk: int = 1000) -> Iterator[dict[str, int] | None]:
        """Each tab's count, in one walk that pauses (yields None) every `chunk` rows
        and yields the counts at the end: at 50,000 rows counting costs ~150 ms, so a
        screen counts between frames instead of holding a keystroke that long."""
        keeps = [(tab, self.predicate(tab, Filter(), now)) for tab in self.tabs]
        out = dict.fromkeys(self.tabs, 0)
        rows = list(self.rows.values())
        for at in range(0, len(rows), chunk):
            for row in rows[at:at + chunk]:
                for tab, keep in keeps:
                    if keep(row):
                        out[tab] += 1
            yield None
        yield out

    def _column_key(self, column: str, now: datetime) -> Any:
        def customer(r: QueueRow) -> str:
            c = self.customers.get(r.customer_id)
            return c.name if c else ""

        return {
            "id": lambda r: r.id, "kind": lambda r: (r.kind, r.id),
            "pri": lambda r: (r.priority, r.id), "customer": lambda r: (customer(r), r.id),
            "subject": lambda r: (r.subject, r.id), "status": lambda r: (r.status, r.id),
            "owner": lambda r: (r.owner or "", r.id), "channel": lambda r: (r.channel, r.id),
            "sla": lambda r: (r.due_at.timestamp() if r.due_at else INF, r.id),
        }[column]

    def cycle_sort(self, column: str) -> None:
        """First press sorts ascending, second descending, third back to queue order."""
        if self.sort_column != column:
            self.sort_column, self.sort_reverse = column, False
        elif not self.sort_reverse:
            self.sort_reverse = True
        else:
            self.sort_column, self.sort_reverse = None, False
        self._bump()

