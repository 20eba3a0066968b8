"""Sequences of actions against the life-cycle tables (DOMAIN.md §3, §6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from csq.domain import actions as a
from csq.domain.engine import apply_action
from csq.domain.errors import CallbackRequired
from csq.domain.kinds import Kind
from csq.domain.lifecycle import TRANSITIONS
from tests.domain.conftest import (
    AGENT,
    COMPLAINT_ID,
    LEAD,
    T0,
    Step,
    World,
    customers,
    make_customer,
    seeds,
    steps,
    texts,
)

SEQUENCE_SETTINGS = settings(max_examples=100, deadline=None)


@SEQUENCE_SETTINGS
@given(
    customer_list=st.lists(customers, min_size=1, max_size=3),
    seed_list=st.lists(seeds((Kind.TICKET, Kind.COMPLAINT, Kind.COMPLAINT, Kind.CALLBACK)),
                       min_size=1, max_size=4),
    step_list=st.lists(steps(), min_size=15, max_size=40),
)
def test_action_sequences_stay_in_table_grow_version_keep_first_owner_refusals_change_nothing(
        customer_list, seed_list, step_list):
    """Whatever anyone does, in any order: every status is in the kind's table and
    reached along its edges, the version only grows, first_owner never changes once
    set, and a refused action leaves the item exactly as it was. Spawned callbacks
    are created and acted on like any other item."""
    world = World.start(customer_list, seed_list)
    first_owners: dict[int, str] = {}
    for step in step_list:
        versions = {i: item.version for i, item in world.items.items()}
        world.apply(step)
        for item_id, item in world.items.items():
            assert item.version >= versions.get(item_id, 1)
            if item_id in first_owners:
                assert item.first_owner == first_owners[item_id]
            elif item.first_owner is not None:
                first_owners[item_id] = item.first_owner
    callbacks = [i for i in world.items.values() if i.kind == Kind.CALLBACK]
    event(f"callbacks in world: {min(len(callbacks), 3)}")
    event(f"refusals: {'none' if not world.refusals else 'some'}")


# The verbs that matter for closing a complaint, drawn often enough to get there.
_complete = st.builds(a.CompleteCallback, outcome=st.sampled_from(["satisfied", "unsatisfied"]),
                      satisfaction=st.integers(1, 5), notes=texts)
_closing_actions = st.one_of(
    st.just(a.Claim()),
    st.builds(a.Reply, body=texts),
    st.builds(a.Reply, body=texts),
    st.builds(a.Transition, to=st.sampled_from(["closed", "reopened", "registered",
                                                "in_progress", "replied", "attempted"])),
    st.just(a.Transition(to="closed")),
    st.builds(a.Route, department=st.just("售后部"),
              due_at=st.integers(1, 30).map(lambda d: T0 + timedelta(days=d))),
    st.builds(a.ScheduleCallback, at=st.integers(0, 14).map(
        lambda d: T0 + timedelta(days=d, hours=5)), customer_agreed=st.booleans()),
    _complete,
    _complete,
    st.builds(a.WaiveCallback, reason=texts),
    st.builds(a.AttemptCallback),
    st.builds(a.Escalate, to=st.just("值班经理"), reason=texts),
)


@settings(max_examples=100, deadline=None)
@given(
    member_flags=st.lists(st.sampled_from([True, True, False]), min_size=1, max_size=2),
    seed_list=st.lists(seeds(kinds=(Kind.COMPLAINT,)), min_size=1, max_size=2),
    step_list=st.lists(steps(_closing_actions, st.sampled_from([None, None, AGENT, LEAD])),
                       min_size=25, max_size=50),
)
def test_member_complaint_never_closes_without_every_callback_completed_or_waived(
        member_flags, seed_list, step_list):
    """一个避免,三个必保: a member's complaint reaches `closed` only when it has at
    least one callback and every one of them is completed or waived, whether it is
    closed by hand or by its callback's satisfied outcome. (World.check asserts it
    after every step.)"""
    world = World.start([make_customer(i, member=m) for i, m in enumerate(member_flags)],
                        seed_list, open_targets_only=True)
    for step in step_list:
        world.apply(step)
    event("a member complaint closed" if world.closed_member_complaints
          else "no member complaint closed")
    if "CallbackRequired" in world.refusal_types:
        event("a close was refused for want of a finished callback")


# ---------------------------------------------------------------------------
# The same rules, walked by hand along the handbooks' path.


def _step(world: World, item_id: int, action: a.Action, actor=AGENT, minutes: int = 10):
    """Apply through the world (which checks every invariant); None when refused."""
    return world.apply(Step(sorted(world.items).index(item_id), actor, minutes, action))


def _apply_directly(world: World, item_id: int, action: a.Action):
    """Apply without the world, so that a refusal raises for the test to inspect."""
    item = world.items[item_id]
    return apply_action(item, action, world.context(AGENT, item))


def test_complaint_follows_the_handbook_path_and_closes_on_a_satisfied_callback(member_world):
    world, cid = member_world, COMPLAINT_ID
    _step(world, cid, a.Claim())
    assert world.items[cid].status == "registered"
    _step(world, cid, a.Route(department="物流部", due_at=T0 + timedelta(days=2)))
    assert world.items[cid].status == "assigned"
    assert world.items[cid].department == "物流部"
    out = _step(world, cid, a.Reply(body="已补发"))
    assert world.items[cid].status == "callback_pending"
    assert [e.data.get("to") for e in out.entries if e.type == "transition"] == [
        "in_progress", "replied", "callback_pending"]
    [callback] = [i for i in world.items.values() if i.kind == Kind.CALLBACK]
    assert (callback.parent_id, callback.owner, callback.status) == (cid, "a1", "scheduled")
    _step(world, callback.id, a.CompleteCallback(outcome="satisfied", satisfaction=5,
                                                 notes="客户满意"))
    assert world.items[callback.id].status == "completed"
    assert world.items[cid].status == "closed"


def test_unsatisfied_callback_reopens_the_complaint_and_routing_starts_again(member_world):
    world, cid = member_world, COMPLAINT_ID
    _step(world, cid, a.Claim())
    _step(world, cid, a.Reply(body="已处理"))  # solved at first contact
    [callback] = [i for i in world.items.values() if i.kind == Kind.CALLBACK]
    _step(world, callback.id, a.CompleteCallback(outcome="unsatisfied", satisfaction=2,
                                                 notes="仍未收到"))
    assert world.items[cid].status == "reopened"
    _step(world, cid, a.Route(department="物流部", due_at=T0 + timedelta(days=3)))
    assert world.items[cid].status == "assigned"


def test_member_complaint_close_by_hand_is_refused_until_its_callback_is_done(member_world):
    world, cid = member_world, COMPLAINT_ID
    _step(world, cid, a.Claim())
    _step(world, cid, a.Reply(body="已处理"))
    with pytest.raises(CallbackRequired):
        _apply_directly(world, cid, a.Transition(to="closed"))
    assert _step(world, cid, a.Transition(to="closed")) is None
    [callback] = [i for i in world.items.values() if i.kind == Kind.CALLBACK]
    _step(world, callback.id, a.WaiveCallback(reason="客户要求不再联系"))
    _step(world, cid, a.Transition(to="closed"))
    assert world.items[cid].status == "closed"


@pytest.mark.parametrize("status", ["new", "registered", "in_progress"])
def test_complaint_marked_replied_by_hand_still_gets_its_callback(member_world, status):
    """Solved on the phone: marking it replied owes the customer a callback exactly
    as a written reply does, and leaves the complaint waiting for it."""
    world, cid = member_world, COMPLAINT_ID
    world.items[cid] = world.items[cid].model_copy(update={"status": status, "owner": "a1",
                                                           "first_owner": "a1"})
    out = _step(world, cid, a.Transition(to="replied", reason="电话中已解决"))
    assert world.items[cid].status == "callback_pending"
    [spawn] = out.spawns
    assert spawn.due_at == world.policy.callback_due(world.now)
    [callback] = [i for i in world.items.values() if i.kind == Kind.CALLBACK]
    assert callback.parent_id == cid and callback.category == "after_resolution"


def test_non_member_complaint_may_close_by_hand_with_its_callback_open(walk_in_world):
    world, cid = walk_in_world, COMPLAINT_ID
    _step(world, cid, a.Claim())
    _step(world, cid, a.Reply(body="已处理"))
    _step(world, cid, a.Transition(to="closed"))
    assert world.items[cid].status == "closed"


def test_satisfied_callback_does_not_close_a_member_complaint_with_another_callback_open(
        member_world):
    world, cid = member_world, COMPLAINT_ID
    _step(world, cid, a.Claim())
    _step(world, cid, a.ScheduleCallback(at=T0 + timedelta(days=1)))
    _step(world, cid, a.Reply(body="已处理"))
    first, second = [i for i in world.items.values() if i.kind == Kind.CALLBACK]
    _step(world, second.id, a.CompleteCallback(outcome="satisfied", satisfaction=4, notes="满意"))
    assert world.items[cid].status == "callback_pending"
    _step(world, first.id, a.CompleteCallback(outcome="satisfied", satisfaction=5, notes="满意"))
    assert world.items[cid].status == "closed"


def test_every_kind_has_a_table_with_its_initial_and_terminal_statuses():
    assert set(TRANSITIONS[Kind.TICKET]) == {"new", "open", "pending_customer", "resolved",
                                             "closed"}
    assert TRANSITIONS[Kind.COMPLAINT]["callback_pending"] >= {"closed", "reopened"}
    assert TRANSITIONS[Kind.CALLBACK]["completed"] == frozenset()
    for table in TRANSITIONS.values():
        for targets in table.values():
            assert targets <= set(table)
