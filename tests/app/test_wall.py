"""The supervisors' wall: the server's figures, live, and nothing to change."""

from __future__ import annotations

from pathlib import Path

from csq.screens.monitor import WallScreen
from csq.widgets.tiles import Tile
from tests.app.conftest import make_app, wait_for
from tests.support.live import LiveServer


def _tile_text(app: object, tile_id: str) -> str:
    tile = app.screen.query_one(f"#{tile_id}", Tile)  # type: ignore[attr-defined]
    return str(tile.render())


async def test_wall_shows_the_servers_figures_and_follows_the_queue(
        server: LiveServer, tmp_path: Path) -> None:
    await server.api.item("bob", subject="停电 power cut")
    app = make_app(server, "sue", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, WallScreen)
        await wait_for(pilot, lambda: app.engine.metrics is not None
                       and sum(app.engine.metrics.waiting_by_kind.values()) == 1)
        await wait_for(pilot, lambda: "1" in _tile_text(app, "waiting"))

        await server.api.item("bob", kind="complaint", category="delivery",
                              subject="包裹延误")
        await wait_for(pilot, lambda: app.engine.metrics is not None
                       and sum(app.engine.metrics.waiting_by_kind.values()) == 2, timeout=15)
        await wait_for(pilot, lambda: "2" in _tile_text(app, "waiting"))
        shown = {b.binding.action for b in app.active_bindings.values()}
        assert not shown & {"claim", "reply", "note", "new_item", "bulk_assign"}


async def test_wall_fits_a_large_terminal_too(server: LiveServer, tmp_path: Path) -> None:
    await server.api.item("bob")
    app = make_app(server, "sue", tmp_path, lang="zh")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.engine.metrics is not None)
        await pilot.pause(0.2)
        tiles = list(app.screen.query(Tile))
        assert len(tiles) == 10 and all(t.region.width > 30 for t in tiles)
        assert app.screen.query_one("#waiting", Tile).border_title == "待处理"
