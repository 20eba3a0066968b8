"""Snapshots of the supervisors' wall and the lead's screens (handover, quality
follow-ups, load and assignment) at 80x24 and 160x48, English and Chinese,
and the wall with NO_COLOR.

Deterministic as tests/app/test_snapshots.py is: the app opens offline from a
fixed cache (tests/app/snapdata.py) with a fixed clock. What only the server
knows is fixed here: the wall's figures are set as if pushed, and the
handovers waiting are given to the app's online read. The allocation screen
shows its offline fallback, the load counted from the cache, and says so.

    .venv/bin/python -m pytest tests/app/test_lead_snapshots.py --snapshot-update
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy.assertion import SnapshotAssertion
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, TextArea

from csq.api import LiveMetrics
from csq.api.schemas import AgentLoad
from csq.app import CsqApp
from csq.domain.handover import Handover, HandoverItem
from csq.screens.allocation import AllocationScreen
from csq.screens.forms import ActionForm
from csq.screens.handover import HandoverScreen
from csq.screens.monitor import WallScreen
from csq.screens.quality import QualityScreen
from csq.screens.queue import QueueScreen
from tests.app.snapdata import NOW, build_lead_items, make_offline_app
from tests.app.test_snapshots import SIZES, Step, _until, press

WALL_FIGURES = LiveMetrics(
    seq=42, at=NOW, waiting_by_kind={"ticket": 12, "complaint": 5, "callback": 3},
    oldest_waiting_s=6 * 3600 + 120, breached=4, at_risk=3, escalations_open=1,
    agents=[AgentLoad(username="alice", name="Alice Wang 王丽", open_items=7, online=True),
            AgentLoad(username="bob", name="Bob Li 李博", open_items=3, online=True),
            AgentLoad(username="lee", name="Lee Zhang 张磊", open_items=1, online=False)],
    callbacks_due_today=2, callbacks_overdue=1, satisfaction_today=4.3,
    depth_history=[8, 9, 11, 14, 18, 17, 15, 16, 19, 22, 21, 20],
    handovers_unacknowledged=2, quality_followups_overdue=1)

WAITING = [Handover(
    id=3, seq=40, author="bob", author_name="Bob Li 李博", shift="20:00-08:00",
    next_shift="08:00-20:00", note="7 号回访客户要求下午再打; 1 号停电单已联系抢修班组。",
    created_at=NOW - timedelta(hours=2, minutes=5),
    items=(HandoverItem(id=7, kind="callback", status="scheduled", priority="P3",
                        subject="Satisfaction survey after the repair", promised_today=True,
                        promised_at=NOW + timedelta(hours=5)),
           HandoverItem(id=1, kind="ticket", status="new", priority="P1",
                        subject="小区停电三小时,冰箱里的东西都坏了,要求赔偿", overdue=True)),
    open_count=2, overdue_count=1, promised_today_count=1)]


async def _waiting() -> list[Handover]:
    return WAITING


async def _offline_and_still(pilot: Pilot[Any], first: type[Screen[Any]]) -> None:
    app = pilot.app
    assert isinstance(app, CsqApp)
    await _until(pilot, lambda: isinstance(app.screen, first), first.__name__)
    await _until(pilot, lambda: app.engine.status.connection == "offline", "offline")
    app.workers.cancel_group(app, "sync")
    app.engine.metrics = WALL_FIGURES  # as the stream would have pushed them
    for screen in app.screen_stack:
        if isinstance(screen, WallScreen):
            screen.show_metrics(WALL_FIGURES)
    await pilot.pause()


Stop = tuple[str, tuple[Step, ...], type[Screen[Any]], tuple[Step, ...]]
WALL: tuple[Stop, ...] = (("wall", (), WallScreen, ()),)
LEAD: tuple[Stop, ...] = (
    ("handovers", (press("H"),), HandoverScreen, ()),
    ("acknowledge", (press("a"),), ActionForm, (press("escape", "escape"),)),
    ("followups", (press("F"),), QualityScreen, ()),
    ("withdraw", (press("w"),), ActionForm, (press("escape", "escape"),)),
    ("allocation", (press("L"),), AllocationScreen, ()),
    ("assign", (press("a"),), ActionForm, (press("escape", "escape"),)),
)
AGENT: tuple[Stop, ...] = (
    ("handover-mine", (press("H"),), HandoverScreen, ()),
    ("hand-over", (press("w"),), ActionForm, ()),
)
TOURS = {"sue": (WallScreen, WALL), "lee": (QueueScreen, LEAD), "alice": (QueueScreen, AGENT)}


def _tour(snapshot: SnapshotAssertion, tmp_path: Path, user: str, lang: str,
          size: tuple[int, int]) -> None:
    snap = snapshot.use_extension(SVGImageExtension)
    first, stops = TOURS[user]
    app = make_offline_app(tmp_path / "profiles", user, lang=lang, extra=build_lead_items)
    app.read_handovers = _waiting  # type: ignore[method-assign]
    shots: dict[str, str] = {}

    async def tour(pilot: Pilot[Any]) -> None:
        await _offline_and_still(pilot, first)
        for name, steps, screen, back in stops:
            for step in steps:
                await step(pilot)
            await _until(pilot, lambda s=screen: isinstance(pilot.app.screen, s), name)  # type: ignore[misc]
            await pilot.pause(0.1)  # the screen's own workers (the handovers read)
            for widget in pilot.app.screen.query("Input, TextArea"):
                assert isinstance(widget, Input | TextArea)
                widget.cursor_blink = False
            await pilot.pause()
            shots[f"{user}-{name}"] = pilot.app.export_screenshot(title="csq")
            for step in back:
                await step(pilot)
        pilot.app.exit()

    app.run(headless=True, size=size, auto_pilot=tour)
    assert list(shots) == [f"{user}-{s[0]}" for s in stops]
    differ = [name for name, svg in shots.items() if snap(name=name) != svg]
    assert not differ, f"snapshots that differ: {differ} (--snapshot-update to accept)"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("user", TOURS)
def test_lead_screens_and_wall(snapshot: SnapshotAssertion, tmp_path: Path, user: str,
                               lang: str, size: str) -> None:
    _tour(snapshot, tmp_path, user, lang, SIZES[size])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wall_no_color(snapshot: SnapshotAssertion, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    _tour(snapshot, tmp_path, "sue", lang, SIZES["80x24"])
