"""Shift handover (值班交接, DOMAIN.md §9). At shift end an agent sees their own
list (open, overdue and promised-today items, computed from the local view by
the domain's own rule, so it works offline and matches what the server will
store) and writes the note that hands it over. The next shift's agent or a
lead sees the handovers waiting and acknowledges one by keyboard.

The waiting handovers are an online read; the screen says so when offline.
Writing and acknowledging go through the outbox like every other action."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, Static

from csq.api import LiveMetrics
from csq.domain.errors import DomainError
from csq.domain.handover import Handover, HandoverItem, check_acknowledge, handover_items
from csq.domain.shifts import current_shift, next_shift
from csq.domain.text import neutralise
from csq.i18n import t
from csq.screens.backend import ReadFailed
from csq.screens.forms import ActionForm, FormField
from csq.screens.gate import GatedScreen
from csq.widgets.key_bar import KeyBar
from csq.widgets.pick_list import PickList
from csq.widgets.status_bar import StatusBar, who_label


class HandoverScreen(GatedScreen):
    DEFAULT_CSS = """
    HandoverScreen #ho-title { height: 1; text-style: bold; padding: 0 1; }
    HandoverScreen #mine { height: 2fr; border: round $primary-muted; padding: 0 1; }
    HandoverScreen #ho-notice { height: auto; color: ansi_yellow; padding: 0 1; }
    HandoverScreen #ho-body { height: 3fr; }
    HandoverScreen #pending { width: 1fr; height: 100%; border: round $primary-muted; }
    HandoverScreen #pending:focus { border: round $accent; }
    HandoverScreen #preview { width: 1fr; height: 100%; border: round $primary-muted;
        padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "back", t("key.back"), id="back"),
        Binding("w", "hand_over", t("key.hand_over"), priority=True, id="hand_over"),
        Binding("a", "acknowledge", t("key.acknowledge"), priority=True, id="acknowledge"),
        Binding("r", "refresh", t("key.refresh"), priority=True, id="handover_refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[Handover] = []
        self._unacknowledged: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(t("handover.title"), id="ho-title", markup=False)
        with VerticalScroll(id="mine", can_focus=False):
            yield Static("", id="mine-list", markup=False)
        yield Static(t("lead.loading"), id="ho-notice", markup=False)
        with Horizontal(id="ho-body"):
            yield PickList(id="pending")
            with VerticalScroll(id="preview", can_focus=False):
                yield Static("", id="preview-text", markup=False)
        yield StatusBar(who_label(self.backend.actor.name, self.backend.actor.role),
                        self.backend.server, self.backend.read_only, self.backend.now)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(PickList).focus()
        self.items_changed()
        self._draw_pending()
        self.action_refresh()
        self.show_status()
        self.set_interval(1.0, self.show_status)

    def show_status(self) -> None:
        for bar in self.query(StatusBar):
            bar.show(self.backend.sync_status())

    # -- your own list ---------------------------------------------------------------------

    def my_list(self) -> tuple[HandoverItem, ...]:
        backend, me = self.backend, self.backend.actor.username
        items = [i for r in backend.queue.rows.values() if r.owner == me
                 if (i := backend.item(r.id)) is not None]
        return handover_items(items, me, backend.now(), backend.policy)

    def items_changed(self) -> None:
        """The app calls this when items changed: the list follows the queue."""
        backend = self.backend
        policy, now = backend.policy, backend.now()
        shift = current_shift(policy.shifts, now, policy.quiet.zone)
        title = (t("handover.mine", shift=shift.name, next=next_shift(policy.shifts, shift).name)
                 if shift else t("handover.no_shift"))
        lines = self.my_list()
        box = self.query_one("#mine")
        box.border_title = title
        box.border_subtitle = t("handover.counts", open=len(lines),
                                overdue=sum(h.overdue for h in lines),
                                promised=sum(h.promised_today for h in lines))
        self.query_one("#mine-list", Static).update(
            Text("\n").join(_line(h, policy.quiet.zone) for h in lines)
            if lines else Text(t("handover.none_mine")))

    # -- the handovers waiting ---------------------------------------------------------------

    @work(group="handovers", exclusive=True)
    async def action_refresh(self) -> None:
        notice = self.query_one("#ho-notice", Static)
        try:
            self.waiting = [h for h in await self.backend.read_handovers()
                            if h.acknowledged_by is None]
        except ReadFailed as exc:
            notice.update(str(exc))
            notice.display = True
            return
        notice.display = False
        self._draw_pending()

    def reload_remote(self) -> None:
        """The app calls this when the server has taken our handover ops."""
        self.action_refresh()

    def metrics_seen(self, metrics: LiveMetrics) -> None:
        """Someone handed over or took one: the wall's count moved, so read again."""
        if metrics.handovers_unacknowledged != self._unacknowledged:
            self._unacknowledged = metrics.handovers_unacknowledged
            self.action_refresh()

    def _draw_pending(self) -> None:
        picks = self.query_one(PickList)
        zone = self.backend.policy.quiet.zone
        picks.show_rows(
            (str(h.id), Text(f"#{h.id} {h.created_at.astimezone(zone):%m-%d %H:%M} "
                             f"{neutralise(h.author_name)} · {h.shift or '-'} "
                             f"({h.open_count}/{h.overdue_count}/{h.promised_today_count})",
                             no_wrap=True, overflow="ellipsis"))
            for h in self.waiting)
        picks.border_title = t("handover.pending", n=len(self.waiting))
        self._draw_preview()

    @property
    def selected(self) -> Handover | None:
        chosen = self.query_one(PickList).highlighted_id
        return next((h for h in self.waiting if str(h.id) == chosen), None)

    def _draw_preview(self) -> None:
        h = self.selected
        text = self.query_one("#preview-text", Static)
        if h is None:
            text.update(t("handover.none_pending"))
        else:
            zone = self.backend.policy.quiet.zone
            head = [t("handover.by", who=neutralise(h.author_name)),
                    f"{h.shift or '-'} → {h.next_shift or '-'}"]
            if h.to:
                head.append(t("handover.for", who=neutralise(h.to)))
            out = [Text(" · ".join(head), style="bold"), Text(t("handover.note"), style="bold"),
                   Text(neutralise(h.note, multiline=True)), Text(t("handover.items"),
                                                                  style="bold")]
            out += [_line(i, zone) for i in h.items]
            text.update(Text("\n").join(out))
        self.refresh_bindings()

    @on(OptionList.OptionHighlighted)
    def _moved(self) -> None:
        self._draw_preview()

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if allowed and action == "acknowledge":
            chosen, actor = self.selected, self.backend.actor
            if chosen is None:
                return False
            try:  # the domain's own rule: not your own, not someone else's
                check_acknowledge(chosen, actor.username, actor.role)
            except DomainError:
                return False
        return allowed

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_hand_over(self) -> None:
        count = len(self.my_list())

        def done(payload: dict[str, Any] | None) -> None:
            if payload and self.backend.request_handover(str(payload["note"]),
                                                         payload.get("to")):
                self.notify(t("toast.handover", n=count))

        self.app.push_screen(ActionForm(
            t("modal.hand_over.title"),
            [FormField("note", "field.note", "long"),
             FormField("to", "field.handover_to", required=False)],
            intro=self.query_one("#mine").border_subtitle or "",
            now=self.backend.now, zone=self.backend.policy.quiet.tz), done)

    def action_acknowledge(self) -> None:
        chosen = self.selected
        if chosen is None:
            return

        def done(payload: dict[str, Any] | None) -> None:
            if payload is not None and self.backend.request_acknowledge(
                    chosen, str(payload.get("note") or "")):
                self.waiting = [h for h in self.waiting if h.id != chosen.id]
                self._draw_pending()
                self.notify(t("toast.acknowledged", id=chosen.id))

        self.app.push_screen(ActionForm(
            t("modal.acknowledge.title", id=chosen.id, who=neutralise(chosen.author_name)),
            [FormField("note", "field.ack_note", required=False)],
            now=self.backend.now, zone=self.backend.policy.quiet.tz), done)


def _line(h: HandoverItem, zone: Any) -> Text:
    marks = []
    if h.overdue:
        marks.append((f" [{t('handover.overdue')}]", "bold bright_red"))
    if h.promised_today and h.promised_at is not None:
        marks.append((f" [{t('handover.promised')} {h.promised_at.astimezone(zone):%H:%M}]",
                      "yellow"))
    return Text.assemble(f"#{h.id} {t(f'kind.{h.kind}')} {h.priority} ",
                         neutralise(h.subject), *marks, no_wrap=True, overflow="ellipsis")
