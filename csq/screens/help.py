"""`?`: the keys of the screen underneath, as they are bound right now
(remapped keys included, forbidden ones absent), and the filter language."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from csq.i18n import label, relabel, t

# Lines of at most 76 cells: the box is 80 wide at 80x24, and a wrapped line loses its indent.
FILTER_HELP = """/ then type: free text matches id, subject, body, customer (中文 too)
  kind:ticket,complaint,callback   pri:P1,P2   owner:me|none|NAME   tier:A
  status:open|new|...   sla:breached,at_risk   due:today|overdue
  tag:X   channel:phone
badges: V vip · M member 会员 · K key account 大客户
        S special care · W watch
marks:  * pending (not yet on the server) · @ another agent is on it
        N new · + marked"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help_close")]

    def __init__(self, under: Screen[Any], *, filter_first: bool = False) -> None:
        super().__init__()
        relabel(self)
        self.under = under
        self.filter_first = filter_first  # asked from the filter box: its language on top

    def compose(self) -> ComposeResult:
        rows: dict[str, list[str]] = {}  # what it does -> its keys (1..6 share one line)
        seen = set()
        # The screen's keys, then those of the widget that has the focus (the table's j/k).
        focused = self.under.focused
        for node in [self.under, *([focused] if focused is not None else [])]:
            for binding in getattr(node, "BINDINGS", []):
                if not isinstance(binding, Binding) or binding.action in seen:
                    continue
                action = binding.action.split("(")[0]
                if not self.under.check_action(action, ()):
                    continue
                seen.add(binding.action)
                rows.setdefault(label(binding.description) or action, []).append(
                    self._keys(binding))
        allowed = getattr(self.app, "lead_screen_allowed", None)  # the app's own: H, F, L
        for binding in getattr(self.app, "LEAD_BINDINGS", []):
            if allowed is not None and allowed(binding.action):
                rows.setdefault(label(binding.description), []).append(self._keys(binding))
        lines = [t("help.title"), ""]
        lines += [f"  {','.join(keys):<18} {what}" for what, keys in rows.items()]
        lines += ["", f"  {'ctrl+p / :':<18} {t('key.commands')}",
                  f"  {'q':<18} {t('key.quit')}"]
        terms = [t("help.filter"), FILTER_HELP]
        lines = [*terms, "", *lines] if self.filter_first else [*lines, "", *terms]
        with VerticalScroll():
            yield Static("\n".join(lines), markup=False)

    def _keys(self, binding: Binding) -> str:
        keymap = getattr(self.app, "_keymap", {}) or {}
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        return ",".join(self.app.get_key_display(Binding(k, "")) for k in keys.split(","))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
