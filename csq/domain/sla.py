"""SLA policy (DOMAIN.md §4) and the clocks derived from it.

One table, configurable on the server; the handbooks' own numbers are the
defaults. "Overdue" is derived from due_at and status, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from csq.domain.lifecycle import sla_met
from csq.domain.quiet import QuietWindow
from csq.domain.shifts import DEFAULT_SHIFTS, Shift, parse_shifts

if TYPE_CHECKING:
    from csq.domain.records import Clocked as Item


class SlaState(StrEnum):
    NONE = "none"  # no clock (no due time, or already met)
    OK = "ok"
    AT_RISK = "at_risk"  # under 20 % of the window left (ours)
    BREACHED = "breached"


@dataclass(frozen=True)
class SlaPolicy:
    """The centre's time limits. Hours unless named otherwise."""

    callback_after_resolution_h: float = 72  # 必须保证在三天之内回访
    first_contact_new_client_days: float = 7  # 应在一周内与客户进行沟通
    quote_reply_h: float = 8  # 如不能立即报价,应在8小时内回复客户
    complaint_resolution_h: float = 48  # 设定处理时限 (ours)
    ticket_resolution_h: float = 24  # (ours)
    p1_resolution_h: float = 4  # 抢险 (ours)
    max_wait_s: float = 60  # 等待60秒以上 is a valid complaint
    at_risk_fraction: float = 0.2
    lead_follow_up_hour: int = 17  # 第二天17:00前
    quiet: QuietWindow = field(default_factory=QuietWindow)
    shifts: tuple[Shift, ...] = DEFAULT_SHIFTS  # 值班: as ["08:00-20:00", …] in config

    def with_overrides(self, values: dict[str, Any]) -> SlaPolicy:
        """A copy with some limits changed; unknown names are refused, not ignored."""
        known = {f for f in self.__dataclass_fields__ if f not in ("quiet", "shifts")}
        unknown = set(values) - known - {"quiet_start", "quiet_end", "timezone", "shifts"}
        if unknown:
            raise ValueError(f"unknown SLA policy keys: {', '.join(sorted(unknown))}")
        plain: dict[str, Any] = {k: v for k, v in values.items() if k in known}
        if "shifts" in values:
            if isinstance(values["shifts"], str | bytes):
                raise ValueError("shifts is a list, like [\"08:00-20:00\", \"20:00-08:00\"]")
            plain["shifts"] = parse_shifts(values["shifts"])
        quiet = self.quiet
        if {"quiet_start", "quiet_end", "timezone"} & set(values):
            from datetime import time

            quiet = QuietWindow(
                start=time.fromisoformat(values.get("quiet_start", quiet.start.isoformat())),
                end=time.fromisoformat(values.get("quiet_end", quiet.end.isoformat())),
                tz=values.get("timezone", quiet.tz),
            )
        return replace(self, quiet=quiet, **plain)

    def resolution_window(self, kind: str, category: str, channel: str,
                          priority: str) -> timedelta:
        """How long the centre has to answer a new item of this shape."""
        if kind == "callback":
            return timedelta(hours=self.callback_after_resolution_h)
        if priority == "P1":
            return timedelta(hours=self.p1_resolution_h)
        if kind == "complaint":
            return timedelta(hours=self.complaint_resolution_h)
        if category == "quote":
            return timedelta(hours=self.quote_reply_h)
        return timedelta(hours=self.ticket_resolution_h)

    def due_for_new(self, kind: str, category: str, channel: str, priority: str,
                    created: datetime) -> datetime:
        due = _add(created, self.resolution_window(kind, category, channel, priority))
        if channel == "email" and kind == "ticket" and priority != "P1":
            # 电子邮件当天回复: an e-mail is answered the day it arrives.
            local = created.astimezone(self.quiet.zone)
            # The day's last instant, so that one arriving at 23:59:30 is not due before it came.
            end_of_day = local.replace(hour=23, minute=59, second=59, microsecond=999999)
            due = min(due, end_of_day.astimezone(created.tzinfo))
        return due

    def callback_due(self, resolved_at: datetime) -> datetime:
        """Within three days of the resolution, and never inside the quiet window."""
        due = _add(resolved_at, timedelta(hours=self.callback_after_resolution_h))
        return self.quiet.last_open_before(due)

    def lead_follow_up_due(self, at: datetime) -> datetime:
        """第二天17:00前: the next day at 17:00 in the centre's zone."""
        local = at.astimezone(self.quiet.zone) + timedelta(days=1)
        return local.replace(hour=self.lead_follow_up_hour, minute=0, second=0,
                             microsecond=0).astimezone(at.tzinfo)


DEFAULT_POLICY = SlaPolicy()


def _add(at: datetime, delta: timedelta) -> datetime:
    """`at + delta` in elapsed time: Python adds to the wall clock of a zone-aware
    datetime, which is an hour off across a DST change; go through UTC instead."""
    return (at.astimezone(UTC) + delta).astimezone(at.tzinfo)


def _elapsed(start: datetime, end: datetime) -> float:
    """Real seconds from `start` to `end` (the same zone's wall clocks would lie at DST)."""
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()


def seconds_left(item: Item, now: datetime) -> float | None:
    """Seconds until due (negative once breached); None when no clock runs."""
    if item.due_at is None or sla_met(item.kind, item.status):
        return None
    return _elapsed(now, item.due_at)


def is_breached(item: Item, now: datetime) -> bool:
    left = seconds_left(item, now)
    return left is not None and left < 0


def sla_state(item: Item, now: datetime, policy: SlaPolicy = DEFAULT_POLICY) -> SlaState:
    left = seconds_left(item, now)
    if left is None or item.due_at is None:
        return SlaState.NONE
    if left < 0:
        return SlaState.BREACHED
    window = _elapsed(item.sla_start, item.due_at)
    if window > 0 and left < window * policy.at_risk_fraction:
        return SlaState.AT_RISK
    return SlaState.OK


def format_left(seconds: float | None) -> str:
    """`3d4h`, `2h05m`, `45m`, `9m05s`, `-13m` (breached): compact, no locale.

    Seconds show only in the last ten minutes either side of the deadline, so
    a queue of clocks repaints a cell a minute, not a cell a second.
    """
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else ""
    s = int(abs(seconds))
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{sign}{days}d{hours}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes >= 10:
        return f"{sign}{minutes}m"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"
