"""The supervisors' wall (监控墙): live figures, breaches, escalations,
agents' load and the queue's depth over time. Read-only by construction: it
has no mutating binding, and the server refuses a supervisor's writes anyway.
Figures come from the server (pushed with the stream); the lists come from the
local queue, which the stream keeps current."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Sparkline, Static

from csq.api import LiveMetrics
from csq.domain.sla import format_left, seconds_left
from csq.domain.text import neutralise
from csq.i18n import lang, t
from csq.screens.gate import GatedScreen
from csq.state.filter import DONE_PAIRS as _DONE
from csq.state.filter import parse_filter
from csq.state.rows import QueueRow
from csq.widgets.key_bar import KeyBar
from csq.widgets.queue_table import KIND_SHORT
from csq.widgets.status_bar import StatusBar
from csq.widgets.tiles import Tile


class WallScreen(GatedScreen):
    DEFAULT_CSS = """
    WallScreen #title { height: 1; text-style: bold; padding: 0 1; }
    WallScreen Grid { grid-size: 5; grid-rows: 5; height: auto; }
    WallScreen #depth-box { height: 4; border: round $primary-muted; padding: 0 1; }
    WallScreen Sparkline { height: 2; }
    WallScreen #lists { height: 1fr; }
    WallScreen .list { width: 1fr; height: 100%; border: round $primary-muted; padding: 0 1; }
    WallScreen .list.-alert { border: round ansi_bright_red; }
    """
    BINDINGS = [
        Binding("b", "drill('sla:breached')", t("key.breaches"), id="wall_breaches"),
        Binding("e", "drill('escalated')", t("key.escalations"), id="wall_escalations"),
        Binding("l", "drill('')", t("key.queue"), id="wall_queue"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.depth: deque[float] = deque(maxlen=120)

    def compose(self) -> ComposeResult:
        yield Static(t("wall.title"), id="title", markup=False)
        with Grid():
            yield Tile(t("wall.waiting"), "owner:none", id="waiting")
            yield Tile(t("wall.oldest"), "owner:none", id="oldest")
            yield Tile(t("wall.breached"), "sla:breached", id="breached")
            yield Tile(t("wall.at_risk"), "sla:at_risk", id="at-risk")
            yield Tile(t("wall.escalations"), "escalated", id="escalations")
            yield Tile(t("wall.callbacks"), "kind:callback due:today,overdue", id="callbacks")
            yield Tile(t("wall.satisfaction"), "", id="satisfaction")
            yield Tile(t("wall.agents"), "", id="agents")
            yield Tile(t("wall.handovers"), "screen:handovers", id="handovers")
            yield Tile(t("wall.followups"), "screen:followups", id="followups")
        with Vertical(id="depth-box"):
            yield Static(t("wall.depth"), id="depth-title", markup=False)
            yield Sparkline([], id="depth")
        with Horizontal(id="lists"):
            yield Static("", classes="list", id="breach-list", markup=False)
            yield Static("", classes="list", id="escalation-list", markup=False)
            yield Static("", classes="list", id="agent-list", markup=False)
        yield StatusBar(f"{self.backend.actor.name} ({self.backend.actor.role})",
                        self.backend.server, self.backend.read_only, self.backend.now)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#waiting", Tile).focus()
        self.set_interval(1.0, self._tick)
        self.show_metrics(self.backend.metrics())
        self.refresh_lists()

    def _tick(self) -> None:
        self.query_one(StatusBar).show(self.backend.sync_status())
        self.refresh_lists()

    def show_status(self) -> None:
        self.query_one(StatusBar).show(self.backend.sync_status())

    def show_metrics(self, m: LiveMetrics | None) -> None:
        if m is None:
            return
        waiting = sum(m.waiting_by_kind.values())
        short = KIND_SHORT.get(lang(), KIND_SHORT["en"])
        by_kind = " ".join(f"{short.get(k, k)}{v}" for k, v in m.waiting_by_kind.items())
        self.query_one("#waiting", Tile).show(str(waiting), by_kind)
        self.query_one("#oldest", Tile).show(
            format_left(m.oldest_waiting_s) if m.oldest_waiting_s is not None else "-",
            warn=(m.oldest_waiting_s or 0) > 3600)
        self.query_one("#breached", Tile).show(str(m.breached), alert=m.breached > 0)
        self.query_one("#at-risk", Tile).show(str(m.at_risk), warn=m.at_risk > 0)
        self.query_one("#escalations", Tile).show(str(m.escalations_open),
                                                  alert=m.escalations_open > 0)
        self.query_one("#callbacks", Tile).show(
            f"{m.callbacks_due_today} / {m.callbacks_overdue}", t("wall.due_overdue"),
            alert=m.callbacks_overdue > 0)
        self.query_one("#satisfaction", Tile).show(
            f"{m.satisfaction_today:.1f}" if m.satisfaction_today is not None else "-",
            t("wall.today"), warn=(m.satisfaction_today or 5) < 3.5)
        online = [a for a in m.agents if a.online]
        self.query_one("#agents", Tile).show(f"{len(online)} / {len(m.agents)}",
                                             t("wall.open", n=sum(a.open_items for a in m.agents)))
        self.query_one("#handovers", Tile).show(
            str(m.handovers_unacknowledged), t("wall.unacknowledged"),
            warn=m.handovers_unacknowledged > 0)
        self.query_one("#followups", Tile).show(
            str(m.quality_followups_overdue), t("wall.followups_overdue"),
            alert=m.quality_followups_overdue > 0)
        history = list(m.depth_history) if m.depth_history else []
        self.depth.append(float(waiting))
        points = history + [float(waiting)] if history else list(self.depth)
        self.query_one("#depth", Sparkline).data = points
        self.query_one("#depth-title", Static).update(
            t("wall.depth_hours" if history else "wall.depth_opened",
              now=waiting, max=int(max(points or [0]))))
        lines = [Text(t("wall.load_title"), style="bold")]
        for agent in m.agents[:12]:
            bar = "#" * min(agent.open_items, 20)
            mark = "●" if agent.online else "○"
            lines.append(Text(f"{mark} {neutralise(agent.name)[:10]:<10} {agent.open_items:>3} "
                              f"{bar}"))
        self.query_one("#agent-list", Static).update(Text("\n").join(lines))

    def refresh_lists(self) -> None:
        queue, now = self.backend.queue, self.backend.now()
        breached = queue.view("all", parse_filter("sla:breached"), now)[:15]
        escalated = [r for r in queue.ordered() if r.escalated
                     and (r.kind, r.status) not in _DONE][:15]
        self.query_one("#breach-list", Static).update(self._list(
            t("wall.breach_list", n=len(breached)), breached, now))
        self.query_one("#escalation-list", Static).update(self._list(
            t("wall.escalation_list", n=len(escalated)), escalated, now))
        self.query_one("#breach-list").set_class(bool(breached), "-alert")

    def _list(self, title: str, rows: list[QueueRow], now: datetime) -> Text:
        out = [Text(title, style="bold")]
        for r in rows:
            out.append(Text(f"#{r.id} {format_left(seconds_left(r, now)):>7} {r.owner or '-':<8} "
                            f"{r.subject[:40]}"))
        return Text("\n").join(out)

    @on(Tile.Drilled)
    async def _drilled(self, message: Tile.Drilled) -> None:
        await self.action_drill(message.query)

    async def action_drill(self, query: str) -> None:
        from csq.screens.queue import QueueScreen

        if query.startswith("screen:"):  # the lead's screens, read-only for a supervisor
            await self.app.run_action(query.removeprefix("screen:"))
            return
        self.app.push_screen(QueueScreen(initial_filter=query))

