"""Full collections run when the keys pause, not under them (csq/idle_gc.py)."""

from __future__ import annotations

import asyncio
import gc

from csq.idle_gc import BACKSTOP, IdleCollector


class Spy:
    def __init__(self) -> None:
        self.runs = 0
        self.due = True

    def collect(self) -> None:
        self.runs += 1


def collector(spy: Spy, idle_check: float = 60.0) -> IdleCollector:
    return IdleCollector(collect=spy.collect, is_due=lambda: spy.due, quiet=0.05,
                         idle_check=idle_check)


async def test_a_due_collection_waits_for_the_keys_to_pause() -> None:
    spy = Spy()
    idle = collector(spy)
    idle.start()
    try:
        for _ in range(6):  # a typist: a key every 20 ms, never a 50 ms pause
            idle.input_seen()
            await asyncio.sleep(0.02)
        assert spy.runs == 0
        await asyncio.sleep(0.1)
        assert spy.runs == 1  # once, after the last key
    finally:
        idle.stop()


async def test_nothing_runs_when_no_collection_is_due() -> None:
    spy = Spy()
    spy.due = False
    idle = collector(spy, idle_check=0.05)
    idle.start()
    try:
        idle.input_seen()
        await asyncio.sleep(0.2)
        assert spy.runs == 0
    finally:
        idle.stop()


async def test_a_quiet_app_collects_on_its_idle_check() -> None:
    spy = Spy()
    idle = collector(spy, idle_check=0.05)
    idle.start()
    try:
        await asyncio.sleep(0.2)
        assert spy.runs >= 1
    finally:
        idle.stop()


async def test_the_automatic_trigger_is_a_backstop_while_started_and_restored_after() -> None:
    saved = gc.get_threshold()
    idle = collector(Spy())
    idle.start()
    try:
        assert gc.get_threshold() == (saved[0], saved[1], BACKSTOP)
    finally:
        idle.stop()
    assert gc.get_threshold() == saved
