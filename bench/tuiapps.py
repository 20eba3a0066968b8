"""Baseline apps for `python -m bench tui`, each run in a pty as its own process:

    python -m bench.tuiapps bare      a bare Textual app painting one line
    python -m bench.tuiapps ticking   a Textual DataTable whose 24 visible clock
                                      cells change every second (issue 5's anchor)

`q` quits either. Nothing of csq is imported: these are what Textual costs alone.
"""

from __future__ import annotations

import sys
import time

BARE_TEXT = "csq-bench bare app"


def bare() -> int:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Bare(App[None]):
        BINDINGS = [("q", "quit", "quit")]

        def compose(self) -> ComposeResult:
            yield Static(BARE_TEXT)

    Bare().run()
    return 0


def ticking() -> int:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    class Ticking(App[None]):
        BINDINGS = [("q", "quit", "quit")]

        def compose(self) -> ComposeResult:
            yield DataTable()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            self.start = time.monotonic()
            table.add_column("id", key="id")
            table.add_column("subject", key="subject")
            table.add_column("left", key="left")
            for n in range(24):
                table.add_row(str(1000 + n), f"停电了,整栋楼没电 power cut in building {n}",
                              self.left(n), key=str(n))
            self.set_interval(1.0, self.tick)

        def left(self, n: int) -> str:
            secs = 9 * 60 - n * 7 - int(time.monotonic() - self.start)
            return f"{secs // 60}m{secs % 60:02d}s"

        def tick(self) -> None:
            table = self.query_one(DataTable)
            for n in range(24):
                table.update_cell(str(n), "left", self.left(n))

    Ticking().run()
    return 0


if __name__ == "__main__":
    sys.exit({"bare": bare, "ticking": ticking}[sys.argv[1]]())
