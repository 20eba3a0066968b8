"""SLA policy and clocks (DOMAIN.md §4)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from csq.domain.engine import new_item
from csq.domain.kinds import CATEGORIES, Channel, Kind
from csq.domain.priority import Priority
from csq.domain.quiet import QuietWindow
from csq.domain.sla import DEFAULT_POLICY, SlaState, format_left, seconds_left, sla_state
from tests.domain.conftest import (
    AGENT,
    SHANGHAI,
    T0,
    ctx,
    draft,
    instants,
    make_customer,
    make_item,
)

# ---------------------------------------------------------------------------
# ok / at_risk / breached


def _ticket(hours: float = 10, status: str = "open"):
    return make_item(Kind.TICKET, status, sla_start=T0, due_at=T0 + timedelta(hours=hours))


@pytest.mark.parametrize("elapsed, state", [
    (timedelta(0), SlaState.OK),
    (timedelta(hours=1), SlaState.OK),
    (timedelta(hours=8), SlaState.OK),  # exactly 20 % left: not yet at risk
    (timedelta(hours=8, seconds=1), SlaState.AT_RISK),
    (timedelta(hours=9, minutes=59), SlaState.AT_RISK),
    (timedelta(hours=10), SlaState.AT_RISK),  # due now: overdue only once now > due_at
    (timedelta(hours=10, seconds=1), SlaState.BREACHED),
    (timedelta(days=3), SlaState.BREACHED),
])
def test_sla_state_ok_at_risk_breached(elapsed, state):
    assert sla_state(_ticket(), T0 + elapsed) == state


@pytest.mark.parametrize("kind, status", [
    (Kind.TICKET, "resolved"), (Kind.TICKET, "closed"),
    (Kind.COMPLAINT, "replied"), (Kind.COMPLAINT, "callback_pending"),
    (Kind.CALLBACK, "completed"), (Kind.CALLBACK, "waived"),
])
def test_no_clock_once_the_sla_is_met(kind, status):
    item = make_item(kind, status, due_at=T0 - timedelta(days=1))
    assert sla_state(item, T0) == SlaState.NONE and seconds_left(item, T0) is None


def test_no_clock_without_a_due_time():
    assert sla_state(make_item(due_at=None), T0) == SlaState.NONE


def test_at_risk_fraction_comes_from_the_policy():
    policy = DEFAULT_POLICY.with_overrides({"at_risk_fraction": 0.5})
    assert sla_state(_ticket(), T0 + timedelta(hours=6), policy) == SlaState.AT_RISK
    assert sla_state(_ticket(), T0 + timedelta(hours=6)) == SlaState.OK


@settings(max_examples=100, deadline=None)
@given(now=instants, due=instants)
def test_seconds_left_is_real_elapsed_time_in_any_zone(now, due):
    item = make_item(Kind.TICKET, "open", sla_start=due - timedelta(hours=1), due_at=due)
    expected = (due.astimezone(UTC) - now.astimezone(UTC)).total_seconds()
    assert seconds_left(item, now) == expected
    assert (sla_state(item, now) == SlaState.BREACHED) == (expected < 0)


@pytest.mark.parametrize("seconds, text", [
    (None, ""), (0, "0s"), (59, "59s"), (61, "1m01s"), (7500, "2h05m"),
    (-780, "-13m"), (599, "9m59s"), (600, "10m"), (3 * 86400 + 4 * 3600, "3d4h"),
])
def test_format_left(seconds, text):
    assert format_left(seconds) == text


# ---------------------------------------------------------------------------
# Due times of new items


def _new(kind=Kind.TICKET, category=None, channel=Channel.PHONE, now=T0, customer=None):
    return new_item(draft(kind, category, channel=channel), ctx(AGENT, now, customer=customer), 1)


def _local(h: int, m: int = 0, s: int = 0) -> datetime:
    return datetime(2024, 3, 5, h, m, s, tzinfo=SHANGHAI)


@pytest.mark.parametrize("created", [
    _local(0, 0), _local(9, 30), _local(16, 0), _local(20, 0), _local(23, 0), _local(23, 59, 30),
])
def test_email_tickets_are_due_the_same_day(created):
    item = _new(channel=Channel.EMAIL, now=created)
    due = item.due_at.astimezone(SHANGHAI)
    assert due.date() == created.date()
    assert created <= item.due_at <= created + timedelta(hours=24)
    assert due.time() >= time(23, 59)


@settings(max_examples=150, deadline=None)
@given(created=instants, category=st.sampled_from(CATEGORIES[Kind.TICKET]))
@example(created=_local(23, 59, 30), category="inquiry")
def test_email_ticket_is_due_the_same_local_day_and_never_before_it_arrived(created, category):
    item = _new(Kind.TICKET, category, Channel.EMAIL, created)
    zone = DEFAULT_POLICY.quiet.zone
    assert item.due_at.astimezone(zone).date() == created.astimezone(zone).date()
    assert item.due_at >= created
    window = DEFAULT_POLICY.resolution_window("ticket", category, "email", item.priority)
    assert item.due_at.astimezone(UTC) - created.astimezone(UTC) <= window


def test_email_rule_is_for_tickets_only_and_not_p1():
    complaint = _new(Kind.COMPLAINT, channel=Channel.EMAIL, now=_local(20))
    assert complaint.due_at == _local(20) + timedelta(hours=48)
    p1 = new_item(draft(Kind.TICKET, channel=Channel.EMAIL).model_copy(
        update={"priority": Priority.P1}), ctx(AGENT, _local(22)), 1)
    assert p1.due_at == _local(22) + timedelta(hours=4)


@pytest.mark.parametrize("kind, category, hours", [
    (Kind.TICKET, "inquiry", 24), (Kind.TICKET, "quote", 8),  # 8小时内回复
    (Kind.COMPLAINT, "service", 48), (Kind.CALLBACK, "survey", 72),
])
def test_default_resolution_windows(kind, category, hours):
    item = _new(kind, category, now=T0)
    assert item.due_at == T0 + timedelta(hours=hours) and item.sla_start == T0


def test_default_priority_p2_for_complaints_and_vip_customers():
    assert _new(Kind.COMPLAINT).priority == Priority.P2
    assert _new(Kind.TICKET).priority == Priority.P3
    assert _new(Kind.TICKET, customer=make_customer(vip=True)).priority == Priority.P2
    assert _new(Kind.TICKET, customer=make_customer(key_account=True)).priority == Priority.P2


@settings(max_examples=100, deadline=None)
@given(created=instants, kind=st.sampled_from([Kind.TICKET, Kind.COMPLAINT]))
def test_new_item_is_due_its_window_after_creation_in_real_time(created, kind):
    item = _new(kind, CATEGORIES[kind][0], Channel.PHONE, created)
    window = DEFAULT_POLICY.resolution_window(kind, item.category, "phone", item.priority)
    assert item.due_at.astimezone(UTC) - created.astimezone(UTC) == window


def test_lead_follow_up_is_next_day_at_17():
    due = DEFAULT_POLICY.lead_follow_up_due(_local(22, 15))
    assert due.astimezone(SHANGHAI) == datetime(2024, 3, 6, 17, 0, tzinfo=SHANGHAI)


# ---------------------------------------------------------------------------
# The policy table


def test_with_overrides_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown SLA policy keys: callback_h, nonsense"):
        DEFAULT_POLICY.with_overrides({"callback_h": 24, "nonsense": 1, "quote_reply_h": 4})
    with pytest.raises(ValueError, match="quiet"):
        DEFAULT_POLICY.with_overrides({"quiet": QuietWindow()})


def test_with_overrides_changes_only_what_it_names_and_copies():
    policy = DEFAULT_POLICY.with_overrides({"quote_reply_h": 4, "quiet_start": "22:30"})
    assert policy.quote_reply_h == 4
    assert policy.quiet == QuietWindow(time(22, 30), time(8, 0), "Asia/Shanghai")
    assert DEFAULT_POLICY.quote_reply_h == 8 and DEFAULT_POLICY.quiet == QuietWindow()
    assert policy.complaint_resolution_h == DEFAULT_POLICY.complaint_resolution_h
    assert DEFAULT_POLICY.with_overrides({}) == DEFAULT_POLICY


def test_with_overrides_timezone_moves_the_window():
    policy = DEFAULT_POLICY.with_overrides({"timezone": "Europe/Berlin"})
    assert policy.quiet.tz == "Europe/Berlin"
    assert policy.quiet.contains(datetime(2024, 1, 10, 20, 30, tzinfo=UTC))  # 21:30 CET
    assert not DEFAULT_POLICY.quiet.contains(datetime(2024, 1, 10, 4, 30, tzinfo=UTC))
