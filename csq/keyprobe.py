"""A probe for `python -m bench tui`: when each key reached the app and when each
frame was handed to the terminal, written to the file named by CSQ_PROFILE_KEYS.

Off (None) unless that variable is set; it only ever appends timestamps, never
changes what the app does.
"""

from __future__ import annotations

import os
import time
from typing import TextIO


class KeyProbe:
    """Lines `key T CPU NAME` and `paint T CPU`: T is time.monotonic() (one clock
    for every process on the machine), CPU this process's time.process_time()."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    @classmethod
    def from_env(cls) -> KeyProbe | None:
        path = os.environ.get("CSQ_PROFILE_KEYS")
        return cls(open(path, "a", buffering=1, encoding="utf-8")) if path else None

    def key(self, name: str) -> None:
        self.out.write(f"key {time.monotonic():.6f} {time.process_time():.6f} {name}\n")

    def paint(self) -> None:
        self.out.write(f"paint {time.monotonic():.6f} {time.process_time():.6f}\n")
