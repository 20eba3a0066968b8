"""Allocation (派单): each agent's open load, and assignment by keyboard that
balances it (按照负责客户数量均衡). The assign form lists the agents least
loaded first with the domain's suggestion preselected, and every assignment
carries a handover note, as the domain requires.

The load is an online read (GET /v1/agents/load, the wall's own figures);
offline it is counted from the cache and the screen says so. Assignments go
through the outbox like every other action."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import OptionList, Static

from csq.api import LiveMetrics
from csq.api.schemas import AgentLoad
from csq.domain.allocation import least_loaded
from csq.domain.lifecycle import is_open
from csq.domain.records import Item
from csq.domain.sla import format_left, seconds_left
from csq.domain.text import neutralise
from csq.i18n import t
from csq.screens.backend import Backend, ReadFailed
from csq.screens.forms import ActionForm, FormField
from csq.screens.gate import GatedScreen
from csq.state.filter import Filter
from csq.state.queue import QueueState
from csq.widgets.cells import fit
from csq.widgets.key_bar import KeyBar
from csq.widgets.pick_list import PickList
from csq.widgets.status_bar import StatusBar, who_label


def cached_loads(queue: QueueState) -> list[AgentLoad]:
    """Open items per owner, from the local view: the fallback when offline.
    Only owners the cache knows of, and nobody's presence."""
    load: dict[str, int] = {}
    for row in queue.rows.values():
        if row.owner and is_open(row.kind, row.status):
            load[row.owner] = load.get(row.owner, 0) + 1
    return [AgentLoad(username=u, name=u, open_items=n, online=True)
            for u, n in sorted(load.items())]


async def current_loads(backend: Backend) -> tuple[list[AgentLoad], str]:
    """(the loads, a notice): the server's figures, or the cache's when offline."""
    try:
        return list((await backend.read_loads()).agents), ""
    except ReadFailed:
        return cached_loads(backend.queue), t("alloc.cached")


def balanced(loads: Iterable[AgentLoad], exclude: Iterable[str] = ()) -> list[AgentLoad]:
    """Online first, least loaded first, ties by name; the suggestion heads the list."""
    skip = set(exclude)
    rows = sorted((a for a in loads if a.username not in skip),
                  key=lambda a: (not a.online, a.open_items, a.username))
    return rows


def suggestion(loads: Iterable[AgentLoad], exclude: Iterable[str] = ()) -> str | None:
    return least_loaded(((a.username, a.open_items, a.online) for a in loads), exclude)


def open_assign_form(screen: GatedScreen, item_ids: list[int],
                     after: Callable[[], None] | None = None) -> None:
    """Fetch the load, then ask whom to give `item_ids` to (one outbox op each)."""
    backend = screen.backend
    items = [i for i in (backend.item(n) for n in item_ids) if i is not None]
    if not items:
        return

    async def ask() -> None:
        loads, notice = await current_loads(backend)
        # The domain refuses giving a complaint to the agent it is about.
        never = {i.about_agent for i in items if i.about_agent}
        owners = {i.owner for i in items if i.owner}
        rows = balanced(loads, never)
        best = suggestion(rows, owners)
        rows.sort(key=lambda a: a.username != best)  # stable: the rest keep their order
        choices = tuple((_choice(a, a.username == best, bool(notice)), a.username)
                        for a in rows)
        intro = [notice] if notice else []
        holder = next((a for a in rows if a.username == best), None)
        intro.append(t("alloc.intro", who=neutralise(holder.name), n=holder.open_items)
                     if holder else t("alloc.nobody"))

        def done(payload: dict[str, Any] | None) -> None:
            if payload:
                for item in items:
                    backend.request_action(item.id, payload)
                if after is not None:
                    after()

        title = t("modal.assign.title") + (f" ({len(items)})" if len(items) > 1 else "")
        fields = [FormField("to", "field.to", "choice", choices, default=best or ""),
                  FormField("note", "field.note", "long")]
        screen.app.push_screen(ActionForm(
            title, fields, intro="\n".join(intro), base={"action": "assign"},
            validate=lambda p: backend.explain(items[0].id, p), now=backend.now,
            zone=backend.policy.quiet.tz), done)

    screen.run_worker(ask(), group="assign-form", exclusive=True)


