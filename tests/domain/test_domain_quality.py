"""Service-quality complaints (服务质量投诉, issue 6): a complaint about an agent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csq.domain import actions as a
from csq.domain.engine import allowed_verbs, apply_action, new_item, offered_transitions
from csq.domain.errors import DomainError, Forbidden, IllegalTransition
from csq.domain.kinds import Kind
from csq.domain.lifecycle import TRANSITIONS, is_done, user_transitions
from csq.domain.quality import QUALITY_TAG, follow_up, is_quality_complaint
from tests.domain.conftest import (
    AGENT,
    AGENT_B,
    ALL_ACTORS,
    LEAD,
    SHANGHAI,
    T0,
    check_outcome,
    ctx,
    draft,
    make_customer,
    make_item,
    valid_payloads,
)

OPEN_COMPLAINT = sorted(s for s in TRANSITIONS[Kind.COMPLAINT]
                        if not is_done(Kind.COMPLAINT, s))
WITHDRAW = a.Transition(to="withdrawn", reason="客户已谅解,撤销投诉")


def about_a2(status: str = "registered", owner: str | None = "a1"):
    """A service complaint about agent a2, handled by `owner`."""
    item = make_item(Kind.COMPLAINT, status, owner=owner, category="service")
    return item.model_copy(update={"about_agent": AGENT_B.username,
                                   "tags": (QUALITY_TAG,)})


def test_opening_a_complaint_about_an_agent_tags_it_for_the_lead():
    d = draft(Kind.COMPLAINT, "service").model_copy(update={"about_agent": "a2"})
    item = new_item(d, ctx(AGENT), 7)
    assert is_quality_complaint(item) and item.about_agent == "a2"
    assert QUALITY_TAG in item.tags


@pytest.mark.parametrize("kind", [Kind.TICKET, Kind.CALLBACK])
def test_only_a_complaint_can_be_about_an_agent(kind):
    d = draft(kind).model_copy(update={"about_agent": "a2"})
    with pytest.raises(DomainError) as info:
        new_item(d, ctx(AGENT), 7)
    assert info.value.field == "about_agent"


def test_the_agent_complained_about_may_only_add_a_note():
    item = about_a2(owner=None)
    assert allowed_verbs(item, AGENT_B) == {"note"}
    with pytest.raises(Forbidden):
        apply_action(item, a.Claim(), ctx(AGENT_B))
    with pytest.raises(Forbidden):
        apply_action(item, a.Reply(body="对不起"), ctx(AGENT_B))
    out = apply_action(item, a.Note(body="我的说明"), ctx(AGENT_B))
    assert out.entries[0].type == "note" and not out.entries[0].data.get("follow_up")


def test_a_complaint_about_an_agent_is_never_assigned_to_them():
    item = about_a2()
    with pytest.raises(DomainError) as info:
        apply_action(item, a.Assign(to="a2", note="交接"), ctx(LEAD))
    assert info.value.field == "to"
    assert apply_action(item, a.Assign(to="l1", note="我来处理"), ctx(LEAD)).item.owner == "l1"


def test_a_leads_note_is_the_follow_up_due_by_17_the_next_day():
    item = about_a2()
    state = follow_up(item, T0)
    # T0 is Monday 10:00 in Shanghai: due Tuesday 17:00 (第二天17:00前).
    assert state.due_at == T0.replace(day=5, hour=17)
    assert state.done_at is None and not state.overdue
    assert follow_up(item, state.due_at + timedelta(seconds=1)).overdue
    agent_note = apply_action(item, a.Note(body="已联系客户"), ctx(AGENT)).item
    assert followed(agent_note) is None  # an agent's note is not the lead's verdict
    later = T0 + timedelta(hours=5)
    verdict = apply_action(item, a.Note(body="核实:客服用语不当,已批评教育"), ctx(LEAD, later))
    assert verdict.entries[0].data == {"follow_up": True}
    done = follow_up(verdict.item, T0 + timedelta(days=3))
    assert done.done_at == later and not done.overdue and not done.late


def followed(item):
    return follow_up(item, T0).done_at


@pytest.mark.parametrize("status", OPEN_COMPLAINT)
def test_only_a_lead_may_withdraw_and_only_a_complaint_about_an_agent(status):
    quality = about_a2(status)
    assert "withdrawn" in offered_transitions(quality, LEAD)
    assert "withdrawn" not in offered_transitions(quality, AGENT)
    assert "withdrawn" not in user_transitions(Kind.COMPLAINT, status)
    with pytest.raises(IllegalTransition):
        apply_action(quality, WITHDRAW, ctx(AGENT))
    plain = make_item(Kind.COMPLAINT, status, owner="a1")
    with pytest.raises(IllegalTransition):
        apply_action(plain, WITHDRAW, ctx(LEAD))
    out = apply_action(quality, WITHDRAW, ctx(LEAD, customer=make_customer(member=True)))
    check_outcome(quality, out)
    assert out.item.status == "withdrawn" and is_done(Kind.COMPLAINT, "withdrawn")
    assert allowed_verbs(out.item, LEAD) == {"note", "tag"}
    assert follow_up(out.item, T0 + timedelta(days=5)).done_at == T0  # withdrawal decides it


def test_withdrawing_needs_the_reason_the_customer_was_soothed():
    with pytest.raises(DomainError) as info:
        apply_action(about_a2(), a.Transition(to="withdrawn", reason=" "), ctx(LEAD))
    assert info.value.field == "reason"


def test_not_withdrawn_it_carries_on_as_a_normal_complaint():
    item = about_a2(owner="a1")
    noted = apply_action(item, a.Note(body="客户仍要求处理"), ctx(LEAD)).item
    replied = apply_action(noted, a.Reply(body="已致歉并处理"), ctx(AGENT))
    assert replied.item.status == "callback_pending" and replied.spawns


@st.composite
def _quality_situations(draw: st.DrawFn):
    status = draw(st.sampled_from(sorted(TRANSITIONS[Kind.COMPLAINT])))
    owner = draw(st.sampled_from([None, "a1", "a2", "l1"]))
    item = make_item(Kind.COMPLAINT, status, owner=owner, category="service").model_copy(
        update={"about_agent": draw(st.sampled_from(["a1", "a2"])), "tags": (QUALITY_TAG,)})
    return item, ctx(draw(st.sampled_from(ALL_ACTORS)), T0.astimezone(SHANGHAI),
                     customer=make_customer())


@settings(max_examples=150, deadline=None)
@given(situation=_quality_situations())
def test_allowed_verbs_agrees_with_apply_action_on_complaints_about_agents(situation):
    """What the TUI offers on these complaints is exactly what the engine accepts."""
    item, context = situation
    offered = allowed_verbs(item, context.actor)
    for verb in a.ACTION_NAMES:
        payloads = valid_payloads(verb, item, context)
        if verb == "transition":
            payloads = [*payloads, WITHDRAW]
        if verb == "assign":
            payloads = [*payloads, a.Assign(to="l1", note="交接")]
        accepted = []
        for payload in payloads:
            try:
                accepted.append(apply_action(item, payload, context))
            except DomainError:
                continue
        if verb in offered:
            assert accepted, f"{verb} offered but always refused"
        elif verb == "claim" and item.owner == context.actor.username:
            assert all(o.item == item for o in accepted)
        else:
            assert not accepted, f"{verb} not offered but accepted"
