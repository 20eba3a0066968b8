"""KPI arithmetic on items the engine itself moved (DOMAIN.md §8); the figures
over a whole fixed week are checked through the API in tests/server/test_reports.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from csq.domain import actions as a
from csq.domain import facts, kpi
from csq.domain.callback_summary import callback_figures
from csq.domain.kinds import Channel, Kind
from csq.domain.period import parse_period
from csq.domain.records import ItemDraft
from tests.domain.conftest import AGENT, AGENT_B, LEAD, SHANGHAI, T0, Step, World, make_customer

WEEK = parse_period("2024-W10", SHANGHAI)  # T0 is its Monday, 10:00


@pytest.fixture
def world() -> World:
    # Customer ids are their index here and a draft's must be at least 1: 0 is unused.
    return World.start([make_customer(0), make_customer(1, member=True), make_customer(2)], [])


def _new(world: World, kind: Kind, category: str, customer: int = 2, **extra) -> int:
    d = ItemDraft(kind=kind, category=category, subject="来电", channel=Channel.PHONE,
                  customer_id=customer, **extra)
    return world.create(d, AGENT).id


def _do(world: World, item_id: int, action: a.Action, actor=AGENT, minutes: int = 0) -> None:
    out = world.apply(Step(sorted(world.items).index(item_id), actor, minutes, action))
    assert out is not None, f"{action} refused"


def _callback_of(world: World, parent: int) -> int:
    return max(i.id for i in world.items.values() if i.parent_id == parent)


def test_answer_time_restarts_on_a_reopen_and_first_contact_needs_neither(world):
    t = _new(world, Kind.TICKET, "repair")
    _do(world, t, a.Claim())
    _do(world, t, a.Transition(to="resolved"), minutes=60)
    first = kpi.answer(world.items[t])
    assert first is not None and first.at == T0 + timedelta(minutes=60) and not first.reopened
    _do(world, t, a.Transition(to="open"), minutes=30)
    assert kpi.answer(world.items[t]) is None  # open again: not resolved now
    _do(world, t, a.Transition(to="resolved"), minutes=30)
    again = kpi.answer(world.items[t])
    assert again is not None and again.at == T0 + timedelta(minutes=120) and again.reopened
    [contact] = kpi.gather(world.items.values(), WEEK, world.now).contacts
    assert not contact.first_contact and contact.on_time is True


def test_a_reassigned_item_is_not_a_first_contact_resolution(world):
    t = _new(world, Kind.TICKET, "inquiry")
    _do(world, t, a.Claim())
    _do(world, t, a.Assign(to="a2", note="转交"), actor=LEAD, minutes=5)
    _do(world, t, a.Transition(to="resolved"), actor=AGENT_B, minutes=5)
    figures = kpi.summarise(kpi.gather(world.items.values(), WEEK, world.now))
    assert (figures.resolved, figures.first_contact, figures.first_contact_rate) == (1, 0, 0.0)


def test_an_unanswered_item_counts_against_the_sla_only_once_past_due(world):
    t = _new(world, Kind.TICKET, "repair")  # due in 24 h
    early = kpi.summarise(kpi.gather(world.items.values(), WEEK, T0 + timedelta(hours=23)))
    late = kpi.summarise(kpi.gather(world.items.values(), WEEK, T0 + timedelta(hours=25)))
    assert (early.sla_met, early.sla_missed, early.sla_met_rate) == (0, 0, None)
    assert (late.sla_met, late.sla_missed, late.sla_met_rate) == (0, 1, 0.0)
    assert world.items[t].status == "new"


def test_satisfaction_is_credited_to_the_item_called_back_about_and_members_are_covered(world):
    c = _new(world, Kind.COMPLAINT, "delivery", customer=1)
    _do(world, c, a.Claim())
    _do(world, c, a.Reply(body="已补发"), minutes=30)
    cb = _callback_of(world, c)
    _do(world, cb, a.CompleteCallback(outcome="satisfied", satisfaction=4, notes="满意"),
        minutes=60)
    assert world.items[c].status == "closed"
    facts = kpi.gather(world.items.values(), WEEK, world.now, members={1})
    by_kind = kpi.by_group(facts, "kind")
    assert set(by_kind) == {"complaint"}  # the callback is not a contact, its score is
    assert by_kind["complaint"].satisfaction == 4.0
    assert (by_kind["complaint"].member_closed, by_kind["complaint"].callback_coverage) == (1, 1.0)
    days = kpi.by_time(facts, WEEK.days())
    assert [k.contacts for _, k in days] == [1, 0, 0, 0, 0, 0, 0]
    calls = callback_figures(world.items.values(), WEEK, world.now)
    assert (calls.scheduled, calls.completed, calls.on_time, calls.satisfaction) == (1, 1, 1, 4.0)


def test_a_withdrawn_complaint_is_left_out_and_clears_the_agents_record(world):
    c = _new(world, Kind.COMPLAINT, "service", about_agent="a2")
    facts = kpi.gather(world.items.values(), WEEK, world.now)
    assert kpi.summarise(facts).complaints_about == {"a2": 1}
    _do(world, c, a.Note(body="核实后向客户致歉"), actor=LEAD, minutes=30)
    _do(world, c, a.Transition(to="withdrawn", reason="客户已谅解"), actor=LEAD, minutes=30)
    figures = kpi.summarise(kpi.gather(world.items.values(), WEEK, world.now))
    assert (figures.contacts, figures.complaints, figures.withdrawn) == (0, 0, 1)
    assert figures.complaints_about == {}


def test_the_facts_read_off_a_stored_record_are_the_facts_of_the_item(world):
    """csq.domain.facts: the server computes them from the JSON it writes
    (`of_record`), the KPIs from the record (`of_item`): one rule, same answer."""
    reopened = _new(world, Kind.TICKET, "quote")
    _do(world, reopened, a.Claim())
    _do(world, reopened, a.Transition(to="resolved"), minutes=30)
    _do(world, reopened, a.Transition(to="open", reason="报价有误"), minutes=30)
    _do(world, reopened, a.Transition(to="resolved"), minutes=30)
    handed = _new(world, Kind.TICKET, "inquiry")
    _do(world, handed, a.Claim())
    _do(world, handed, a.Assign(to="a2", note="转交"), actor=LEAD, minutes=5)
    _do(world, handed, a.Transition(to="resolved"), actor=AGENT_B, minutes=5)
    closed = _new(world, Kind.COMPLAINT, "delivery", customer=1)
    _do(world, closed, a.Claim())
    _do(world, closed, a.Reply(body="已补发"), minutes=30)
    _do(world, _callback_of(world, closed),
        a.CompleteCallback(outcome="unsatisfied", satisfaction=2, notes="仍未收到"), minutes=60)
    open_ = _new(world, Kind.TICKET, "repair")
    for item in world.items.values():
        assert facts.of_record(item.model_dump(mode="json")) == facts.of_item(item), item.id
    got = {i: facts.of_item(world.items[i]) for i in (reopened, handed, closed, open_)}
    assert got[reopened].reopened and not got[reopened].first_contact
    assert got[reopened].answered_at == T0 + timedelta(minutes=90)
    assert got[handed].reassigned and got[handed].answered_by == "a2"
    assert not got[handed].first_contact
    assert got[open_] == facts.ItemFacts()  # nothing to tell yet
    callback = facts.of_item(world.items[_callback_of(world, closed)])
    assert callback.satisfaction == 2 and callback.scored_at == world.now
    assert kpi.answer(world.items[reopened]) == kpi.Answer(
        T0 + timedelta(minutes=90), "a1", True)
