"""Shifts (值班, DOMAIN.md §9): when each one starts and ends, in the centre's zone.

Three by default, overlapping as the handbooks' centres run them: 08–20,
09–21 and the night 20–08. The SLA policy holds the list (configurable as
strings like "08:00-20:00"); handovers name the shift that ends and the one
that takes over. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAY = 24 * 60


@dataclass(frozen=True, order=True)
class Shift:
    start: time
    end: time  # before `start`: the shift runs past midnight

    @classmethod
    def parse(cls, text: str) -> Shift:
        """`08:00-20:00`, `8-20` or `20:00–08:00` (an en dash works too)."""
        parts = text.replace("–", "-").split("-")
        if len(parts) != 2:
            raise ValueError(f"a shift is START-END like 08:00-20:00, not {text!r}")
        start, end = (_clock(p) for p in parts)
        if start == end:
            raise ValueError(f"shift {text!r} starts and ends at the same time")
        return cls(start, end)

    @property
    def name(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def overnight(self) -> bool:
        return self.end < self.start

    def contains(self, local: time) -> bool:
        if self.overnight:
            return local >= self.start or local < self.end
        return self.start <= local < self.end

    def end_after(self, at: datetime, zone: ZoneInfo) -> datetime:
        """The first end of this shift strictly after `at` (its end if it is running)."""
        local = at.astimezone(zone)
        for offset in (0, 1):
            end = _at(local.date() + timedelta(days=offset), self.end, zone)
            if end > local:
                return end.astimezone(at.tzinfo)
        raise AssertionError("unreachable: an end falls within two days")


def parse_shifts(values: Iterable[str]) -> tuple[Shift, ...]:
    shifts = tuple(Shift.parse(str(v)) for v in values)
    if not shifts:
        raise ValueError("at least one shift is needed")
    if len({s.name for s in shifts}) != len(shifts):
        raise ValueError("the same shift is listed twice")
    return shifts


def current_shift(shifts: Sequence[Shift], at: datetime, zone: ZoneInfo) -> Shift | None:
    """The running shift that ends soonest: at 19:50 it is 08–20, not 09–21.
    None in a gap no shift covers."""
    local = at.astimezone(zone)
    running = [s for s in shifts if s.contains(local.time())]
    return min(running, key=lambda s: (s.end_after(at, zone), s.name), default=None)


def next_shift(shifts: Sequence[Shift], ending: Shift) -> Shift:
    """Who takes over when `ending` ends: of the other shifts then running, the one
    that started last (20–08 after 08–20, and after 09–21 too); with none running,
    the next to start."""
    others = [s for s in shifts if s != ending] or [ending]
    end = _minutes(ending.end)
    running = [s for s in others if s.contains(ending.end)]
    if running:
        return min(running, key=lambda s: ((end - _minutes(s.start)) % _DAY, s.name))
    return min(others, key=lambda s: ((_minutes(s.start) - end) % _DAY, s.name))


def _clock(text: str) -> time:
    text = text.strip()
    try:
        if text.isdigit() and len(text) <= 2:
            return time(int(text) % 24)
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day like 08:00") from None


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _at(day: date, t: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, t, tzinfo=zone)


DEFAULT_SHIFTS: tuple[Shift, ...] = tuple(
    Shift.parse(s) for s in ("08:00-20:00", "09:00-21:00", "20:00-08:00"))
