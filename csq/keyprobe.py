"""A probe for `python -m bench tui`: when each key reached the app and when each
frame was handed to the terminal, written to the file named by CSQ_PROFILE_KEYS.

Off (None) unless that variable is set; it only ever appends timestamps, never
changes what the app does.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any, TextIO


class KeyProbe:
    """Lines `key T CPU NAME` and `paint T CPU`: T is time.monotonic() (one clock
    for every process on the machine), CPU this process's time.process_time()."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        """Lines `gc T CPU GEN MS` for collections of generation 1 or 2: a pause the
        key-to-frame figures may contain."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif info.get("generation", 0) >= 1:
            ms = (time.perf_counter() - self._gc_started) * 1000
            self.out.write(f"gc {time.monotonic():.6f} {time.process_time():.6f} "
                           f"{info['generation']} {ms:.1f}\n")

    @classmethod
    def from_env(cls) -> KeyProbe | None:
        path = os.environ.get("CSQ_PROFILE_KEYS")
        return cls(open(path, "a", buffering=1, encoding="utf-8")) if path else None

    def key(self, name: str) -> None:
        self.out.write(f"key {time.monotonic():.6f} {time.process_time():.6f} {name}\n")

    def paint(self) -> None:
        self.out.write(f"paint {time.monotonic():.6f} {time.process_time():.6f}\n")
