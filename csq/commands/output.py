"""Plain output: aligned tables that survive Chinese text, and JSON.

Every value that came from a customer goes through `neutralise`, so a
subject cannot move the cursor or retitle the terminal (promise 4).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import orjson

from csq.domain.text import neutralise
from csq.widgets.cells import fit as fit_cells


def fit(text: str, width: int) -> str:
    """Cut to `width` terminal cells with an ellipsis, then pad: CJK counts as two.
    Customer text is neutralised first; the cutting is the app's own."""
    return fit_cells(neutralise(text), width)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]],
          widths: Sequence[int]) -> str:
    lines = ["  ".join(fit(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(fit(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def note(message: str) -> None:
    """Side information (offline, age of data) goes to stderr, so pipes stay clean."""
    print(neutralise(message), file=sys.stderr)
