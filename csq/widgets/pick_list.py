"""A keyboard list for the lead's screens: an OptionList that walks like the
queue (j/k, g/G) and keeps its place when its rows are redrawn."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from csq.i18n import t


class PickList(OptionList):
    DEFAULT_CSS = """
    PickList { text-wrap: nowrap; text-overflow: ellipsis; }
    """
    BINDINGS = [
        Binding("j", "cursor_down", t("key.down"), show=False, id="pick_down"),
        Binding("k", "cursor_up", t("key.up"), show=False, id="pick_up"),
        Binding("g", "first", t("key.top"), show=False, id="pick_top"),
        Binding("G", "last", t("key.bottom"), show=False, id="pick_bottom"),
    ]

    def show_rows(self, rows: Iterable[tuple[str, Text | str]]) -> None:
        """Replace the rows ((id, text) pairs), keeping the highlighted one if it stays."""
        current = self.highlighted_id
        options = [Option(text, id=row_id) for row_id, text in rows]
        self.set_options(options)
        ids = [o.id for o in options]
        if current in ids:
            self.highlighted = ids.index(current)
        elif options:
            self.highlighted = 0

    @property
    def highlighted_id(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None
