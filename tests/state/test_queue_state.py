"""The in-memory queue: what the screens read must stay true as rows change.
Indexes kept for speed (a customer's items) must agree with a plain walk of
every row, and counting in slices must give what one full count gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csq.domain.sla import DEFAULT_POLICY
from csq.state.filter import Filter, parse_filter
from csq.state.queue import RESULTS_MENDED, SCAN_STEP, QueueState

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def doc(item_id: int, customer_id: int, status: str = "open", kind: str = "ticket",
        **extra: Any) -> dict[str, Any]:
    at = (NOW - timedelta(hours=item_id % 50)).isoformat()
    return {"id": item_id, "kind": kind, "status": status, "customer_id": customer_id,
            "subject": f"停电 {item_id}", "priority": "P3", "created_at": at,
            "sla_start": at, "due_at": (NOW + timedelta(hours=item_id % 7 - 3)).isoformat(),
            **extra}


def queue(*docs: dict[str, Any]) -> QueueState:
    q = QueueState("alice", DEFAULT_POLICY)
    q.load(docs, [{"id": c, "name": f"客户{c}", "tier": "B"} for c in range(1, 6)], NOW)
    return q


def walked(q: QueueState, customer_id: int) -> list[int]:
    """The same question answered by walking every row in queue order."""
    done = {("ticket", "closed"), ("ticket", "resolved"), ("callback", "completed"),
            ("callback", "waived"), ("complaint", "closed")}
    return [r.id for r in q.ordered()
            if r.customer_id == customer_id and (r.kind, r.status) not in done]


def test_a_customers_open_items_follow_every_change_of_the_queue() -> None:
    q = queue(doc(1, 1), doc(2, 1, status="closed"), doc(3, 2), doc(4, 1, kind="callback",
              status="scheduled"), doc(5, 1, kind="callback", status="completed"))
    assert [r.id for r in q.open_items_of(1)] == walked(q, 1)
    assert sorted(r.id for r in q.open_items_of(1)) == [1, 4]
    q.upsert([doc(3, 1)])  # the item moves to another customer
    q.upsert([doc(1, 1, status="closed")])  # and one is finished
    q.remove([4])
    for customer in (1, 2):
        assert [r.id for r in q.open_items_of(customer)] == walked(q, customer)
    assert [r.id for r in q.open_items_of(1)] == [3]
    assert q.open_items_of(2) == [] and q.open_items_of(99) == []


def test_counting_in_slices_gives_what_one_count_gives() -> None:
    q = queue(*(doc(i, i % 5 + 1, owner="alice" if i % 3 else None,
                    kind=("ticket", "complaint", "callback")[i % 3],
                    status=("open", "in_progress", "scheduled")[i % 3])
                for i in range(1, 5001)))
    steps = list(q.counting(NOW, chunk=700))
    assert steps[:-1] == [None] * 8  # a pause after every 700 rows: 5,000 rows, 8 pauses
    total = steps[-1]
    assert total is not None
    for tab in q.tabs:
        keep = q.predicate(tab, Filter(), NOW)
        assert total[tab] == sum(1 for r in q.rows.values() if keep(r)), tab


def test_a_narrow_filter_lets_the_screen_pause_however_few_rows_match() -> None:
    q = queue(*(doc(i, 1) for i in range(1, 3001)), doc(3001, 2, subject="唯一的停水投诉"))
    steps = list(q.iter_view("all", parse_filter("停水"), NOW))
    matches = [s for s in steps if s is not None]
    assert [r.id for r in matches] == [3001]
    # A chance to pause after every SCAN_STEP rows walked (the last block is short).
    assert steps.count(None) == -(-3001 // SCAN_STEP)
    assert [r.id for r in q.view("all", parse_filter("停水"), NOW)] == [3001]


def test_a_filter_typed_back_to_walks_only_its_own_result_mended_as_the_queue_changes(
) -> None:
    docs = [doc(i, 1, subject=("停电 power cut", "快递延误")[i % 3 == 0])
            for i in range(1, 3001)]
    q = queue(*docs)
    wide = q.view("all", parse_filter("停"), NOW)
    q.view("all", parse_filter("停电"), NOW)  # typed on
    steps = list(q.iter_view("all", parse_filter("停"), NOW))  # backspace
    assert [r for r in steps if r is not None] == wide
    assert steps.count(None) == -(-len(wide) // SCAN_STEP)  # its 2,000 rows, not 3,000
    q.upsert([doc(3001, 1, subject="停水")])
    steps = list(q.iter_view("all", parse_filter("停"), NOW))  # its result, mended
    assert steps.count(None) == -(-(len(wide) + 1) // SCAN_STEP)
    fresh = queue(*docs, doc(3001, 1, subject="停水")).view("all", parse_filter("停"), NOW)
    assert [r.id for r in steps if r is not None] == [r.id for r in fresh]


def crossing_queue() -> QueueState:
    """2,000 open items whose deadlines fall from 20 minutes ago to 70 minutes ahead."""
    return queue(*(doc(i, i % 5 + 1, priority=("P2", "P3")[i % 2],
                       owner="alice" if i % 4 else None,
                       subject=("停电 power cut", "快递延误")[i % 3 == 0],
                       due_at=(NOW + timedelta(minutes=i % 90 - 20)).isoformat())
                   for i in range(1, 2001)))


@pytest.mark.parametrize(("tab", "text"), [("all", ""), ("mine", ""), ("all", "停电"),
                                           ("unassigned", "停电")])
def test_rows_whose_deadline_passed_move_as_a_fresh_view_would_place_them(
        tab: str, text: str) -> None:
    q, flt = crossing_queue(), parse_filter(text)
    assert not q.time_dependent(tab, flt)
    before = q.view(tab, flt, NOW)
    later = NOW + timedelta(minutes=5)
    moved = q.tick(later)
    assert 0 < len(moved) <= RESULTS_MENDED  # those rows jump into the breached group
    mended = q.known_view(tab, flt, later)
    assert mended is not None
    assert tab != "all" or mended != before  # the moved rows went up to the breached
    keep = q.predicate(tab, flt, later)
    assert [r.id for r in mended] == [r.id for r in q.ordered() if keep(r)]


def test_views_that_time_changes_are_not_mended_but_walked_again() -> None:
    q = crossing_queue()
    assert q.time_dependent("breaching", Filter())
    assert q.time_dependent("all", parse_filter("due:today"))


def test_search_text_made_ahead_is_what_a_search_would_make() -> None:
    docs = [doc(i, i % 5 + 1, subject=f"停电 power cut {i}") for i in range(1, 1201)]
    ahead, lazy = queue(*docs), queue(*docs)
    steps = list(ahead.build_index())
    assert len(steps) > -(-1200 // SCAN_STEP)  # in slices, a pause between them
    lazy.view("all", parse_filter("客户3"), NOW)  # makes them on the way
    assert all(ahead.rows[i].haystack == lazy.rows[i].haystack != "" for i in lazy.rows)
    assert [r.id for r in ahead.view("all", parse_filter("客户3"), NOW)] == \
        [r.id for r in lazy.view("all", parse_filter("客户3"), NOW)]


@pytest.mark.parametrize("indexed", [False, True])
def test_a_walk_begun_before_a_change_is_not_remembered_as_a_result(indexed: bool) -> None:
    q = queue(*(doc(i, 1) for i in range(1, 2001)))
    for _ in q.build_index() if indexed else ():
        pass
    walk = q.iter_view("all", parse_filter("停"), NOW)
    q.upsert([doc(2001, 1, subject="停水")])  # lands while the walk is under way
    q.remove([5])  # and a row it has not reached yet goes
    again = q.iter_view("all", parse_filter("停"), NOW)  # the same filter, walked anew
    stale = [r.id for r in walk if r is not None]  # finishes after both changes
    assert 2001 not in stale  # it walked the queue as it was when it began
    assert q.known_view("all", parse_filter("停"), NOW) is None  # not kept as a result
    assert [r.id for r in q.view("all", parse_filter("停水"), NOW)] == [2001]
    fresh = [r.id for r in again if r is not None]
    assert 2001 in fresh and 5 not in fresh
    q.upsert([doc(7, 1, status="closed")])  # mending what was kept does not trip on 5
    assert [r.id for r in q.known_view("all", parse_filter("停"), NOW) or []] == \
        [i for i in fresh if i != 7]


def test_a_filter_on_status_is_not_narrowed_from_a_view_of_open_items() -> None:
    """Every view leaves finished items out unless it speaks of status; a result
    kept from such a view cannot hold what `status:closed` or `open:no` shows."""
    q = queue(doc(1, 1), doc(2, 1, status="closed"), doc(3, 2, status="resolved"))
    q.view("all", parse_filter(""), NOW)
    q.view("all", parse_filter("停电"), NOW)
    assert [r.id for r in q.view("all", parse_filter("status:closed"), NOW)] == [2]
    assert [r.id for r in q.view("all", parse_filter("停电 open:no"), NOW)] == [2]
    assert sorted(r.id for r in q.view("all", parse_filter("status:open,closed"), NOW)) \
        == [1, 2]


def test_an_index_begun_before_a_load_is_built_on_the_new_rows() -> None:
    """load replaces every row; a build_index under way begins again on them, in
    either of its phases, instead of indexing the old rows or failing."""
    for phase in ("ordering", "columns"):
        q = queue(*many_rows(300))
        steps = q.build_index()
        next(steps)
        while phase == "columns" and not q._hays_ready:
            next(steps)
        q.load([doc(1, 1, status="closed"), doc(2, 2)], [{"id": 2, "name": "客户2",
                                                         "tier": "A"}], NOW)
        for _ in steps:
            pass
        assert [r.id for r in q.view("all", parse_filter(""), NOW)] == [2], phase
        assert [r.id for r in q._order or []] == [r.id for r in q.ordered()] == [2, 1]


def test_a_view_walked_before_is_given_whole_and_sorted_and_follows_changes() -> None:
    q = queue(*(doc(i, i % 5 + 1) for i in range(1, 1201)))
    assert q.known_view("all", parse_filter("客户3"), NOW) is None  # never walked
    walked = q.view("all", parse_filter("客户3"), NOW)
    assert q.known_view("all", parse_filter("客户3"), NOW) == walked
    q.sort_column = "id"
    q.sort_reverse = True
    assert [r.id for r in q.known_view("all", parse_filter("客户3"), NOW) or []] == \
        sorted((r.id for r in walked), reverse=True)
    q.upsert([doc(1201, 3)])
    assert 1201 in [r.id for r in q.known_view("all", parse_filter("客户3"), NOW) or []]


def test_a_view_that_depends_on_time_is_walked_again_not_given_from_before() -> None:
    q = queue(*(doc(i, 1, due_at=(NOW + timedelta(minutes=30 + i)).isoformat())
                for i in range(1, 41)))
    before = q.view("all", parse_filter("sla:at_risk"), NOW)
    later = NOW + timedelta(minutes=30)
    assert q.known_view("all", parse_filter("sla:at_risk"), later) is None
    again = q.view("all", parse_filter("sla:at_risk"), later)
    assert len(again) > len(before)  # rows came into "at risk" as time passed


FILTERS = ["", "停电", "power", "客户3", "p", "停电 cut", "kind:complaint", "kind:ticket 停",
           "pri:P1,P2", "owner:me", "owner:none", "owner:bob 停电", "tier:a", "tier:b,c",
           "status:open", "status:closed", "status:resolved,open", "open:no", "escalated",
           "escalated:no", "channel:phone", "tag:vip", "tag:vip 快递", "sla:breached",
           "due:today,overdue", "kind:callback pri:P2 owner:alice 快"]


def many_rows(count: int) -> list[dict[str, Any]]:
    kinds = ("ticket", "complaint", "callback")
    statuses = {"ticket": ("open", "in_progress", "resolved", "closed"),
                "complaint": ("open", "routed", "closed"),
                "callback": ("scheduled", "completed", "waived")}
    return [doc(i, i % 5 + 1, kind=kinds[i % 3], status=statuses[kinds[i % 3]][i % 4 % len(
                statuses[kinds[i % 3]])], owner=(None, "alice", "Bob")[i % 3 if i % 7 else 0],
                priority=f"P{i % 4 + 1}", channel=("phone", "web")[i % 2],
                tags=["vip"] if i % 11 == 0 else [], escalated=i % 13 == 0,
                subject=("停电 power cut", "快递延误", "Power bill")[i % 3])
            for i in range(1, count + 1)]


def every_view(q: QueueState, now: datetime) -> dict[tuple[str, str], list[int]]:
    return {(tab, text): [r.id for r in q.view(tab, parse_filter(text), now)]
            for tab in q.tabs for text in FILTERS}


def test_filtering_by_columns_keeps_what_testing_each_row_keeps() -> None:
    """The indexed queue tests whole columns at once; the plain one, each row. They
    must agree on every filter, before and after rows, customers and time change
    (each change moves rows in the columns, which must move with them)."""
    docs = many_rows(1200)
    indexed, plain = queue(*docs), queue(*docs)
    for _ in indexed.build_index():
        pass
    assert indexed._columns and indexed._order is not None  # the columns are in use

    def truth(q: QueueState, now: datetime) -> dict[tuple[str, str], list[int]]:
        return {(tab, text): [r.id for r in q.ordered()
                              if q.predicate(tab, parse_filter(text), now)(r)]
                for tab in q.tabs for text in FILTERS}

    def same(now: datetime) -> None:
        expected = truth(plain, now)
        assert every_view(indexed, now) == expected
        assert every_view(plain, now) == expected
        assert sum(map(len, expected.values())) > 0

    same(NOW)
    changes = [doc(7, 2, kind="complaint", status="open", subject="新的 停电", priority="P1"),
               doc(1201, 4, owner="alice", subject="快递 new", tags=["vip"]),
               doc(12, 1, status="closed"), doc(15, 3, escalated=True, owner=None)]
    for q in (indexed, plain):
        q.upsert(changes)
        q.remove([20, 21, 1199])
        q.upsert_customers([{"id": 3, "name": "改名 power", "tier": "A"}])
    same(NOW)
    later = NOW + timedelta(hours=2)
    assert indexed.tick(later) == plain.tick(later) != set()
    same(later)


def test_results_kept_are_mended_as_rows_change_to_what_a_fresh_walk_finds() -> None:
    """A remembered result is given whole on backspace and narrowed from as the
    agent types; rows changing, arriving, leaving or crossing their deadline must
    leave it as a fresh walk would find it, not as it was."""
    docs = many_rows(600)
    q = queue(*docs)
    for _ in q.build_index():
        pass
    kept = [("all", "停电"), ("all", ""), ("mine", ""), ("complaints", "快"),
            ("all", "tier:b power"), ("unassigned", "kind:ticket")]
    for tab, text in kept:
        q.view(tab, parse_filter(text), NOW)

    def fresh(tab: str, text: str, now: datetime) -> list[int]:
        keep = q.predicate(tab, parse_filter(text), now)
        return [r.id for r in q.ordered() if keep(r)]

    def check(now: datetime) -> None:
        for tab, text in kept:
            mended = q.known_view(tab, parse_filter(text), now)
            assert mended is not None, (tab, text)  # still given whole
            assert [r.id for r in mended] == fresh(tab, text, now), (tab, text)

    q.upsert([doc(3, 2, subject="停电 again", owner="alice"),  # moves into some, out of others
              doc(601, 1, subject="快递 停电", kind="complaint"),  # new
              doc(10, 4, status="closed"),  # finished: leaves every view
              doc(11, 2, priority="P1", owner=None)])  # moves up the order
    check(NOW)
    q.remove([4, 5, 601])
    check(NOW)
    q.upsert_customers([{"id": 2, "name": "停电客户", "tier": "A"}])  # text and tier change
    check(NOW)
    later = NOW + timedelta(hours=3)
    assert q.tick(later)
    check(later)
    q.upsert([doc(i, 3, subject="批量") for i in range(1, 300)])  # a sync batch: forgotten
    assert q.known_view("all", parse_filter("停电"), later) is None


def test_an_item_is_found_in_a_view_by_its_place_in_the_order() -> None:
    q = queue(*many_rows(500))
    view = q.view("all", parse_filter("停电"), NOW)
    assert view and all(q.position(view, r.id) == n for n, r in enumerate(view))
    absent = [i for i in q.rows if i not in {r.id for r in view}]
    assert absent and all(q.position(view, i) is None for i in absent)
    assert q.position(view, 99999) is None
    q.cycle_sort("id")  # a column sort: the order says nothing, the caller searches
    assert q.position(view, view[3].id) is None


def test_an_index_built_while_the_queue_changes_holds_every_change() -> None:
    """build_index runs in steps between frames; rows placed between its steps
    (the stream does not wait) must be in the order and the columns it leaves."""
    docs = many_rows(1200)
    indexed, plain = queue(*docs), queue(*docs)
    while_ordering = [doc(1201, 2, subject="停电 first")]
    while_columns = [[doc(5, 3, status="closed")],
                     [doc(1202, 1, subject="power 快递", kind="complaint")]]
    for _ in indexed.build_index():
        batch = while_ordering if indexed._order is None else \
            while_columns.pop() if indexed._hays_ready and while_columns else None
        if batch:
            indexed.upsert(batch)
            plain.upsert(batch)
            while_ordering = []
    assert not while_ordering and not while_columns  # each batch landed mid-build
    assert [r.id for r in indexed._order or []] == [r.id for r in plain.ordered()]
    assert set(indexed._columns) >= {"hay", "open"}
    assert every_view(indexed, NOW) == every_view(plain, NOW)
