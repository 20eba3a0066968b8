"""Report periods: a day, an ISO week, a month or a range of them, in the centre's zone.

`2026-11-23`, `2026-W47`, `2026-11`, and `FROM..TO` where each side is any of
those (`2026-11-01..2026-11-15`, `2026-W45..2026-W47`): the range runs from
the start of FROM to the end of TO. Periods are half-open [start, end) in
local midnights, so a day of a DST change is still one day. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 400  # a report over more than a year is a query, not a report

_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class PeriodError(ValueError):
    """A period the user wrote that is not one; the message says what is."""


@dataclass(frozen=True)
class Period:
    label: str
    first: date  # the first local day in the period
    last: date  # the last local day in the period (inclusive)
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return _midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return _midnight(self.last + timedelta(days=1), self.zone)

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def days(self) -> list[Period]:
        return [day(self.first + timedelta(days=n), self.zone)
                for n in range((self.last - self.first).days + 1)]

    def weeks(self) -> list[Period]:
        """ISO weeks, cut to this period at either end."""
        out, monday = [], self.first - timedelta(days=self.first.weekday())
        while monday <= self.last:
            year, number, _ = monday.isocalendar()
            out.append(Period(f"{year}-W{number:02d}", max(monday, self.first),
                              min(monday + timedelta(days=6), self.last), self.zone))
            monday += timedelta(days=7)
        return out

    def months(self) -> list[Period]:
        out, first = [], self.first.replace(day=1)
        while first <= self.last:
            following = _next_month(first)
            out.append(Period(f"{first:%Y-%m}", max(first, self.first),
                              min(following - timedelta(days=1), self.last), self.zone))
            first = following
        return out


def day(d: date, zone: ZoneInfo) -> Period:
    return Period(d.isoformat(), d, d, zone)


def parse_period(text: str, zone: ZoneInfo) -> Period:
    text = text.strip()
    if ".." in text:
        left, _, right = text.partition("..")
        a, b = _one(left.strip(), zone), _one(right.strip(), zone)
        if b.last < a.first:
            raise PeriodError(f"{text!r} ends before it starts")
        period = Period(f"{a.label}..{b.label}", a.first, b.last, zone)
    else:
        period = _one(text, zone)
    if (period.last - period.first).days + 1 > MAX_DAYS:
        raise PeriodError(f"{text!r} spans more than {MAX_DAYS} days")
    return period


def previous_week(now: datetime, zone: ZoneInfo) -> Period:
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday() + 7)
    year, number, _ = monday.isocalendar()
    return Period(f"{year}-W{number:02d}", monday, monday + timedelta(days=6), zone)


def previous_month(now: datetime, zone: ZoneInfo) -> Period:
    first_this = now.astimezone(zone).date().replace(day=1)
    last = first_this - timedelta(days=1)
    return Period(f"{last:%Y-%m}", last.replace(day=1), last, zone)


HELP = "a day 2026-11-23, a week 2026-W47, a month 2026-11, or FROM..TO of those"


def _one(text: str, zone: ZoneInfo) -> Period:
    period = _parse_one(text, zone)
    if not 1900 <= period.first.year <= period.last.year <= 2999:
        raise PeriodError(f"{text!r} is out of range (years 1900–2999)")
    return period


def _parse_one(text: str, zone: ZoneInfo) -> Period:
    try:
        if m := _WEEK.match(text):
            year, number = int(m[1]), int(m[2])
            monday = date.fromisocalendar(year, number, 1)
            return Period(f"{year}-W{number:02d}", monday, monday + timedelta(days=6), zone)
        if m := _MONTH.match(text):
            first = date(int(m[1]), int(m[2]), 1)
            return Period(f"{first:%Y-%m}", first, _next_month(first) - timedelta(days=1), zone)
        if m := _DAY.match(text):
            return day(date(int(m[1]), int(m[2]), int(m[3])), zone)
    except (ValueError, OverflowError) as exc:
        raise PeriodError(f"{text!r} is not a real date ({exc})") from None
    raise PeriodError(f"{text!r} is not a period: use {HELP}")


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _midnight(d: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(), tzinfo=zone)
