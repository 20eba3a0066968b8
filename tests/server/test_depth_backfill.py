"""The wall's depth chart after a restart: its past is replayed from the events,
so a restarted server or a fresh replica draws the last hours at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csq.server.metrics import SAMPLE_EVERY, depth_backfill
from tests.support.api import Api


async def test_depth_is_replayed_from_created_and_claimed_events(api: Api) -> None:
    now = datetime.now(UTC)  # the wall samples on the real clock; so does the back-fill
    api.clock.now = now - timedelta(hours=3)
    first = await api.item("bob", subject="三小时前")
    api.clock.now = now - timedelta(hours=2)
    await api.item("bob", subject="两小时前")
    api.clock.now = now - timedelta(hours=1)
    assert (await api.act("alice", first, "claim")).status_code == 200  # one leaves the queue

    async with api.app.state.metrics.sessions() as session:
        points = await depth_backfill(session, now)
    assert len(points) == 72  # six hours of five-minute points, oldest first
    at = [now - timedelta(seconds=SAMPLE_EVERY * k) for k in range(72, 0, -1)]
    expected = [0.0 if t < now - timedelta(hours=3) else 1.0 if t < now - timedelta(hours=2)
                else 2.0 if t < now - timedelta(hours=1) else 1.0 for t in at]
    assert points == expected
    figures = await api.app.state.metrics.get()
    assert sum(figures.waiting_by_kind.values()) == points[-1]  # it meets the live figure


async def test_a_busy_history_is_cut_short_not_guessed(api: Api) -> None:
    now = datetime.now(UTC)
    for hours in (5, 4, 3):
        api.clock.now = now - timedelta(hours=hours)
        await api.item("bob", subject=f"{hours} h ago")
    async with api.app.state.metrics.sessions() as session:
        points = await depth_backfill(session, now, budget=2)  # only the last two writes
    # Four hours reached (the item from five hours ago is past the budget): 48 points.
    assert len(points) == 48 and points[0] == 2.0 and points[-1] == 3.0
