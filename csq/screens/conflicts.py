"""Conflicts and refused actions, side by side with the server's version,
each re-applied on the new version or discarded by key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from csq.domain.lifecycle import STATUS_ZH
from csq.domain.text import neutralise
from csq.i18n import lang, t
from csq.screens.gate import GatedScreen
from csq.widgets.key_bar import KeyBar


def _value(key: str, value: Any, zone: Any) -> str:
    """As the rest of the app shows it: times in the centre's zone, statuses in words."""
    if value is None or value == "":
        return "-"
    if key == "status":
        text = str(value)
        return STATUS_ZH.get(text, text) if lang() == "zh" else text.replace("_", " ")
    if key == "at" or key.endswith("_at"):
        try:
            return f"{datetime.fromisoformat(str(value)).astimezone(zone):%m-%d %H:%M}"
        except ValueError:
            pass
    return neutralise(str(value))


def _summary(payload: dict[str, Any], zone: Any) -> str:
    return ", ".join(f"{k}={_value(k, v, zone)}" for k, v in payload.items())


class ConflictsScreen(GatedScreen):
    DEFAULT_CSS = """
    ConflictsScreen OptionList { height: 8; }
    ConflictsScreen Horizontal { height: 1fr; }
    ConflictsScreen .side { width: 1fr; border: round $primary-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "back", t("key.back"), id="conflicts_back"),
        Binding("r", "resolve(True)", t("conflicts.reapply"), id="reapply"),
        Binding("d", "resolve(False)", t("conflicts.discard"), id="discard"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(t("conflicts.title"), markup=False)
        yield OptionList(id="ops")
        with Horizontal():
            with VerticalScroll(classes="side"):
                yield Static("", id="yours", markup=False)
            with VerticalScroll(classes="side"):
                yield Static("", id="theirs", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        ops = self.backend.problems()
        options = self.query_one(OptionList)
        options.clear_options()
        if not ops:
            options.add_option(Option(t("conflicts.none"), disabled=True))
        for op in ops:
            options.add_option(Option(
                f"{op.state:<8} #{op.item_id or '-'} {op.verb}: {neutralise(op.error or '')}",
                id=op.op_id))
        options.focus()
        self._show(ops[0].op_id if ops else None)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option.id)

    def _show(self, op_id: str | None) -> None:
        op = next((o for o in self.backend.problems() if o.op_id == op_id), None)
        yours = self.query_one("#yours", Static)
        theirs = self.query_one("#theirs", Static)
        if op is None:
            yours.update("")
            theirs.update("")
            return
        zone = self.backend.policy.quiet.zone
        yours.update(f"{t('conflicts.yours')} (v{op.base_version})\n"
                     f"{_summary(op.payload, zone)}")
        server = op.server_item or {}
        keys = ("version", "status", "owner", "priority", "department", "due_at", "promised_at")
        theirs.update(f"{t('conflicts.theirs')}\n" + "\n".join(
            f"{k}: {_value(k, server.get(k), zone)}" for k in keys if k in server)
            if server else neutralise(op.error or ""))

    def action_resolve(self, reapply: bool) -> None:
        option = self.query_one(OptionList).highlighted_option
        if option is None or option.id is None:
            return
        self.backend.resolve_conflict(option.id, reapply)
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()
