"""Service-quality complaints (服务质量投诉): complaints about an agent, and the
lead's follow-up on each, due by 17:00 the next day (domain.quality).

The list is derived from the local view with the domain's own rule, so it is
right offline and follows the stream. The lead records the verdict as an
internal note (the first lead's note ends the follow-up), withdraws the
complaint when the customer is soothed (the agent's record is cleared), or
leaves it to carry on as a normal complaint. Both are the detail screen's
own actions (a note, a transition), through the outbox."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static

from csq.domain.engine import offered_transitions
from csq.domain.kinds import Kind
from csq.domain.lifecycle import STATUS_ZH, is_open
from csq.domain.quality import WITHDRAWN, FollowUp, follow_up, is_quality_complaint
from csq.domain.records import Item
from csq.domain.roles import is_lead
from csq.domain.text import neutralise
from csq.i18n import lang, t
from csq.screens.forms import ActionForm, FormField
from csq.screens.gate import GatedScreen
from csq.widgets.key_bar import KeyBar
from csq.widgets.pick_list import PickList
from csq.widgets.status_bar import StatusBar, who_label


class QualityScreen(GatedScreen):
    DEFAULT_CSS = """
    QualityScreen #q-title { height: 1; text-style: bold; padding: 0 1; }
    QualityScreen #complaints { height: 1fr; border: round $primary-muted; }
    QualityScreen #complaints:focus { border: round $accent; }
    QualityScreen #q-preview { height: 2fr; border: round $primary-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "back", t("key.back"), id="back"),
        Binding("v", "verdict", t("key.verdict"), priority=True, id="verdict"),
        Binding("w", "withdraw", t("key.withdraw"), priority=True, id="withdraw"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[Item, FollowUp]] = []

    def compose(self) -> ComposeResult:
        yield Static(t("quality.title"), id="q-title", markup=False)
        yield PickList(id="complaints")
        with VerticalScroll(id="q-preview", can_focus=False):
            yield Static("", id="q-preview-text", markup=False)
        yield StatusBar(who_label(self.backend.actor.name, self.backend.actor.role),
                        self.backend.server, self.backend.read_only, self.backend.now)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(PickList).focus()
        self.items_changed()
        self.show_status()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self.show_status()
        if any(not f.overdue and f.done_at is None and self.backend.now() > f.due_at
               for _, f in self.rows):
            self.items_changed()  # a deadline just passed

    def show_status(self) -> None:
        for bar in self.query(StatusBar):
            bar.show(self.backend.sync_status())

    # -- data -------------------------------------------------------------------------------

    def followups(self) -> list[tuple[Item, FollowUp]]:
        """Open complaints about an agent: waiting for the lead first, the latest
        deadline last."""
        backend, now = self.backend, self.backend.now()
        out = []
        for row in backend.queue.rows.values():
            if row.kind != Kind.COMPLAINT or not is_open(row.kind, row.status):
                continue
            item = backend.item(row.id)
            if item is not None and is_quality_complaint(item):
                out.append((item, follow_up(item, now, backend.policy)))
        return sorted(out, key=lambda p: (p[1].done_at is not None, p[1].due_at, p[0].id))

    def items_changed(self) -> None:
        self.rows = self.followups()
        zone = self.backend.policy.quiet.zone
        picks = self.query_one(PickList)
        picks.show_rows((str(item.id), _row(item, f, zone)) for item, f in self.rows)
        late = sum(f.overdue for _, f in self.rows)
        picks.border_title = t("quality.open", n=len(self.rows)) + (
            f" · {t('wall.followups_overdue')} {late}" if late else "")
        self._draw_preview()

    @property
    def selected(self) -> Item | None:
        chosen = self.query_one(PickList).highlighted_id
        return next((i for i, _ in self.rows if str(i.id) == chosen), None)

    def verb_target(self) -> object:
        return self.selected

    def _draw_preview(self) -> None:
        text = self.query_one("#q-preview-text", Static)
        item = self.selected
        if item is None:
            text.update(t("quality.none"))
        else:
            zone = self.backend.policy.quiet.zone
            out = [Text(f"#{item.id} {neutralise(item.subject)}", style="bold"),
                   Text(f"{t('quality.about', who=item.about_agent)} · "
                        f"{t('quality.owner', who=item.owner or '-')} · {_status(item.status)}"),
                   Text(neutralise(item.body, multiline=True))]
            for entry in item.timeline:
                if entry.type == "note":
                    mark = " ★" if entry.data.get("follow_up") else ""
                    out.append(Text(f"{entry.at.astimezone(zone):%m-%d %H:%M} "
                                    f"{neutralise(entry.actor_name or entry.actor)}: "
                                    f"{t('entry.note')}{mark}", style="bold"))
                    out.append(Text("    " + neutralise(entry.body or "")))
            text.update(Text("\n").join(out))
        self.refresh_bindings()

    @on(OptionList.OptionHighlighted)
    def _moved(self) -> None:
        self._draw_preview()

    @on(OptionList.OptionSelected)
    def _open(self, event: OptionList.OptionSelected) -> None:
        from csq.screens.detail import open_item

        if event.option.id:
            open_item(self.app, int(event.option.id))

    # -- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if not allowed or action not in ("verdict", "withdraw"):
            return allowed
        item, actor = self.selected, self.backend.actor
        if item is None or not is_lead(actor.role):
            return False
        if action == "verdict":  # the first lead's note is the verdict; later ones are notes
            return follow_up(item, self.backend.now(), self.backend.policy).done_at is None
        return WITHDRAWN in offered_transitions(item, actor)

    def action_back(self) -> None:
        self.app.pop_screen()

    def _form(self, item: Item, title: str, intro: str, base: dict[str, Any],
              field: FormField) -> None:
        def done(payload: dict[str, Any] | None) -> None:
            if payload:
                self.backend.request_action(item.id, payload)

        self.app.push_screen(ActionForm(
            title, [field], intro=intro, base=base,
            validate=lambda p: self.backend.explain(item.id, p),
            now=self.backend.now, zone=self.backend.policy.quiet.tz), done)

    def action_verdict(self) -> None:
        item = self.selected
        if item is not None:
            self._form(item, t("modal.verdict.title", id=item.id), t("modal.verdict.intro"),
                       {"action": "note"}, FormField("body", "field.body", "long"))

    def action_withdraw(self) -> None:
        item = self.selected
        if item is not None:
            self._form(item, t("modal.withdraw.title", id=item.id),
                       t("modal.withdraw.intro", who=item.about_agent),
                       {"action": "transition", "to": WITHDRAWN},
                       FormField("reason", "field.reason", "long"))


def _status(status: str) -> str:
    return STATUS_ZH.get(status, status) if lang() == "zh" else status.replace("_", " ")


def _row(item: Item, f: FollowUp, zone: Any) -> Text:
    due = f"{f.due_at.astimezone(zone):%m-%d %H:%M}"
    if f.done_at is not None:
        state = Text(t("quality.done", at=f"{f.done_at.astimezone(zone):%m-%d %H:%M}"),
                     style="green")
    elif f.overdue:
        state = Text(t("quality.late", at=due), style="bold bright_red")
    else:
        state = Text(t("quality.due", at=due), style="yellow")
    return Text.assemble(f"#{item.id:<5} ", state,
                         f" · {t('quality.about', who=item.about_agent)} · ",
                         neutralise(item.subject), no_wrap=True, overflow="ellipsis")
