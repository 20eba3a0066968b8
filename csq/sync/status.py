"""Where the agent stands with the server, in one line for the status bar."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

Connection = Literal["offline", "connecting", "syncing", "live"]


@dataclass(frozen=True)
class SyncStatus:
    connection: Connection = "connecting"
    synced_at: datetime | None = None
    pending: int = 0
    conflicts: int = 0
    failed: int = 0
    error: str | None = None

    def with_(self, **changes: object) -> SyncStatus:
        return replace(self, **changes)  # type: ignore[arg-type]


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "just now" if seconds < 5 else f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def describe(status: SyncStatus, now: datetime) -> str:
    """`live`, `syncing`, `offline · cached 3 min ago · 4 pending`, `2 conflicts`."""
    parts: list[str] = [status.connection]
    if status.connection in ("offline", "connecting"):
        parts.append(f"cached {ago(status.synced_at, now)}")
    if status.pending:
        parts.append(f"{status.pending} pending")
    if status.conflicts:
        parts.append(f"{status.conflicts} conflict{'s' if status.conflicts != 1 else ''}")
    if status.failed:
        parts.append(f"{status.failed} failed")
    return " · ".join(parts)
