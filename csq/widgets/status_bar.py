"""The status bar: where the agent stands with the server, always visible.

`live`, `syncing`, `offline · cached 3 min ago · 4 pending`, `2 conflicts`,
then who is logged in, their role and the server, at the right edge. At
80 columns the right-hand part gives way first: the sync state never does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.cells import cell_len
from rich.text import Text
from textual.app import RenderResult
from textual.widgets import Static

from csq.domain.roles import ROLE_ZH, Role
from csq.i18n import lang, t
from csq.sync.status import SyncStatus
from csq.widgets.cells import fit


def age(then: datetime | None, now: datetime) -> str:
    """`3 min ago` / `3 分钟前`, from the injected clock."""
    if then is None:
        return t("age.never")
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 5:
        return t("age.now")
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return t(f"age.{unit}", n=seconds // size)
    return t("age.s", n=seconds)


def who_label(name: str, role: str) -> str:
    """`Alice Wang (agent)` / `Alice Wang (客服代表)`."""
    shown = ROLE_ZH.get(Role(role), role) if lang() == "zh" and role in Role._value2member_map_ \
        else role
    return f"{name} ({shown})"


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar.-offline { background: ansi_yellow; color: ansi_black; }
    StatusBar.-conflicts { background: ansi_red; color: ansi_bright_white; }
    """

    def __init__(self, who: str, server: str, read_only: bool,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__("", markup=False)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.who = who
        self.server = server
        self.read_only = read_only
        self.status = SyncStatus()
        self.extra = ""
        self._shown = ""

    def show(self, status: SyncStatus, extra: str = "") -> None:
        self.status = status
        self.extra = extra
        self.set_class(status.connection == "offline", "-offline")
        self.set_class(bool(status.conflicts or status.failed), "-conflicts")
        text = self.text(self.content_size.width or None)
        if text != self._shown:  # a tick that changes nothing writes nothing
            self._shown = text
            self.refresh()

    def render(self) -> RenderResult:
        return Text(self.text(self.content_size.width or None), no_wrap=True,
                    overflow="crop")  # plain text: nothing here is markup

    def on_resize(self) -> None:
        self.refresh()

    def parts(self) -> tuple[str, str]:
        s = self.status
        parts = [t(f"status.{s.connection}")]
        if s.connection in ("offline", "connecting"):
            parts.append(t("status.cached", ago=age(s.synced_at, self.clock())))
        if s.pending:
            parts.append(t("status.pending", n=s.pending))
        if s.conflicts:
            parts.append(t("status.conflict" if s.conflicts == 1 else "status.conflicts",
                           n=s.conflicts))
        if s.failed:
            parts.append(t("status.failed", n=s.failed))
        if self.extra:
            parts.append(self.extra)
        right = f"{self.who}{' · ' + t('status.read_only') if self.read_only else ''}"
        return " · ".join(parts), f"{right} @ {self.server}"

    def text(self, width: int | None = None) -> str:
        """One line; with a width, the user and server right-aligned, cut first."""
        left, right = self.parts()
        if width is None:
            return f"{left}   {right}"
        room = width - cell_len(left) - 3
        if room < 12:  # no useful room: the sync state alone
            return fit(left, width)
        right = fit(right, min(room, cell_len(right)))
        return left + " " * (width - cell_len(left) - cell_len(right)) + right
