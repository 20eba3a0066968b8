"""The agent keeps working when the server goes away, and nothing is lost or doubled."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from csq.screens.detail import DetailScreen
from csq.server import models
from csq.server.db import make_engine, sessionmaker
from csq.widgets.queue_table import QueueTable
from csq.widgets.status_bar import StatusBar
from tests.app.conftest import make_app, wait_for
from tests.support.live import LiveServer


async def _count_events(db: str, item_id: int, kind: str) -> int:
    engine = make_engine(db)
    try:
        async with sessionmaker(engine)() as session:
            return int((await session.execute(select(func.count()).select_from(models.Event)
                        .where(models.Event.item_id == item_id,
                               models.Event.type == kind))).scalar_one())
    finally:
        await engine.dispose()


async def test_offline_claim_note_reply_are_applied_once_after_restart(
        server: LiveServer, tmp_path: Path) -> None:
    item = await server.api.item("bob", subject="电梯故障 lift broken")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(QueueTable)
        await wait_for(pilot, lambda: app.engine.status.connection == "live" and bool(table.rows))
        await server.stop()
        await wait_for(pilot, lambda: app.engine.status.connection == "offline")

        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("c")
        await wait_for(pilot, lambda: app.engine.status.pending == 1)
        await pilot.press("n", *"客户不在家", "ctrl+s")
        await pilot.press("r", *"已安排维修", "ctrl+s")
        await wait_for(pilot, lambda: app.engine.status.pending == 3)
        bar = app.screen.query_one(StatusBar)
        bar.show(app.engine.status)
        assert "offline" in bar.text() and "3 pending" in bar.text()
        local = app.item(item["id"])
        assert local is not None and local.owner == "alice"
        pending_entries = [e.type for e in local.timeline if e.seq == 0]
        assert pending_entries == ["claim", "transition", "note", "reply"]

        await server.start()
        await wait_for(pilot, lambda: app.engine.status.pending == 0, timeout=30)
    on_server = await server.api.get("alice", item["id"])
    assert on_server["owner"] == "alice"
    for kind in ("claim", "note", "reply"):
        assert await _count_events(server.db, item["id"], kind) == 1, kind
