"""The detail screen is kept and shown again for the next item (csq.screens.detail.
open_item). Nothing of one item may show on the next, least of all a revealed phone
number (promise 5), and the server must hear that the agent left the first."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from csq.screens.detail import DETAIL, DetailScreen
from csq.screens.queue import QueueScreen
from tests.app.conftest import make_app, wait_for
from tests.app.test_actions_pilot import open_item, text_of
from tests.support.live import LiveServer


async def test_the_next_item_shows_only_its_own_customer_and_presence(
        server: LiveServer, tmp_path: Path) -> None:
    li = await server.api.customer("alice", name="李娜", phone="13911112222",
                                   email="li.na@example.com")
    wang = await server.api.customer("alice", name="王芳", phone="13733334444",
                                     email="wang.fang@example.com")
    first = await server.api.item("alice", customer_id=li["id"], subject="第一张工单")
    second = await server.api.item("alice", customer_id=wang["id"], subject="第二张工单")
    for item in (first, second):
        r = await server.api.act("alice", item, "claim")
        assert r.status_code == 200, r.text
    hub = server.app.state.hub
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        detail = await open_item(pilot, app, first["id"])
        await wait_for(pilot, lambda: ("alice", first["id"]) in hub.presence)
        assert "13911112222" not in text_of(app, "#customer")
        await pilot.press("v")  # the owner reveals the contact details
        await wait_for(pilot, lambda: "13911112222" in text_of(app, "#customer"))

        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)
        await wait_for(pilot, lambda: ("alice", first["id"]) not in hub.presence)

        again = await open_item(pilot, app, second["id"])
        assert again is detail  # the same screen, shown again
        head, customer = text_of(app, "#head"), text_of(app, "#customer")
        assert "第二张工单" in head and "第一张工单" not in head
        assert "王芳" in customer and "李娜" not in customer
        assert "13911112222" not in customer and "13733334444" not in customer
        await wait_for(pilot, lambda: ("alice", second["id"]) in hub.presence)

        await pilot.press("escape")
        await open_item(pilot, app, first["id"])
        customer = text_of(app, "#customer")
        assert "李娜" in customer and "13911112222" not in customer  # not kept
        assert isinstance(app.screen, DetailScreen)


async def test_a_theme_changed_while_the_screen_was_away_shows_when_it_is_back(
        server: LiveServer, tmp_path: Path) -> None:
    """The kept screen skips Textual's restyle on return unless the CSS changed."""
    item = await server.api.item("alice")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_item(pilot, app, item["id"])
        head = detail.query_one("#head")
        before = head.styles.background
        await pilot.press("escape")
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert await open_item(pilot, app, item["id"]) is detail
        await pilot.pause()
        assert head.styles.background != before


async def test_the_item_screen_is_made_ready_while_the_agent_reads_the_queue(
        server: LiveServer, tmp_path: Path) -> None:
    """Composed a moment after start (csq.screens.detail.prepare), never shown, and
    no presence sent for it; the first open uses it."""
    item = await server.api.item("alice")
    hub = server.app.state.hub
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.is_screen_installed(DETAIL), timeout=5)
        prepared = app.get_screen(DETAIL)
        await wait_for(pilot, lambda: prepared.is_mounted)
        assert isinstance(app.screen, QueueScreen)
        assert prepared.query_one("#head", Static) is not None  # composed
        await pilot.pause(0.2)
        assert not [key for key in hub.presence if key[0] == "alice"]
        assert await open_item(pilot, app, item["id"]) is prepared
        await wait_for(pilot, lambda: ("alice", item["id"]) in hub.presence)
