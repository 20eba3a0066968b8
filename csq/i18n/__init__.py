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
