"""Callbacks and the quiet window (DOMAIN.md §6: 一个避免, 三天之内回访)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from csq.domain import actions as a
from csq.domain.engine import apply_action, new_item
from csq.domain.errors import QuietHours
from csq.domain.kinds import Kind
from csq.domain.quiet import QuietWindow
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy
from tests.domain.conftest import (
    AGENT,
    LEAD,
    SHANGHAI,
    T0,
    configured_policies,
    ctx,
    draft,
    instants,
    make_item,
)

# The complaint statuses from which a reply answers the customer.
_ANSWERABLE = ("new", "registered", "assigned", "in_progress")


def _reply_spawns_callback(policy: SlaPolicy, at: datetime, status: str, actor=AGENT):
    complaint = make_item(Kind.COMPLAINT, status, owner=actor.username,
                          created_at=at - timedelta(hours=1), sla_start=at - timedelta(hours=1))
    context = ctx(actor, at, policy=policy)
    out = apply_action(complaint, a.Reply(body="已为您处理完毕"), context)
    assert out.item.status == "callback_pending"
    [spawn] = out.spawns
    # The caller creates it exactly as the server does; new_item must accept it.
    callback = new_item(spawn.draft, context, 2, due_at=spawn.due_at, owner=spawn.owner)
    return spawn, callback


def _assert_callback_due_ok(policy: SlaPolicy, at: datetime, spawn, callback) -> None:
    assert not policy.quiet.contains(spawn.due_at), (
        f"due {spawn.due_at.astimezone(policy.quiet.zone)} is in the quiet window")
    assert callback.due_at == spawn.due_at
    # Absolute hours (in UTC), whatever zone the clock was read in.
    elapsed = spawn.due_at.astimezone(UTC) - at.astimezone(UTC)
    assert timedelta(0) < elapsed <= timedelta(hours=policy.callback_after_resolution_h)
    assert callback.kind == Kind.CALLBACK and callback.status == "scheduled"
    assert callback.parent_id == 1 and callback.category == "after_resolution"


@settings(max_examples=200, deadline=None)
@given(at=instants, status=st.sampled_from(_ANSWERABLE), actor=st.sampled_from([AGENT, LEAD]))
def test_callback_created_on_reply_is_never_due_in_default_quiet_window_and_within_72h(
        at, status, actor):
    spawn, callback = _reply_spawns_callback(DEFAULT_POLICY, at, status, actor)
    _assert_callback_due_ok(DEFAULT_POLICY, at, spawn, callback)
    assert DEFAULT_POLICY.callback_after_resolution_h == 72


# A window that starts inside the spring-forward gap (02:00-03:00 in New York on
# 2024-03-10): the minute before 02:30 does not exist there.
_GAP_POLICY = DEFAULT_POLICY.with_overrides(
    {"quiet_start": "02:30", "quiet_end": "06:00", "timezone": "America/New_York"})


@settings(max_examples=200, deadline=None)
@given(policy=configured_policies(), at=instants, status=st.sampled_from(_ANSWERABLE))
@example(policy=_GAP_POLICY, at=datetime(2024, 3, 7, 7, 45, tzinfo=UTC), status="in_progress")
@example(policy=_GAP_POLICY, at=datetime(2024, 3, 7, 3, 45, tzinfo=ZoneInfo("America/New_York")),
         status="new")
def test_callback_created_on_reply_is_never_due_in_configured_quiet_window_and_within_72h(
        policy, at, status):
    spawn, callback = _reply_spawns_callback(policy, at, status)
    _assert_callback_due_ok(policy, at, spawn, callback)


@pytest.mark.parametrize("local_reply, local_due", [
    # 72 h later is 10:00, open: due exactly then.
    (datetime(2024, 3, 4, 10, 0), datetime(2024, 3, 7, 10, 0)),
    # 72 h later is 22:30, quiet: pulled back to 20:59 the same evening.
    (datetime(2024, 3, 4, 22, 30), datetime(2024, 3, 7, 20, 59)),
    # 72 h later is 03:00 (after midnight): pulled back to 20:59 the evening before.
    (datetime(2024, 3, 4, 3, 0), datetime(2024, 3, 6, 20, 59)),
    # 72 h later is 08:00, the first open minute.
    (datetime(2024, 3, 4, 8, 0), datetime(2024, 3, 7, 8, 0)),
])
def test_callback_due_examples(local_reply, local_due):
    at = local_reply.replace(tzinfo=SHANGHAI)
    spawn, _ = _reply_spawns_callback(DEFAULT_POLICY, at, "in_progress")
    assert spawn.due_at.astimezone(SHANGHAI).replace(tzinfo=None) == local_due


def test_reply_by_another_agent_on_an_owned_complaint_does_not_spawn_a_callback():
    complaint = make_item(Kind.COMPLAINT, "in_progress", owner=LEAD.username)
    out = apply_action(complaint, a.Reply(body="补充说明"), ctx(AGENT))
    assert out.spawns == () and out.item.status == "in_progress"


# ---------------------------------------------------------------------------
# Scheduling by hand


def _shanghai(h: int, m: int = 0, day: int = 5) -> datetime:
    return datetime(2024, 3, day, h, m, tzinfo=SHANGHAI)


def test_schedule_callback_inside_quiet_window_is_refused():
    ticket = make_item(Kind.TICKET, "open", owner=AGENT.username)
    with pytest.raises(QuietHours) as info:
        apply_action(ticket, a.ScheduleCallback(at=_shanghai(22)), ctx(AGENT, T0))
    assert info.value.field == "at"


def test_customer_agreed_time_overrides_the_quiet_window():
    ticket = make_item(Kind.TICKET, "open", owner=AGENT.username)
    out = apply_action(ticket, a.ScheduleCallback(at=_shanghai(22), customer_agreed=True),
                       ctx(AGENT, T0))
    [spawn] = out.spawns
    assert spawn.customer_agreed_time
    callback = new_item(spawn.draft, ctx(AGENT, T0), 2, due_at=spawn.due_at, owner=spawn.owner,
                        customer_agreed_time=spawn.customer_agreed_time)
    assert callback.due_at == _shanghai(22) and callback.customer_agreed_time


def test_new_callback_due_in_quiet_window_is_refused_unless_agreed():
    with pytest.raises(QuietHours):
        new_item(draft(Kind.CALLBACK), ctx(AGENT, T0), 1, due_at=_shanghai(23))
    assert new_item(draft(Kind.CALLBACK), ctx(AGENT, T0), 1, due_at=_shanghai(23),
                    customer_agreed_time=True).due_at == _shanghai(23)


def test_schedule_callback_in_the_past_is_refused():
    ticket = make_item(Kind.TICKET, "open", owner=AGENT.username)
    with pytest.raises(Exception, match="future"):
        apply_action(ticket, a.ScheduleCallback(at=T0 - timedelta(hours=1)), ctx(AGENT, T0))


def test_rescheduling_a_callback_moves_its_due_time():
    callback = make_item(Kind.CALLBACK, "attempted", owner=AGENT.username)
    out = apply_action(callback, a.ScheduleCallback(at=_shanghai(15)), ctx(AGENT, T0))
    assert out.spawns == () and out.item.due_at == _shanghai(15)
    assert out.item.sla_start == T0


# ---------------------------------------------------------------------------
# The quiet window itself


@pytest.mark.parametrize("local, quiet", [
    (time(20, 59, 59), False),
    (time(21, 0), True),  # 21:00 is quiet
    (time(23, 59, 59), True),
    (time(0, 0), True),  # across midnight
    (time(3, 30), True),
    (time(7, 59, 59), True),
    (time(8, 0), False),  # 08:00 is not
    (time(12, 0), False),
])
def test_default_quiet_window_edges(local, quiet):
    at = datetime.combine(datetime(2024, 3, 5), local, tzinfo=SHANGHAI)
    assert QuietWindow().contains(at) is quiet
    assert QuietWindow().contains(at.astimezone(UTC)) is quiet  # any zone, same instant


def test_quiet_window_is_read_in_the_centres_zone():
    # 13:00 UTC is 21:00 in Shanghai; 00:30 UTC is 08:30.
    assert QuietWindow().contains(datetime(2024, 3, 5, 13, 0, tzinfo=UTC))
    assert not QuietWindow().contains(datetime(2024, 3, 5, 0, 30, tzinfo=UTC))
    berlin = QuietWindow(time(22, 0), time(7, 0), "Europe/Berlin")
    assert berlin.contains(datetime(2024, 7, 1, 20, 0, tzinfo=UTC))  # 22:00 CEST
    assert not berlin.contains(datetime(2024, 1, 1, 20, 0, tzinfo=UTC))  # 21:00 CET


def test_quiet_window_that_does_not_cross_midnight():
    lunch = QuietWindow(time(12, 0), time(13, 30), "Asia/Shanghai")
    assert lunch.contains(_shanghai(12))
    assert lunch.contains(_shanghai(13, 29))
    assert not lunch.contains(_shanghai(13, 30))
    assert not lunch.contains(_shanghai(11, 59))
    assert lunch.last_open_before(_shanghai(13)) == _shanghai(11, 59)
    assert lunch.first_open_after(_shanghai(12, 10)) == _shanghai(13, 30)


@pytest.mark.parametrize("at, before, after", [
    (_shanghai(22), _shanghai(20, 59), _shanghai(8, day=6)),
    (_shanghai(3), _shanghai(20, 59, day=4), _shanghai(8)),
    (_shanghai(21), _shanghai(20, 59), _shanghai(8, day=6)),
    (_shanghai(8), _shanghai(8), _shanghai(8)),  # open: itself
    (_shanghai(15), _shanghai(15), _shanghai(15)),
])
def test_last_open_before_and_first_open_after(at, before, after):
    window = QuietWindow()
    assert window.last_open_before(at) == before
    assert window.first_open_after(at) == after


@settings(max_examples=100, deadline=None)
@given(policy=configured_policies(), at=instants)
@example(policy=_GAP_POLICY, at=datetime(2024, 3, 10, 7, 45, tzinfo=UTC))
def test_open_instants_found_either_side_of_any_instant_are_open(policy, at):
    window = policy.quiet
    before, after = window.last_open_before(at), window.first_open_after(at)
    assert not window.contains(before) and before <= at
    assert not window.contains(after) and after >= at
    assert at - before <= timedelta(days=1) and after - at <= timedelta(days=1)


def test_configured_window_applies_to_scheduling():
    policy = DEFAULT_POLICY.with_overrides(
        {"quiet_start": "20:00", "quiet_end": "09:00", "timezone": "Europe/London"})
    ticket = make_item(Kind.TICKET, "open", owner=AGENT.username)
    london = ZoneInfo("Europe/London")
    at = datetime(2024, 3, 5, 20, 30, tzinfo=london)  # 04:30 in Shanghai: quiet there too
    with pytest.raises(QuietHours):
        apply_action(ticket, a.ScheduleCallback(at=at), ctx(AGENT, T0, policy=policy))
    at = datetime(2024, 3, 5, 8, 59, tzinfo=london)  # 16:59 in Shanghai, quiet in London
    with pytest.raises(QuietHours):
        apply_action(ticket, a.ScheduleCallback(at=at), ctx(AGENT, T0, policy=policy))
    at = datetime(2024, 3, 5, 14, 0, tzinfo=london)  # 22:00 in Shanghai, open in London
    assert apply_action(ticket, a.ScheduleCallback(at=at), ctx(AGENT, T0, policy=policy)).spawns
