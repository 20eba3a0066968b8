"""The in-memory queue: what the screens read must stay true as rows change.
Indexes kept for speed (a customer's items) must agree with a plain walk of
every row, and counting in slices must give what one full count gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csq.domain.sla import DEFAULT_POLICY
from csq.state.filter import Filter, parse_filter
from csq.state.queue import SCAN_STEP, QueueState

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


def test_a_filter_typed_back_to_walks_only_its_own_result_until_the_queue_changes() -> None:
    docs = [doc(i, 1, subject=("停电 power cut", "快递延误")[i % 3 == 0])
            for i in range(1, 3001)]
    q = queue(*docs)
    wide = q.view("all", parse_filter("停"), NOW)
    q.view("all", parse_filter("停电"), NOW)  # typed on
    steps = list(q.iter_view("all", parse_filter("停"), NOW))  # backspace
    assert [r for r in steps if r is not None] == wide
    assert steps.count(None) == -(-len(wide) // SCAN_STEP)  # its 2,000 rows, not 3,000
    q.upsert([doc(3001, 1, subject="停水")])
    steps = list(q.iter_view("all", parse_filter("停"), NOW))  # changed: the whole queue
    assert steps.count(None) == -(-3001 // SCAN_STEP)
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
    later = NOW + timedelta(minutes=45)
    moved = q.tick(later)
    assert moved  # deadlines passed: those rows jump into the breached group
    moved_view = q.reposition(before, moved, tab, flt, later)
    assert [r.id for r in moved_view] == [r.id for r in q.view(tab, flt, later)]


def test_views_that_time_changes_are_not_repositioned_but_walked_again() -> None:
    q = crossing_queue()
    assert q.time_dependent("breaching", Filter())
    assert q.time_dependent("all", parse_filter("due:today"))


def test_search_text_made_ahead_is_what_a_search_would_make() -> None:
    docs = [doc(i, i % 5 + 1, subject=f"停电 power cut {i}") for i in range(1, 1201)]
    ahead, lazy = queue(*docs), queue(*docs)
    steps = list(ahead.build_haystacks())
    assert len(steps) == -(-1200 // SCAN_STEP)  # in slices, a pause between them
    lazy.view("all", parse_filter("客户3"), NOW)  # makes them on the way
    assert all(ahead.rows[i].haystack == lazy.rows[i].haystack != "" for i in lazy.rows)
    assert [r.id for r in ahead.view("all", parse_filter("客户3"), NOW)] == \
        [r.id for r in lazy.view("all", parse_filter("客户3"), NOW)]


def test_a_walk_begun_before_a_change_is_not_remembered_as_a_result() -> None:
    q = queue(*(doc(i, 1) for i in range(1, 2001)))
    walk = q.iter_view("all", parse_filter("停"), NOW)
    q.upsert([doc(2001, 1, subject="停水")])  # lands while the walk is under way
    stale = [r for r in walk if r is not None]
    q.finish_view("all", parse_filter("停"), NOW, stale)
    narrowed = q.view("all", parse_filter("停水"), NOW)
    assert [r.id for r in narrowed] == [2001]


def test_a_view_walked_before_is_given_whole_until_the_queue_changes() -> None:
    q = queue(*(doc(i, i % 5 + 1) for i in range(1, 1201)))
    assert q.known_view("all", parse_filter("客户3"), NOW) is None  # never walked
    walked = q.view("all", parse_filter("客户3"), NOW)
    assert q.known_view("all", parse_filter("客户3"), NOW) == walked
    q.sort_column = "id"
    q.sort_reverse = True
    assert [r.id for r in q.known_view("all", parse_filter("客户3"), NOW) or []] == \
        sorted((r.id for r in walked), reverse=True)
    q.upsert([doc(1201, 3)])
    assert q.known_view("all", parse_filter("客户3"), NOW) is None


def test_a_view_that_depends_on_time_is_walked_again_not_given_from_before() -> None:
    q = queue(*(doc(i, 1, due_at=(NOW + timedelta(minutes=30 + i)).isoformat())
                for i in range(1, 41)))
    before = q.view("all", parse_filter("sla:at_risk"), NOW)
    later = NOW + timedelta(minutes=30)
    assert q.known_view("all", parse_filter("sla:at_risk"), later) is None
    again = q.view("all", parse_filter("sla:at_risk"), later)
    assert len(again) > len(before)  # rows came into "at risk" as time passed
