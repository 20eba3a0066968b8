"""Shifts, the handover list and report periods (DOMAIN.md §8, §9)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csq.domain.errors import Forbidden
from csq.domain.handover import AlreadyAcknowledged, Handover, check_acknowledge, handover_items
from csq.domain.kinds import Kind
from csq.domain.period import PeriodError, parse_period, previous_month, previous_week
from csq.domain.roles import Role
from csq.domain.shifts import DEFAULT_SHIFTS, Shift, current_shift, next_shift
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy
from tests.domain.conftest import SHANGHAI, T0, make_item

DAY, MIDDLE, NIGHT = DEFAULT_SHIFTS


def at(hour: int, minute: int = 0, day: int = 4) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=SHANGHAI)


def test_default_shifts_are_the_handbooks_three():
    assert [s.name for s in DEFAULT_SHIFTS] == ["08:00-20:00", "09:00-21:00", "20:00-08:00"]
    assert NIGHT.overnight and NIGHT.contains(time(2)) and not NIGHT.contains(time(8))


@pytest.mark.parametrize(("moment", "ending", "taking_over"), [
    (at(19, 50), DAY, NIGHT),  # 08–20 ends first; the night shift has just come on
    (at(20, 30), MIDDLE, NIGHT),
    (at(7, 45), NIGHT, DAY),
    (at(10), DAY, NIGHT),
])
def test_the_shift_ending_soonest_hands_to_the_one_that_came_on_last(moment, ending,
                                                                     taking_over):
    assert current_shift(DEFAULT_SHIFTS, moment, SHANGHAI) == ending
    assert next_shift(DEFAULT_SHIFTS, ending) == taking_over


def test_shifts_are_configurable_in_the_policy_and_bad_ones_are_refused():
    policy = DEFAULT_POLICY.with_overrides({"shifts": ["7-19", "19:00-07:00"]})
    assert [s.name for s in policy.shifts] == ["07:00-19:00", "19:00-07:00"]
    assert current_shift(policy.shifts, at(6), SHANGHAI) == Shift.parse("19:00-07:00")
    for bad in (["08:00-08:00"], ["noon-night"], [], "08:00-20:00"):
        with pytest.raises(ValueError):
            SlaPolicy().with_overrides({"shifts": bad})


@settings(max_examples=100, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31),
                           timezones=st.just(UTC)))
def test_some_shift_always_runs_and_ends_within_a_day(moment):
    shift = current_shift(DEFAULT_SHIFTS, moment, SHANGHAI)
    assert shift is not None
    end = shift.end_after(moment, SHANGHAI)
    assert timedelta(0) < end - moment <= timedelta(hours=24)


def test_handover_list_holds_the_agents_open_overdue_and_promised_today_items():
    now = at(19, 50)
    items = [
        make_item(Kind.TICKET, "open", id=1, owner="a1", due_at=now + timedelta(hours=3)),
        make_item(Kind.TICKET, "open", id=2, owner="a1", due_at=now - timedelta(hours=1)),
        make_item(Kind.COMPLAINT, "in_progress", id=3, owner="a1",
                  due_at=now + timedelta(hours=30)).model_copy(
            update={"promised_at": at(21, 30)}),
        make_item(Kind.TICKET, "closed", id=4, owner="a1"),
        make_item(Kind.TICKET, "open", id=5, owner="a2"),
    ]
    lines = handover_items(items, "a1", now, DEFAULT_POLICY)
    assert [(h.id, h.overdue, h.promised_today) for h in lines] == [
        (2, True, False), (3, False, True), (1, False, False)]


def _handover(**fields) -> Handover:
    return Handover(id=1, author="a1", author_name="张伟", shift=DAY.name,
                    next_shift=NIGHT.name, note="交接", created_at=T0, **fields)


def test_the_next_shift_or_a_lead_acknowledges_never_the_author_nor_twice():
    open_to_all = _handover()
    check_acknowledge(open_to_all, "a2", Role.AGENT)
    check_acknowledge(open_to_all, "l1", Role.LEAD)
    with pytest.raises(Forbidden):
        check_acknowledge(open_to_all, "a1", Role.AGENT)
    with pytest.raises(Forbidden):
        check_acknowledge(open_to_all, "s1", Role.SUPERVISOR)
    for_a2 = _handover(to="a2")
    check_acknowledge(for_a2, "a2", Role.AGENT)
    check_acknowledge(for_a2, "l1", Role.LEAD)
    with pytest.raises(Forbidden):
        check_acknowledge(for_a2, "a3", Role.AGENT)
    with pytest.raises(AlreadyAcknowledged) as info:
        check_acknowledge(_handover(acknowledged_by="a2", acknowledged_at=T0), "l1", Role.LEAD)
    assert info.value.status == 409 and info.value.extra["acknowledged_by"] == "a2"


@pytest.mark.parametrize(("text", "label", "first", "last"), [
    ("2026-W47", "2026-W47", date(2026, 11, 16), date(2026, 11, 22)),
    ("2026-11", "2026-11", date(2026, 11, 1), date(2026, 11, 30)),
    ("2026-11-23", "2026-11-23", date(2026, 11, 23), date(2026, 11, 23)),
    ("2026-11-01..2026-11-15", "2026-11-01..2026-11-15", date(2026, 11, 1), date(2026, 11, 15)),
    ("2026-W45..2026-11", "2026-W45..2026-11", date(2026, 11, 2), date(2026, 11, 30)),
    ("2026-02", "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
])
def test_periods_parse_to_local_days(text, label, first, last):
    p = parse_period(text, SHANGHAI)
    assert (p.label, p.first, p.last) == (label, first, last)
    assert p.start == datetime.combine(first, time(), tzinfo=SHANGHAI)
    assert p.end == datetime.combine(last + timedelta(days=1), time(), tzinfo=SHANGHAI)
    assert sum(len(w.days()) for w in p.weeks()) == len(p.days()) == (last - first).days + 1


@pytest.mark.parametrize("text", ["", "2026", "2026-W54", "2026-13", "2026-02-30", "W47",
                                  "2026-11-15..2026-11-01", "2024-01..2026-01", "9999-12",
                                  "2026-11-01..", "last week"])
def test_bad_periods_say_what_a_period_is(text):
    with pytest.raises(PeriodError):
        parse_period(text, SHANGHAI)


def test_default_periods_are_the_last_whole_week_and_month():
    monday = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 Monday in Shanghai
    assert previous_week(monday, SHANGHAI).label == "2026-W47"
    assert previous_month(monday, SHANGHAI).label == "2026-10"
    assert [w.label for w in parse_period("2026-11", SHANGHAI).weeks()] == [
        "2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
