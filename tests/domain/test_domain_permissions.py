"""Roles and ownership (DOMAIN.md §7) and what the TUI may offer (§3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csq.domain import actions as a
from csq.domain.engine import allowed_verbs, apply_action
from csq.domain.errors import AlreadyOwned, DomainError, Forbidden, IllegalTransition, NotOwner
from csq.domain.kinds import Kind
from csq.domain.lifecycle import TRANSITIONS, user_transitions
from csq.domain.roles import OWNER_ONLY, Role, is_read_only, may
from tests.domain.conftest import (
    ADMIN,
    AGENT,
    AGENT_B,
    ALL_ACTORS,
    LEAD,
    SUPERVISOR,
    T0,
    all_actors,
    any_action,
    callbacks_of,
    ctx,
    customers,
    items,
    make_customer,
    make_item,
    valid_payloads,
)

# One well-formed payload of every verb, for the role and ownership checks.
EXAMPLES: dict[str, a.Action] = {
    "claim": a.Claim(),
    "reply": a.Reply(body="您好"),
    "note": a.Note(body="中途意见"),
    "transition": a.Transition(to="open"),
    "assign": a.Assign(to="a2", note="交接"),
    "route": a.Route(department="售后部", due_at=T0 + timedelta(days=2)),
    "escalate": a.Escalate(to="值班经理", reason="重大投诉"),
    "promise": a.Promise(at=T0 + timedelta(hours=2)),
    "schedule_callback": a.ScheduleCallback(at=T0 + timedelta(hours=3)),
    "attempt_callback": a.AttemptCallback(),
    "complete_callback": a.CompleteCallback(outcome="satisfied", satisfaction=5, notes="满意"),
    "waive_callback": a.WaiveCallback(reason="客户拒绝"),
    "tag": a.TagItem(add=("repeat",)),
}
assert set(EXAMPLES) == set(a.ACTION_NAMES)


@settings(max_examples=100, deadline=None)
@given(item=items(), action=any_action, customer=customers)
def test_supervisor_is_forbidden_every_action_on_every_item(item, action, customer):
    with pytest.raises(Forbidden) as info:
        apply_action(item, action, ctx(SUPERVISOR, customer=customer))
    assert info.value.status == 403 and info.value.type == "forbidden"
    assert allowed_verbs(item, SUPERVISOR) == frozenset()
    assert is_read_only(Role.SUPERVISOR)


@pytest.mark.parametrize("verb", a.ACTION_NAMES)
@pytest.mark.parametrize("owner", [None, "s1", "a1"])
def test_supervisor_and_admin_are_forbidden_each_verb(verb, owner):
    item = make_item(Kind.COMPLAINT, "in_progress", owner=owner)
    for actor in (SUPERVISOR, ADMIN):
        with pytest.raises(Forbidden):
            apply_action(item, EXAMPLES[verb], ctx(actor))


@pytest.mark.parametrize("verb", sorted(OWNER_ONLY))
@pytest.mark.parametrize("owner", [None, "a2", "l1"])
def test_agent_is_not_owner_on_owner_only_verbs_of_items_they_do_not_own(verb, owner):
    for kind in Kind:
        status = "attempted" if kind == Kind.CALLBACK else "registered"
        item = make_item(kind, status, owner=owner)
        with pytest.raises(NotOwner) as info:
            apply_action(item, EXAMPLES[verb], ctx(AGENT))
        assert info.value.status == 403 and info.value.type == "not-owner"
        assert verb not in allowed_verbs(item, AGENT)


@pytest.mark.parametrize("verb", sorted(OWNER_ONLY))
def test_lead_may_use_owner_only_verbs_on_anyones_item(verb):
    item = make_item(Kind.COMPLAINT, "registered", owner="a2")
    try:
        apply_action(item, EXAMPLES[verb], ctx(LEAD))
    except DomainError as exc:
        assert not isinstance(exc, NotOwner | Forbidden)


@pytest.mark.parametrize("actor", [AGENT, LEAD])
def test_claiming_another_agents_item_is_already_owned(actor):
    item = make_item(Kind.TICKET, "open", owner="a2")
    with pytest.raises(AlreadyOwned) as info:
        apply_action(item, a.Claim(), ctx(actor))
    assert info.value.status == 409 and info.value.extra["owner"] == "a2"
    assert "claim" not in allowed_verbs(item, actor)


def test_claiming_sets_owner_and_first_owner_and_opens_the_ticket():
    out = apply_action(make_item(Kind.TICKET, "new"), a.Claim(), ctx(AGENT))
    assert (out.item.owner, out.item.first_owner, out.item.status) == ("a1", "a1", "open")
    assert out.item.version == 2 and out.changed


def test_claiming_ones_own_item_again_is_an_idempotent_no_op():
    item = make_item(Kind.TICKET, "open", owner="a1")
    out = apply_action(item, a.Claim(), ctx(AGENT))
    assert out.item == item and not out.changed and out.entries == ()


def test_assignment_keeps_the_first_owner():
    item = make_item(Kind.TICKET, "open", owner="a1")
    out = apply_action(item, a.Assign(to="a2", note="下班交接"), ctx(LEAD))
    assert (out.item.owner, out.item.first_owner) == ("a2", "a1")
    with pytest.raises(Forbidden):
        apply_action(item, a.Assign(to="a2", note="下班交接"), ctx(AGENT))


@pytest.mark.parametrize("kind, status, to", [
    (Kind.TICKET, "new", "closed"),
    (Kind.TICKET, "open", "new"),
    (Kind.COMPLAINT, "registered", "closed"),
    (Kind.COMPLAINT, "callback_pending", "in_progress"),
    (Kind.COMPLAINT, "replied", "closed"),  # no user transition at all
    (Kind.CALLBACK, "scheduled", "completed"),  # needs its outcome: complete_callback
    (Kind.TICKET, "open", "bogus"),
])
def test_illegal_transition_lists_the_allowed_statuses(kind, status, to):
    item = make_item(kind, status, owner="a1")
    with pytest.raises(IllegalTransition) as info:
        apply_action(item, a.Transition(to=to), ctx(AGENT))
    err = info.value
    allowed = sorted(user_transitions(kind, status))
    assert err.extra["allowed"] == allowed and err.extra["current"] == status
    assert err.status == 422 and err.type == "illegal-transition" and err.field == "to"
    assert ("allowed: " + (", ".join(allowed) or "none")) in err.detail
    assert to in err.detail and status in err.detail


def test_done_items_take_only_notes_and_tags():
    item = make_item(Kind.TICKET, "closed", owner="a1")
    assert allowed_verbs(item, AGENT) == {"note", "tag"}
    assert apply_action(item, a.Note(body="客户来电致谢"), ctx(AGENT)).entries
    for verb in ("reply", "transition", "promise", "escalate"):
        with pytest.raises(DomainError):
            apply_action(item, EXAMPLES[verb], ctx(LEAD))


def test_role_table():
    assert may(Role.AGENT, "claim") and not may(Role.AGENT, "assign")
    assert may(Role.LEAD, "assign") and may(Role.LEAD, "escalate")
    assert not any(may(Role.SUPERVISOR, verb) for verb in a.ACTION_NAMES)
    assert not any(may(Role.ADMIN, verb) for verb in a.ACTION_NAMES)


# ---------------------------------------------------------------------------
# allowed_verbs and apply_action agree


def _accepted(item, action, context):
    try:
        return apply_action(item, action, context)
    except DomainError:
        return None


@st.composite
def _situations(draw: st.DrawFn):
    item = draw(items())
    children = draw(callbacks_of(item)) if item.kind == Kind.COMPLAINT else ()
    customer = draw(customers)
    return item, ctx(draw(all_actors), T0, customer=customer, children=children)


@settings(max_examples=150, deadline=None)
@given(situation=_situations())
def test_allowed_verbs_agrees_with_apply_action(situation):
    """Every verb the TUI offers succeeds with some valid payload; every verb it
    omits is refused, whatever the payload (claiming one's own item is the one
    exception: an idempotent no-op, so that a replayed claim is harmless)."""
    item, context = situation
    offered = allowed_verbs(item, context.actor)
    for verb in a.ACTION_NAMES:
        payloads = valid_payloads(verb, item, context)
        outcomes = [_accepted(item, p, context) for p in payloads]
        if verb in offered:
            assert any(o is not None for o in outcomes), f"{verb} offered but always refused"
        elif verb == "claim" and item.owner == context.actor.username:
            assert all(o is None or (o.item == item and not o.entries) for o in outcomes)
        else:
            assert all(o is None for o in outcomes), f"{verb} not offered but accepted"


@settings(max_examples=100, deadline=None)
@given(situation=_situations(), action=any_action)
def test_an_accepted_action_was_offered(situation, action):
    item, context = situation
    if _accepted(item, action, context) is not None:
        assert action.action in allowed_verbs(item, context.actor) or (
            action.action == "claim" and item.owner == context.actor.username)


@pytest.mark.parametrize("status", sorted(TRANSITIONS[Kind.COMPLAINT]))
def test_route_is_offered_exactly_where_a_complaint_can_be_routed(status):
    item = make_item(Kind.COMPLAINT, status, owner="a1")
    route = a.Route(department="售后部", due_at=T0 + timedelta(days=2))
    accepted = _accepted(item, route, ctx(AGENT, customer=make_customer()))
    assert ("route" in allowed_verbs(item, AGENT)) == (accepted is not None)


def test_every_actor_is_offered_only_what_their_role_may():
    item = make_item(Kind.COMPLAINT, "registered", owner="a1")
    for actor in ALL_ACTORS:
        assert all(may(actor.role, verb) for verb in allowed_verbs(item, actor))
    assert "assign" in allowed_verbs(item, LEAD)
    assert "assign" not in allowed_verbs(item, AGENT)
    assert "transition" not in allowed_verbs(item, AGENT_B)
