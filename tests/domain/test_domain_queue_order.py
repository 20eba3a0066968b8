"""The one queue order (DOMAIN.md §5): breached first, then priority, tier, time left."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from csq.domain.kinds import Kind
from csq.domain.priority import Priority, Tier, queue_key
from csq.domain.sla import is_breached
from tests.domain.conftest import T0, items, make_item

_now = st.integers(-2 * 86400, 2 * 86400).map(lambda s: T0 + timedelta(seconds=s))
_tiers = st.none() | st.sampled_from(Tier)


@st.composite
def _queues(draw: st.DrawFn):
    """Several distinct items (distinct ids), each with its customer's tier."""
    rows = draw(st.lists(st.tuples(items(), _tiers), min_size=2, max_size=10))
    # Duplicates of one drawn item under different ids are the hardest case for ties.
    if draw(st.booleans()):
        rows.append(rows[0])
    return [(item.model_copy(update={"id": i + 1}), tier) for i, (item, tier) in enumerate(rows)]


@settings(max_examples=100, deadline=None)
@given(queue=_queues(), now=_now)
def test_queue_key_is_a_total_order_over_distinct_items(queue, now):
    keys = [queue_key(item, tier, now) for item, tier in queue]
    # No two distinct items compare equal.
    assert len(set(keys)) == len(keys)
    for ka, kb in itertools.combinations(keys, 2):
        # Antisymmetric and total: exactly one of <, > holds.
        assert (ka < kb) != (kb < ka)
    for ka, kb, kc in itertools.permutations(keys[:5], 3):
        if ka < kb and kb < kc:
            assert ka < kc  # transitive
    # So the sorted queue does not depend on the order items arrived in.
    ordered = sorted(queue, key=lambda row: queue_key(row[0], row[1], now))
    backwards = sorted(reversed(queue), key=lambda row: queue_key(row[0], row[1], now))
    assert [i.id for i, _ in ordered] == [i.id for i, _ in backwards]


@settings(max_examples=100, deadline=None)
@given(queue=_queues(), now=_now)
def test_queue_key_puts_every_breached_item_before_every_unbreached_one(queue, now):
    ordered = sorted(queue, key=lambda row: queue_key(row[0], row[1], now))
    flags = [is_breached(item, now) for item, _ in ordered]
    assert flags == sorted(flags, reverse=True)  # all True, then all False


def _key(item, tier=Tier.C, now=T0):
    return queue_key(item, tier, now)


def test_unbreached_items_go_by_priority_then_tier_then_time_left():
    p1 = make_item(id=1, priority=Priority.P1, due_at=T0 + timedelta(hours=20))
    p3_a = make_item(id=2, priority=Priority.P3, due_at=T0 + timedelta(hours=20))
    p3_c_soon = make_item(id=3, priority=Priority.P3, due_at=T0 + timedelta(hours=1))
    p3_c_late = make_item(id=4, priority=Priority.P3, due_at=T0 + timedelta(hours=9))
    queue = [(p3_c_late, Tier.C), (p3_a, Tier.A), (p3_c_soon, Tier.C), (p1, Tier.D)]
    ordered = sorted(queue, key=lambda row: _key(*row))
    assert [i.id for i, _ in ordered] == [1, 2, 3, 4]


def test_a_breached_p4_comes_before_an_unbreached_p1():
    late = make_item(id=1, priority=Priority.P4, due_at=T0 - timedelta(seconds=1))
    urgent = make_item(id=2, priority=Priority.P1, due_at=T0 + timedelta(minutes=5))
    assert _key(late, Tier.D) < _key(urgent, Tier.A)


def test_met_sla_is_never_breached_and_sorts_after_running_clocks():
    answered = make_item(Kind.TICKET, "resolved", id=1, due_at=T0 - timedelta(days=1))
    running = make_item(Kind.TICKET, "open", id=2, due_at=T0 + timedelta(days=5))
    assert not is_breached(answered, T0)
    assert _key(running) < _key(answered)


def test_identical_items_differing_only_in_id_are_ordered_by_id():
    one = make_item(id=7)
    two = one.model_copy(update={"id": 3})
    assert _key(two) < _key(one)
