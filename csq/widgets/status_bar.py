"""The status bar: where the agent stands with the server, always visible.

`live`, `syncing`, `offline · cached 3 min ago · 4 pending`, `2 conflicts`,
then who is logged in, their role and the server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from textual.widgets import Static

from csq.i18n import t
from csq.sync.status import SyncStatus, ago


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar.-offline { background: ansi_yellow; color: ansi_black; }
    StatusBar.-conflicts { background: ansi_red; color: ansi_bright_white; }
    """

    def __init__(self, who: str, server: str, read_only: bool,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__("")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.who = who
        self.server = server
        self.read_only = read_only
        self.status = SyncStatus()
        self.extra = ""

    def show(self, status: SyncStatus, extra: str = "") -> None:
        self.status = status
        self.extra = extra
        self.set_class(status.connection == "offline", "-offline")
        self.set_class(bool(status.conflicts or status.failed), "-conflicts")
        from rich.text import Text

        self.update(Text(self.text()))  # plain text: nothing here is markup

    def text(self) -> str:
        s = self.status
        parts = [t(f"status.{s.connection}")]
        if s.connection in ("offline", "connecting"):
            parts.append(f"cached {ago(s.synced_at, self.clock())}")
        if s.pending:
            parts.append(f"{s.pending} pending")
        if s.conflicts:
            parts.append(f"{s.conflicts} conflict{'s' if s.conflicts != 1 else ''}")
        if s.failed:
            parts.append(f"{s.failed} failed")
        if self.extra:
            parts.append(self.extra)
        left = " · ".join(parts)
        right = f"{self.who}{' · ' + t('status.read_only') if self.read_only else ''}"
        return f"{left}   {right} @ {self.server}"