def _choice(agent: AgentLoad, best: bool, cached: bool) -> str:
    """`cached`: counted from the cache, where nobody's presence is known."""
    mark = "" if cached else f" · {t('alloc.online') if agent.online else t('alloc.away')}"
    if best:
        mark += f" · ★ {t('alloc.suggested')}"
    return t("alloc.choice", name=neutralise(agent.name), user=agent.username,
             n=agent.open_items, mark=mark).replace(f"{agent.username} ({agent.username})",
                                                    agent.username)


class AllocationScreen(GatedScreen):
    """The lead's view: who carries how much, and the unassigned items to give out."""

    DEFAULT_CSS = """
    AllocationScreen #alloc-title { height: 1; text-style: bold; padding: 0 1; }
    AllocationScreen #alloc-notice { height: auto; color: ansi_yellow; padding: 0 1; }
    AllocationScreen #alloc-body { height: 1fr; }
    AllocationScreen #agents { width: 1fr; height: 100%; border: round $primary-muted;
        padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    AllocationScreen #unassigned { width: 2fr; height: 100%; border: round $primary-muted; }
    AllocationScreen #unassigned:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("escape,q", "back", t("key.back"), id="back"),
        Binding("a", "assign", t("key.assign"), priority=True, id="assign"),
        Binding("r", "refresh", t("key.refresh"), priority=True, id="alloc_refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[AgentLoad] = []
        self.notice = t("lead.loading")

    def compose(self) -> ComposeResult:
        yield Static(t("alloc.title"), id="alloc-title", markup=False)
        yield Static("", id="alloc-notice", markup=False)
        with Horizontal(id="alloc-body"):
            yield Static("", id="agents", markup=False)
            yield PickList(id="unassigned")
        yield StatusBar(who_label(self.backend.actor.name, self.backend.actor.role),
                        self.backend.server, self.backend.read_only, self.backend.now)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#agents", Static).border_title = t("alloc.agents")
        self.query_one(PickList).focus()
        self.show_status()
        self.items_changed()
        self.action_refresh()
        self.set_interval(1.0, self.show_status)

    def show_status(self) -> None:
        for bar in self.query(StatusBar):
            bar.show(self.backend.sync_status())

    @property
    def selected(self) -> Item | None:
        row_id = self.query_one(PickList).highlighted_id
        return self.backend.item(int(row_id)) if row_id else None

    def verb_target(self) -> object:
        return self.selected

    # -- data ---------------------------------------------------------------------------

    @work(group="loads", exclusive=True)
    async def action_refresh(self) -> None:
        self.loads, self.notice = await current_loads(self.backend)
        self._draw_agents()

    def reload_remote(self) -> None:
        """The app calls this when the server has taken our ops (an assignment)."""
        self.action_refresh()

    def metrics_seen(self, metrics: LiveMetrics) -> None:
        """The stream pushes the same figures the load route serves: no request."""
        self.loads, self.notice = list(metrics.agents), ""
        self._draw_agents()

    def items_changed(self) -> None:
        backend = self.backend
        now = backend.now()
        rows = backend.queue.view("unassigned", Filter(), now)
        self.query_one(PickList).show_rows(
            (str(r.id), Text(f"#{r.id:<5} {r.priority} {format_left(seconds_left(r, now)):>7} "
                             f"{r.subject}", no_wrap=True, overflow="ellipsis"))
            for r in rows[:500])
        self.query_one(PickList).border_title = t("alloc.unassigned", n=len(rows))
        self.refresh_bindings()

    def _draw_agents(self) -> None:
        self.query_one("#alloc-notice", Static).update(self.notice)
        rows = balanced(self.loads)
        best = suggestion(rows)
        # ★ the suggestion, ● online, ○ away; the bar is the load, one # per item.
        self.query_one("#agents").border_subtitle = f"★ {t('alloc.suggested')}"
        lines = []
        for a in rows:
            # From the cache nobody's presence is known: no online mark at all.
            mark = ("★" if a.username == best else "·" if self.notice
                    else "●" if a.online else "○")
            lines.append(f"{mark} {fit(neutralise(a.name), 10)} {a.open_items:>3} "
                         f"{'#' * min(a.open_items, 40)}")
        self.query_one("#agents", Static).update("\n".join(lines))

    # -- keys -----------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted)
    def _moved(self) -> None:
        self.refresh_bindings()

    @on(OptionList.OptionSelected)
    def _open(self, event: OptionList.OptionSelected) -> None:
        from csq.screens.detail import open_item

        if event.option.id:
            open_item(self.app, int(event.option.id))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_assign(self) -> None:
        item = self.selected
        if item is not None:
            open_assign_form(self, [item.id])
