"""Figure tiles for the wall: a title, a big number, a line of detail.
Focusable, so a supervisor can walk them by keyboard and drill down."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Static


class Tile(Static, can_focus=True):
    DEFAULT_CSS = """
    Tile { width: 1fr; height: 5; border: round $primary-muted; padding: 0 1;
           content-align: center middle; text-align: center; }
    Tile:focus { border: double $accent; }
    Tile.-alert { border: round ansi_bright_red; color: ansi_bright_red; }
    Tile.-warn { border: round ansi_yellow; }
    """
    BINDINGS = [("enter", "drill", "Open")]

    class Drilled(Message):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    def __init__(self, title: str, query: str = "", **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.border_title = title
        self.query_text = query

    def show(self, value: str, detail: str = "", *, alert: bool = False,
             warn: bool = False) -> None:
        text = Text(value, style="bold", justify="center")
        if detail:
            text = Text.assemble(text, "\n", Text(detail), justify="center")
        self.update(text)
        self.set_class(alert, "-alert")
        self.set_class(warn and not alert, "-warn")

    def action_drill(self) -> None:
        if self.query_text:
            self.post_message(self.Drilled(self.query_text))
