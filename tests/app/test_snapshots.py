"""Snapshots of every screen and modal, at 80x24 and 160x48, in English and
Chinese, and with NO_COLOR (pytest-textual-snapshot's SVG snapshots).

Deterministic by construction: no server. The profile's cache and outbox are
written from fixed data built with the domain engine (tests/app/snapdata.py),
the app's clock is fixed, and its server is a loopback port where nothing
listens, so it shows `offline · cached 3 min ago · 1 pending · 1 conflict`;
once it has said so, the sync worker is stopped so that no retry can flicker
`syncing` into a shot, and blinking cursors are held still.

One app run per (user, language, size) tours its screens as a user would (j,
enter, a key, esc) and takes a snapshot at each stop: starting an app and
mounting its screens is most of the cost, and one run per snapshot (what
`snap_compare` does) would take well over a minute and a half for 76 shots.
Every stop is its own named SVG, and a run reports every stop that differs.

    .venv/bin/python -m pytest tests/app/test_snapshots.py --snapshot-update

rewrites the SVGs under __snapshots__/; look at them before committing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy.assertion import SnapshotAssertion
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, TextArea

from csq.app import CsqApp
from csq.screens.conflicts import ConflictsScreen
from csq.screens.detail import DetailScreen
from csq.screens.forms import ActionForm
from csq.screens.help import HelpScreen
from csq.screens.new_item import CustomerPicker, NewItemForm
from csq.screens.queue import QueueScreen
from csq.widgets.queue_table import QueueTable
from tests.app.snapdata import make_offline_app

Step = Callable[[Pilot[Any]], Awaitable[None]]


async def _until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def _on(pilot: Pilot[Any], screen: type[Screen[Any]]) -> Callable[[], bool]:
    return lambda: isinstance(pilot.app.screen, screen)


async def _offline_and_still(pilot: Pilot[Any]) -> None:
    """Wait until the app has found the server unreachable, then stop syncing."""
    app = pilot.app
    assert isinstance(app, CsqApp)
    await _until(pilot, _on(pilot, QueueScreen), "the queue")
    await _until(pilot, lambda: app.engine.status.connection == "offline", "offline")
    app.workers.cancel_group(app, "sync")
    await pilot.pause()


def press(*keys: str) -> Step:
    async def step(pilot: Pilot[Any]) -> None:
        await pilot.press(*keys)
    return step


def open_item(item_id: int) -> Step:
    """From the queue: to the top, down with j to the item, enter."""
    async def step(pilot: Pilot[Any]) -> None:
        table = pilot.app.screen.query_one(QueueTable)
        index = next(i for i, row in enumerate(table.rows) if row.id == item_id)
        await pilot.press(*["g"] * (table.cursor > 0), *["j"] * index, "enter")
        await _until(pilot, _on(pilot, DetailScreen), "the detail")
    return step


def type_filter(text: str) -> Step:
    async def step(pilot: Pilot[Any]) -> None:
        await pilot.press("slash")
        box = pilot.app.screen.query_one("#filter", Input)
        box.value = text  # as typed; Chinese comes in through the IME, not key by key
        await pilot.pause()
    return step


def type_who(text: str) -> Step:
    async def step(pilot: Pilot[Any]) -> None:
        await _until(pilot, _on(pilot, CustomerPicker), "the customer picker")
        pilot.app.screen.query_one("#who", Input).value = text  # as an IME would
        await pilot.pause()
    return step


@dataclass(frozen=True)
class Stop:
    """Do `steps`, expect `screen`, take a snapshot named `name`, then do `back`."""

    name: str
    steps: tuple[Step, ...]
    screen: type[Screen[Any]]
    back: tuple[Step, ...] = ()


def modal(name: str, key: str) -> Stop:
    return Stop(name, (press(key),), ActionForm, (press("escape"),))


ALICE = (  # an agent
    Stop("queue", (), QueueScreen),
    Stop("queue-marks", (press("space", "space"),), QueueScreen, (press("escape", "g"),)),
    Stop("queue-filter", (type_filter("张伟"),), QueueScreen, (press("escape", "escape"),)),
    Stop("help", (press("question_mark"),), HelpScreen, (press("escape"),)),
    Stop("conflicts", (press("C"),), ConflictsScreen, (press("escape"),)),
    Stop("detail-ticket", (open_item(4),), DetailScreen),  # customer text full of escapes
    modal("reply", "r"),
    modal("note", "n"),
    modal("transition", "t"),
    modal("promise", "p"),
    modal("schedule", "b"),
    Stop("detail-complaint", (press("escape"), open_item(2)), DetailScreen),
    Stop("detail-callback", (press("escape"), open_item(3)), DetailScreen),
    modal("complete", "d"),  # with the opening script
    modal("waive", "w"),
    Stop("route", (press("escape"), open_item(6), press("o")), ActionForm,
         (press("escape", "escape"),)),
    # New item: the customer found by typing, their open items; the item form; a new customer.
    Stop("new-pick", (press("n"), type_who("张伟")), CustomerPicker),
    Stop("new-item", (press("enter"),), NewItemForm, (press("escape"),)),
    Stop("new-customer", (press("n"), press("ctrl+n")), ActionForm, (press("escape"),) * 2),
)
LEE = (  # a lead: assign and escalate are theirs
    Stop("assign", (open_item(1), press("a")), ActionForm, (press("escape", "escape"),)),
    Stop("escalate", (open_item(6), press("e")), ActionForm),
)
PLAIN = (  # NO_COLOR
    Stop("queue", (), QueueScreen),
    Stop("detail-ticket", (open_item(4),), DetailScreen),
)
TOURS = {"alice": ALICE, "lee": LEE}
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


def _tour(snapshot: SnapshotAssertion, tmp_path: Path, user: str, stops: tuple[Stop, ...],
          lang: str, size: tuple[int, int]) -> None:
    snap = snapshot.use_extension(SVGImageExtension)
    app = make_offline_app(tmp_path / "profiles", user, lang=lang)
    shots: dict[str, str] = {}

    async def tour(pilot: Pilot[Any]) -> None:
        await _offline_and_still(pilot)
        for stop in stops:
            for step in stop.steps:
                await step(pilot)
            await _until(pilot, _on(pilot, stop.screen), f"{stop.name}: {stop.screen.__name__}")
            for widget in pilot.app.screen.query("Input, TextArea"):
                assert isinstance(widget, Input | TextArea)
                widget.cursor_blink = False  # a blinking cursor is a coin toss in a snapshot
            await pilot.pause()
            shots[stop.name] = pilot.app.export_screenshot(title="csq")
            for step in stop.back:
                await step(pilot)
        pilot.app.exit()

    app.run(headless=True, size=size, auto_pilot=tour)
    assert list(shots) == [s.name for s in stops]
    differ = [name for name, svg in shots.items() if snap(name=name) != svg]
    assert not differ, f"snapshots that differ: {differ} (--snapshot-update to accept)"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("user", TOURS)
def test_screens(snapshot: SnapshotAssertion, tmp_path: Path, user: str, lang: str,
                 size: str) -> None:
    _tour(snapshot, tmp_path, user, TOURS[user], lang, SIZES[size])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_color(snapshot: SnapshotAssertion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  lang: str) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # Textual reads (and pops) it when the app is made
    _tour(snapshot, tmp_path, "alice", PLAIN, lang, SIZES["80x24"])
