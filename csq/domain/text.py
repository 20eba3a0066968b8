"""Customer text: what the server refuses and how the terminal shows the rest.

Promise 4: customer text cannot drive the terminal. Every control character
(C0, DEL, C1, and the bidi overrides that reorder a line) is replaced with a
visible stand-in before any widget renders it. Newlines survive only where the
caller asks (multi-line bodies); tabs become spaces.
"""

from __future__ import annotations

import re
import unicodedata

_BIDI = "\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f" + _BIDI + "]"  # all but \n (tabs become spaces)
)
_CONTROL_WITH_NL = re.compile("[\x00-\x1f\x7f-\x9f" + _BIDI + "]")


def _stand_in(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\t":
        return " "
    if code < 0x20:
        return "^" + chr(code + 0x40)  # caret notation: ESC -> ^[
    if code == 0x7F:
        return "^?"
    return "\ufffd"


def neutralise(text: str | None, *, multiline: bool = False) -> str:
    """Return `text` safe to hand to a terminal: no byte of it is a control."""
    if not text:
        return ""
    if text.isprintable():  # no C0, DEL, C1 or bidi control (all of them are not)
        return text
    if multiline:
        text = text.replace("\r\n", "\n")
        pattern = _CONTROL
    else:
        text = text.replace("\r\n", " ").replace("\n", " ")
        pattern = _CONTROL_WITH_NL
    return pattern.sub(_stand_in, text)


def has_nul(text: str) -> bool:
    return "\x00" in text


def normalise(text: str) -> str:
    """NFC, so that search and comparison see one form of each character."""
    return unicodedata.normalize("NFC", text)
