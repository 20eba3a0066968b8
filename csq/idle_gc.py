"""Full garbage collections while nobody waits for the screen.

Textual leaves cyclic garbage behind it (closed forms, the strips and caches that
hung off them), and CPython finds it in full collections, each 10–16 ms with a
50,000-item queue loaded (docs/benchmarks.md). Left to itself the collector runs
one when its counters say so, which is whenever the allocations happen: under a
keystroke, a 16 ms frame budget gone. Here a full collection that is due runs
instead a moment after the last key, once its frame is out, or during a quiet
second. The automatic trigger stays, raised ten times, as a backstop for a user
who types without pause for minutes: memory stays bounded either way.

Young collections (generations 0 and 1) are untouched: they are short, and most
garbage dies there.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

# A full collection is due after this many generation-1 collections since the last
# one: CPython's own default third threshold.
DUE = 10
# The automatic trigger, raised from DUE: reached only without a quiet moment.
BACKSTOP = 10 * DUE
# After a key, this long without another before collecting: the key's first frame
# is out well before (~10 ms), and a typist's next key is ~100–300 ms away.
QUIET_AFTER_KEY = 0.05
# With no key at all, check this often (live changes make garbage too).
IDLE_CHECK = 1.0


def due() -> bool:
    return gc.get_count()[2] >= DUE


class IdleCollector:
    """Owns the interpreter's full-collection thresholds while started."""

    def __init__(self, *, collect: Callable[[], object] = gc.collect,
                 is_due: Callable[[], bool] = due, clock: Callable[[], float] = time.monotonic,
                 quiet: float = QUIET_AFTER_KEY, idle_check: float = IDLE_CHECK) -> None:
        self._collect = collect
        self._is_due = is_due
        self._clock = clock
        self._quiet = quiet
        self._idle_check = idle_check
        self._saved: tuple[int, int, int] | None = None
        self._last_input = clock()
        self._pending: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _ = self._saved
            gc.set_threshold(young, middle, BACKSTOP)
        self._schedule_idle()

    def stop(self) -> None:
        for handle in (self._pending, self._idle):
            if handle is not None:
                handle.cancel()
        self._pending = self._idle = None
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def input_seen(self) -> None:
        """A key arrived: collect, if due, once the keys pause."""
        self._last_input = self._clock()
        if self._pending is not None:
            self._pending.cancel()
        self._pending = asyncio.get_running_loop().call_later(self._quiet, self._after_keys)

    def _after_keys(self) -> None:
        self._pending = None
        self._maybe_collect()

    def _schedule_idle(self) -> None:
        self._idle = asyncio.get_running_loop().call_later(self._idle_check,
                                                           self._on_idle_check)

    def _on_idle_check(self) -> None:
        if self._clock() - self._last_input >= self._idle_check:
            self._maybe_collect()
        self._schedule_idle()

    def _maybe_collect(self) -> None:
        if self._saved is not None and self._is_due():
            self._collect()
