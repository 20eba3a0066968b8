"""The queue in memory: every row, kept in the domain's queue order.

The order is maintained incrementally (bisect on sort keys), because a full
sort of 50,000 rows costs more than a frame. Time moves rows too: when an
item's due time passes it jumps to the breached group; a heap of due times
finds exactly those rows each tick. Filtering tests whole columns of the
ordered rows at once (in C), or walks only a previous result the filter narrows.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import compress
from operator import and_, attrgetter, itemgetter
from typing import Any

from csq.domain.lifecycle import SLA_MET_STATUSES
from csq.domain.priority import Priority, Tier
from csq.domain.sla import SlaPolicy
from csq.state.filter import (
    DONE_PAIRS,
    OPEN_ONLY,
    Check,
    Filter,
    Getter,
    Predicate,
    all_of,
    build_haystack,
    compile_checks,
    parse_filter,
    row_fields,
    row_test,
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

RESULTS_KEPT = 8  # complete results remembered (see _known)
# A change of more rows than this (a sync batch) forgets the results instead of
# mending each (~3 µs per row per result).
RESULTS_MENDED = 256
SCAN_STEP = 512  # rows walked between the chances iter_view gives a screen to pause
INDEX_STEP = 8192  # rows of the order or of a column made per build_index step
# Columns built with the search text in the quiet after start (the others, on first use).
EARLY_COLUMNS = ("hay", "open")
_HAYSTACK = attrgetter("haystack")

COLUMN_KEYS = ("id", "kind", "pri", "customer", "subject", "status", "owner", "channel", "sla")


def _all(masks: list[Iterator[bool]]) -> Iterator[bool]:
    """Every mask at once, element by element, in C."""
    mask = masks[0]
    for more in masks[1:]:
        mask = map(and_, mask, more)
    return mask


class QueueState:
    def __init__(self, me: str, policy: SlaPolicy, tabs: Iterable[Tab] = DEFAULT_TABS) -> None:
        self.me = me
        self.policy = policy
        self.tabs = {t.id: t for t in tabs}
        self._tab_filters = {t.id: parse_filter(t.query) for t in self.tabs.values()}
        self.rows: dict[int, QueueRow] = {}
        self.customers: dict[int, CustomerInfo] = {}
        self._keys: list[SortKey] = []
        # The rows in the order of _keys, and columns of their fields (filter.row_fields)
        # in the same order: a filter tests a whole column in one C loop. None and
        # empty until build_index (after the first paint: ~10 ms at 50,000 rows).
        self._order: list[QueueRow] | None = None
        self._columns: dict[str, list[Any]] = {}
        self._hays_ready = False  # every row has its search text: a "hay" column is cheap
        self._fields: dict[str, Getter] = row_fields(self.customers)
        self._key_of: dict[int, SortKey] = {}
        self._of_customer: dict[int, set[int]] = {}  # customer id -> their item ids
        self._due: list[tuple[float, int]] = []
        self._now = 0.0
        self.version = 0
        self.sort_column: str | None = None
        self.sort_reverse = False
        # Complete results, newest last, mended as rows change: a filter typed on from
        # one of them walks only its rows, and one typed back to (backspace) is one.
        self._results: dict[tuple[str, tuple[str, ...], tuple[Any, ...]], list[QueueRow]] = {}
        # Rows placed or removed since the last _bump, with their keys before (None: new).
        self._changed: dict[int, SortKey | None] = {}
        self._loads = 0  # load() calls: a build_index under way begins again after one

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
        self._changed.setdefault(row.id, old)
        if old is not None:
            self._unplace(old)
        before = self.rows.get(row.id)
        if before is not None and before.customer_id != row.customer_id:
            self._of_customer.get(before.customer_id, set()).discard(row.id)
        self._of_customer.setdefault(row.customer_id, set()).add(row.id)
        self.rows[row.id] = row
        key = self._key(row)
        self._key_of[row.id] = key
        index = bisect_left(self._keys, key)
        self._keys.insert(index, key)
        if self._order is not None:
            self._order.insert(index, row)
            for name, column in self._columns.items():
                column.insert(index, self._fields[name](row))

    def _unplace(self, key: SortKey) -> None:
        index = bisect_left(self._keys, key)
        if index < len(self._keys) and self._keys[index] == key:
            del self._keys[index]
            if self._order is not None:
                del self._order[index]
                for column in self._columns.values():
                    del column[index]

    def load(self, items: Iterable[dict[str, Any]], customers: Iterable[dict[str, Any]],
             now: datetime, pending: Iterable[int] = ()) -> None:
        """Replace everything (cold start): one sort, not 50,000 inserts."""
        self._now = now.timestamp()
        self.customers = {int(c["id"]): CustomerInfo.from_doc(c) for c in customers}
        self._fields = row_fields(self.customers)
        self._order, self._columns, self._hays_ready = None, {}, False
        self._loads += 1
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
        self._changed.clear()
        self._results.clear()
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
            self._changed.setdefault(item_id, old)
            row = self.rows.pop(item_id, None)
            if row is not None:
                self._of_customer.get(row.customer_id, set()).discard(item_id)
            if old is not None:
                self._unplace(old)
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
        changed, self._changed = self._changed, {}
        if len(changed) > RESULTS_MENDED:
            self._results.clear()
        elif changed:
            for key in list(self._results):
                self._results[key] = self._mended(key, changed)

    def _mended(self, key: tuple[str, tuple[str, ...], tuple[Any, ...]],
                changed: dict[int, SortKey | None]) -> list[QueueRow]:
        """A remembered result as a fresh walk would find it now that `changed` rows
        moved, came or went: without it, every deadline passing (at 50,000 items,
        nearly every second) would leave the next keystroke to walk the whole queue.
        A new list: the screen and unfinished walks may hold the old one."""
        tab, text, terms = key
        rows = list(self._results[key])
        before = {item_id: old for item_id, old in changed.items() if old is not None}
        key_of = self._key_of

        def placed(row: QueueRow) -> SortKey:  # where the list has it: old keys for changed
            return before[row.id] if row.id in before else key_of[row.id]

        for item_id, old in before.items():
            index = bisect_left(rows, old, key=placed)
            if index < len(rows) and rows[index].id == item_id:
                del rows[index]
        keep = self.predicate(tab, Filter(text, terms), datetime.fromtimestamp(self._now, UTC))
        for item_id in changed:
            row = self.rows.get(item_id)
            if row is not None and keep(row):
                insort(rows, row, key=lambda r: key_of[r.id])
        return rows

    # -- reading -----------------------------------------------------------------------

    def ordered(self) -> list[QueueRow]:
        if self._order is not None:
            return list(self._order)
        return [self.rows[k[-1]] for k in self._keys]

    def position(self, rows: list[QueueRow], item_id: int) -> int | None:
        """Where the item is in `rows`, a view in queue order, by bisect: the cursor
        stays on its item when a view of 50,000 rows replaces another, and a search
        from the top would take ~3 ms. None if it is not found this way (a column
        sort, an item gone, or a view of an older order): the caller searches."""
        key_of = self._key_of
        key = key_of.get(item_id)
        if key is None or self.sort_column is not None:
            return None
        index = bisect_left(rows, key, key=lambda r: key_of.get(r.id, key))
        return index if index < len(rows) and rows[index].id == item_id else None

    def open_items_of(self, customer_id: int) -> list[QueueRow]:
        """The customer's items not yet done, in queue order: so the agent links
        to them instead of making the customer call twice. From an index, not a
        walk of every row (it is asked on every open of an item)."""
        rows = [self.rows[i] for i in self._of_customer.get(customer_id, ())]
        return sorted((r for r in rows if (r.kind, r.status) not in DONE_PAIRS),
                      key=lambda r: self._key_of[r.id])

    def _plan(self, tab: str, flt: Filter, now: datetime,
              with_done: bool) -> tuple[list[Check], list[Predicate]]:
        """The tab's and the filter's tests together. Finished items are left out
        unless the filter speaks of status (or `with_done`: `csq ls --all`)."""
        combined = Filter(self._tab_filters[tab].text + flt.text,
                          self._tab_filters[tab].terms + flt.terms, flt.source)
        checks, rest = compile_checks(combined, me=self.me, customers=self.customers,
                                      now=now, policy=self.policy)
        if not (with_done or self._shows_finished(tab, flt)):
            checks.insert(0, OPEN_ONLY)
        return checks, rest

    def predicate(self, tab: str, flt: Filter, now: datetime, *,
                  with_done: bool = False) -> Predicate:
        """One row at a time: the tests of one field first (cheap), then the rest."""
        checks, rest = self._plan(tab, flt, now, with_done)
        return all_of([*(row_test(c, self._fields) for c in checks), *rest])

    def iter_view(self, tab: str, flt: Filter, now: datetime, *,
                  with_done: bool = False) -> Iterator[QueueRow | None]:
        """The tab's rows matching `flt`, in order, lazily: a screen can show the
        first page before the whole queue has been walked. A None after every
        SCAN_STEP rows walked lets the screen stop at its frame budget however few
        rows match (a narrow filter over 50,000 rows walks them all for one match)."""
        checks, rest = self._plan(tab, flt, now, with_done)
        began = self.version
        known, since = (None, None) if with_done else self._known(tab, flt)
        order = self._order
        if since is flt:
            checks, rest = [], []  # its own result at this version: nothing to test
        elif since is not None:  # what the known result was tested for is true of it
            done = set(self._plan(tab, since, now, with_done)[0])
            checks = [c for c in checks if c not in done]
        if order is not None and checks:
            # Test a field over many rows at once, in C: 50,000 rows in 3-12 ms (the
            # walk row by row: ~25 ms). A known result it narrows is the smaller start.
            tested = self._by_columns(order if known is None else known, checks)
            if tested is not None:
                known, checks = tested
        tests = [*(row_test(c, self._fields) for c in checks), *rest]
        keep = all_of(tests) if tests else None
        if known is None and order is not None:
            known = list(order)  # a copy (a memcpy), so changes cannot shift a long walk
        if known is not None:
            narrowed: list[QueueRow] = known

            def blocks() -> Iterator[Iterable[QueueRow]]:
                for start in range(0, len(narrowed), SCAN_STEP):
                    yield narrowed[start:start + SCAN_STEP]
        else:
            # Before build_index: a copy of the order, its rows looked up a block at a
            # time (a row removed meanwhile is passed over: the walk is stale anyway).
            keys, row_of, last_of = list(self._keys), self.rows.get, itemgetter(-1)

            def blocks() -> Iterator[Iterable[QueueRow]]:
                for start in range(0, len(keys), SCAN_STEP):
                    yield filter(None, map(row_of, map(last_of, keys[start:start + SCAN_STEP])))

        def walk() -> Iterator[QueueRow | None]:
            # filter() and map() run the per-row loop in C: a walk costs the tests
            # and little else (all 50,000 rows: ~25 ms warm, ~45 ms in the app).
            found: list[QueueRow] = []
            for block in blocks():
                kept = list(filter(keep, block) if keep else block)
                found += kept
                yield from kept
                yield None
            # Kept to narrow from, if it is this version's (nothing changed meanwhile):
            # the walk itself knows when it began, whoever else walks the same filter.
            if not with_done and self.version == began:
                self._remember(tab, flt, found)

        return walk()

    def _column(self, name: str) -> list[Any] | None:
        """The field's column, built on first use (~2 ms); the search text's only
        once every row has it (building it all at once takes ~150 ms)."""
        column = self._columns.get(name)
        if column is None and self._order is not None and (name != "hay" or self._hays_ready):
            column = self._columns[name] = list(map(self._fields[name], self._order))
        return column

    def _by_columns(self, rows: list[QueueRow],
                    checks: list[Check]) -> tuple[list[QueueRow], list[Check]] | None:
        """The rows passing every check that can be tested a column at a time, and
        the checks left to test row by row; None if none could be. Free text goes
        last, on what the other checks left: its test is the dearest. The whole
        queue is tested on its columns by position: reading its 50,000 rows, all
        over memory, would cost more than the tests. A part of it (a kept result)
        is tested on its rows' fields (attrgetter runs in C too). The result is a
        new list, so changes that land while it is walked cannot shift it."""
        words = [c for c in checks if c.word]
        fields = [c for c in checks if not c.word]
        left: list[Check] = []
        if rows is self._order:
            hay = self._column("hay") if words else None
            if hay is None:  # before build_index: some rows have no search text yet
                left, words = words, []
            if not fields and not words:
                return None
            everyone = range(len(rows))
            kept = list(_all([c.mask(self._column(c.field) or ()) for c in fields])) \
                if fields else None
            if hay is None or not words:
                picked: Iterable[int] = compress(everyone, kept or ())
            elif kept is None or kept.count(True) * 2 > len(kept):
                # The fields leave most rows: test the text of all in the same pass.
                picked = compress(everyone, _all([*([iter(kept)] if kept else []),
                                                  *(c.mask(hay) for c in words)]))
            else:  # few rows left: test only their text, found by position
                picked = list(compress(everyone, kept))
                for check in words:
                    picked = list(compress(picked, check.mask(map(hay.__getitem__, picked))))
            return list(map(rows.__getitem__, picked)), left
        if "hay" not in self._columns:
            left, words = words, []
        if not fields and not words:
            return None
        if fields:
            rows = list(compress(rows, _all(
                [c.mask(map(self._fields[c.field], rows)) for c in fields])))
        for check in words:
            rows = list(compress(rows, check.mask(map(_HAYSTACK, rows))))
        return rows, left

    def build_index(self) -> Iterator[None]:
        """Make the ordered rows, every row's search text and the columns every
        search reads, a step at a time (each ~1-2 ms at 50,000 rows): done in the
        quiet after start, so the first `/` search does not make them itself
        (~150 ms at once). A list made over several steps is begun again if the
        queue changed meanwhile; once made, rows are kept in it as they are placed."""
        loads = self._loads
        for _ in self._index_steps():
            yield None
            if self._loads != loads:  # everything was replaced: begin again on the new
                yield from self.build_index()
                return

    def _index_steps(self) -> Iterator[None]:
        last_of = itemgetter(-1)
        while self._order is None:
            version, order, row_of = self.version, list[QueueRow](), self.rows.__getitem__
            for start in range(0, len(self._keys), INDEX_STEP):
                order += map(row_of, map(last_of, self._keys[start:start + INDEX_STEP]))
                yield None
                if self.version != version:
                    break
            else:
                self._order = order
        rows = list(self.rows.values())
        for start in range(0, len(rows), SCAN_STEP):
            for row in rows[start:start + SCAN_STEP]:
                if not row.haystack:
                    build_haystack(row, self.customers)
            yield None
        self._hays_ready = True
        for name in EARLY_COLUMNS:
            while name not in self._columns:
                version, column, get = self.version, list[Any](), self._fields[name]
                order = self._order
                for start in range(0, len(order), INDEX_STEP):
                    column += map(get, order[start:start + INDEX_STEP])
                    yield None
                    if self.version != version:
                        break
                else:
                    self._columns[name] = column

    def _remember(self, tab: str, flt: Filter, rows: list[QueueRow]) -> None:
        key = (tab, flt.text, flt.terms)
        if self.time_dependent(tab, flt):
            return  # never given whole nor narrowed from (see _known)
        self._results.pop(key, None)
        self._results[key] = rows
        while len(self._results) > RESULTS_KEPT:
            del self._results[next(iter(self._results))]

    def known_view(self, tab: str, flt: Filter, now: datetime) -> list[QueueRow] | None:
        """The complete view of a filter walked before and mended since (typed
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

    def _known(self, tab: str,
               flt: Filter) -> tuple[list[QueueRow], Filter] | tuple[None, None]:
        """The fewest rows known to hold every row `flt` keeps, and the filter they
        are the result of: its own result if it was typed before, else the smallest
        result it narrows."""
        if self.time_dependent(tab, flt):
            return None, None  # rows enter it as time passes (at risk, due today)
        exact = self._results.get((tab, flt.text, flt.terms))
        if exact is not None:
            return exact, flt
        best: tuple[list[QueueRow], Filter] | tuple[None, None] = None, None
        with_finished = self._shows_finished(tab, flt)
        for (known_tab, text, terms), rows in self._results.items():
            if known_tab == tab and (best[0] is None or len(rows) < len(best[0])) \
                    and flt.narrows(known := Filter(text, terms)) \
                    and (not with_finished or self._shows_finished(tab, known)):
                best = rows, known
        return best

    def _shows_finished(self, tab: str, flt: Filter) -> bool:
        """Whether the view may hold finished items: only if it speaks of status
        (see _plan). A result without them cannot be narrowed to one with them."""
        return any(key in ("status", "open") for key, _ in self._tab_filters[tab].terms + flt.terms)

    def finish_view(self, now: datetime, rows: list[QueueRow]) -> list[QueueRow]:
        """A complete walk's rows with the column sort applied (the walk kept them
        in queue order to narrow from)."""
        if self.sort_column:
            rows = sorted(rows, key=self._column_key(self.sort_column, now),
                          reverse=self.sort_reverse)
        return rows

    def view(self, tab: str, flt: Filter, now: datetime, *,
             with_done: bool = False) -> list[QueueRow]:
        rows = [r for r in self.iter_view(tab, flt, now, with_done=with_done) if r is not None]
        return rows if with_done else self.finish_view(now, rows)

    def time_dependent(self, tab: str, flt: Filter) -> bool:
        """Whether rows enter or leave this view as time passes (sla:, due:)."""
        terms = self._tab_filters[tab].terms + flt.terms
        return any(key in ("sla", "due") for key, _ in terms)

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

