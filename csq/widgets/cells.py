"""Cutting and padding text to terminal cells (CJK is two cells wide)."""

from __future__ import annotations

from rich.cells import cell_len


def fit(text: str, width: int, *, align_right: bool = False) -> str:
    """Exactly `width` cells: cut with an ellipsis at the display width, then pad."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        out, used = [], 0
        for char in text:
            w = cell_len(char)
            if used + w > width - 1:
                break
            out.append(char)
            used += w
        text, length = "".join(out) + "…", used + 1
    pad = " " * (width - length)
    return pad + text if align_right else text + pad
