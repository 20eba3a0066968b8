"""Promise 4: customer text cannot drive the terminal (csq/domain/text.py)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from csq.domain.text import has_nul, neutralise, normalise
from tests.domain.conftest import BIDI_CONTROLS


def _unsafe(text: str, *, multiline: bool) -> list[str]:
    """The characters of `text` that must never reach a terminal."""
    return [c for c in text
            if (ord(c) < 0x20 and not (multiline and c == "\n"))
            or 0x7F <= ord(c) <= 0x9F or c in BIDI_CONTROLS]


@pytest.mark.parametrize("raw, shown", [
    ("\x1b[31mred\x1b[0m", "^[[31mred^[[0m"),  # ESC / CSI
    ("\x1b]0;pwned\x07", "^[]0;pwned^G"),  # OSC set-title, ended by BEL
    ("\x1b]8;;http://evil\x1b\\link", "^[]8;;http://evil^[\\link"),  # OSC 8 hyperlink
    ("\x9b31m", "\ufffd31m"),  # 8-bit CSI (C1)
    ("\x9d0;t\x9c", "\ufffd0;t\ufffd"),  # 8-bit OSC ... ST
    ("bell\x07", "bell^G"),
    ("abc\x08\x08\x08xyz", "abc^H^H^Hxyz"),  # backspace over-typing
    ("paid\rrefund", "paid^Mrefund"),  # bare CR rewrites the line
    ("del\x7f", "del^?"),
    ("\x00nul", "^@nul"),
    ("a\tb", "a b"),
    ("user\u202egnp.exe", "user\ufffdgnp.exe"),  # RLO
    ("\u2066isolate\u2069", "\ufffdisolate\ufffd"),
    ("\u200fmark\u061c", "\ufffdmark\ufffd"),
    ("您好,快递还没到", "您好,快递还没到"),
])
def test_neutralise_replaces_controls_with_visible_stand_ins(raw, shown):
    assert neutralise(raw) == shown


def test_newlines_survive_only_in_multiline_mode():
    assert neutralise("line one\nline two\r\nthree") == "line one line two three"
    assert neutralise("line one\nline two\r\nthree", multiline=True) == (
        "line one\nline two\nthree")
    assert neutralise("a\tb\rc", multiline=True) == "a b^Mc"


@pytest.mark.parametrize("empty", [None, ""])
def test_neutralise_of_nothing_is_empty(empty):
    assert neutralise(empty) == "" and neutralise(empty, multiline=True) == ""


_hostile = st.text(alphabet=st.one_of(
    st.characters(max_codepoint=0xA0),
    st.sampled_from(sorted(BIDI_CONTROLS)),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E50),
), max_size=60)


@settings(max_examples=200, deadline=None)
@given(text=_hostile, multiline=st.booleans())
@example(text="\t\x1b[2J\r\n\x85\u061c", multiline=True)
def test_neutralised_text_has_no_control_characters(text, multiline):
    out = neutralise(text, multiline=multiline)
    assert _unsafe(out, multiline=multiline) == [], repr(out)
    if not multiline:
        assert "\n" not in out


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.characters(
    blacklist_categories=("Cc", "Cs"), blacklist_characters="".join(BIDI_CONTROLS))))
def test_neutralise_leaves_ordinary_text_alone(text):
    assert neutralise(text) == text
    assert neutralise(text, multiline=True) == text


def test_nul_detection_and_nfc():
    assert has_nul("a\x00b") and not has_nul("ab")
    assert normalise("e\u0301") == "\u00e9"
