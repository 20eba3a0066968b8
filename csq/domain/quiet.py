"""The quiet window (一个避免): no callback is offered or scheduled while
customers rest, 21:00–08:00 in the centre's time zone by default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietWindow:
    start: time = time(21, 0)
    end: time = time(8, 0)
    tz: str = "Asia/Shanghai"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def contains(self, at: datetime) -> bool:
        """Half-open [start, end): 21:00 is quiet, 08:00 is not."""
        local = at.astimezone(self.zone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def last_open_before(self, at: datetime) -> datetime:
        """The latest allowed minute not after `at` (itself when `at` is allowed).

        In UTC, like every instant the domain returns: Python compares two times
        of one zone by the clock on the wall, so in the repeated autumn hour a
        local answer could look later than `at` while being earlier."""
        if not self.contains(at):
            return at.astimezone(UTC)
        local = at.astimezone(self.zone)
        start = local.replace(hour=self.start.hour, minute=self.start.minute, second=0,
                              microsecond=0)
        if start > local:  # we are after midnight: the window began yesterday
            start -= timedelta(days=1)
        before = (start - timedelta(minutes=1)).astimezone(UTC)
        while self.contains(before):  # a DST gap swallowed that minute: step back in real time
            before -= timedelta(minutes=1)
        return before

    def first_open_after(self, at: datetime) -> datetime:
        """The earliest allowed instant not before `at`, in UTC."""
        if not self.contains(at):
            return at.astimezone(UTC)
        local = at.astimezone(self.zone)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)
