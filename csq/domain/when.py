"""Human time input, as agents type it on the phone: `17:00` (the next one),
`2026-11-25 17:00`, `+2h`, `+30m`, `+1d`, or ISO 8601. Naive times are in the
centre's zone. One parser for the CLI and the TUI's pickers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_RELATIVE = re.compile(r"^\+(\d{1,4})\s*([mhd])$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


class TimeInputError(ValueError):
    pass


def parse_when(text: str, now: datetime, zone: str) -> datetime:
    text = text.strip()
    tz = ZoneInfo(zone)
    if m := _RELATIVE.match(text):
        unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return now + timedelta(**{unit: int(m.group(1))})
    if m := _CLOCK.match(text):
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 23 or minute > 59:
            raise TimeInputError(f"{text!r} is not a time of day")
        local = now.astimezone(tz)
        when = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if when <= local:
            when += timedelta(days=1)
        return when
    try:
        when = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise TimeInputError(
            f"{text!r} is not a time: try 17:00, 2026-11-25 17:00 or +2h") from None
    return when if when.tzinfo else when.replace(tzinfo=tz)
