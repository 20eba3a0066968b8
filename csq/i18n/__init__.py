"""UI strings in English and Simplified Chinese, with the handbooks' words.

`t("key")` looks up the current language; a missing Chinese string falls back
to English rather than showing a key. The language comes from --lang, then
the config file, then LANG/LC_ALL.
"""

from __future__ import annotations

import os

from csq.i18n.en import STRINGS as EN
from csq.i18n.zh import STRINGS as ZH

_TABLES = {"en": EN, "zh": ZH}
_current = "en"


def detect(explicit: str | None = None) -> str:
    for value in (explicit, os.environ.get("LC_ALL"), os.environ.get("LANG")):
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def set_lang(lang: str) -> None:
    global _current
    _current = "zh" if lang.lower().startswith("zh") else "en"


def lang() -> str:
    return _current


def t(key: str, **values: object) -> str:
    text = _TABLES[_current].get(key) or EN.get(key) or key
    return text.format(**values) if values else text


_LABEL_PREFIXES = ("key.", "modal.", "conflicts.")
_LABEL_KEYS: dict[str, str] = {
    text: key for table in (EN, ZH) for key, text in table.items()
    if key.startswith(_LABEL_PREFIXES)
}


def label(text: str) -> str:
    """A binding's description, in the current language."""
    key = _LABEL_KEYS.get(text)
    return t(key) if key else text


def relabel(node: object) -> None:
    """Show a node's key bindings in the current language.

    Binding descriptions are written when a class is defined, in whatever
    language was current then; call this from `__init__` (after Textual's) so
    the key bar, the help screen and the palette speak the app's language.
    """
    from dataclasses import replace

    bindings = getattr(node, "_bindings", None)
    table = getattr(bindings, "key_to_bindings", None)
    if not isinstance(table, dict):
        return
    for key, items in table.items():
        table[key] = [replace(b, description=label(b.description)) for b in items]
