"""From key press to the server's state, and back through the stream to the screen."""

from __future__ import annotations

from pathlib import Path

from csq.screens.detail import DetailScreen
from csq.screens.monitor import WallScreen
from csq.screens.queue import QueueScreen
from csq.widgets.queue_table import QueueTable
from tests.app.conftest import make_app, wait_for
from tests.support.live import LiveServer


async def test_claim_from_the_queue_reaches_the_server_and_the_screen(
        server: LiveServer, tmp_path: Path) -> None:
    item = await server.api.item("bob", subject="小区停电三小时")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(QueueTable)
        await wait_for(pilot, lambda: [r.id for r in table.rows] == [item["id"]])
        await pilot.press("c")
        await wait_for(pilot, lambda: app.engine.status.pending == 0
                       and table.rows[0].owner == "alice")
        on_server = await server.api.get("alice", item["id"])
        assert on_server["owner"] == "alice" and on_server["status"] == "open"


async def test_another_agents_change_arrives_live(server: LiveServer, tmp_path: Path) -> None:
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        item = await server.api.item("bob", subject="Parcel SF1234 late")
        table = app.screen.query_one(QueueTable)
        await wait_for(pilot, lambda: any(r.id == item["id"] for r in table.rows))
        assert item["id"] in table.new_ids


async def test_note_through_the_modal_lands_in_the_timeline(
        server: LiveServer, tmp_path: Path) -> None:
    item = await server.api.item("bob")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(QueueTable)
        await wait_for(pilot, lambda: bool(table.rows))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("n")
        await pilot.press(*"call back at 10")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.engine.status.pending == 0)
        on_server = await server.api.get("alice", item["id"])
        assert on_server["timeline"][-1]["type"] == "note"
        assert on_server["timeline"][-1]["body"] == "call back at 10"
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)


async def test_supervisor_sees_no_mutating_binding(server: LiveServer, tmp_path: Path) -> None:
    await server.api.item("bob")
    app = make_app(server, "sue", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, WallScreen)  # supervisors land on the wall
        await wait_for(pilot, lambda: bool(app.queue.rows))
        await pilot.press("l")  # drill down into the queue
        table = app.screen.query_one(QueueTable)
        await wait_for(pilot, lambda: bool(table.rows))
        shown = {b.binding.action for b in app.active_bindings.values()}
        assert not shown & {"claim", "bulk_assign", "new_item", "bulk_tag"}
        await pilot.press("enter")
        shown = {b.binding.action for b in app.active_bindings.values()}
        assert not shown & {"claim", "reply", "note", "transition", "assign", "route",
                            "escalate", "promise", "schedule", "complete", "waive"}


async def test_agent_is_offered_the_bindings_a_supervisor_is_not(
        server: LiveServer, tmp_path: Path) -> None:
    """The control for the test above: the same check finds them for an agent."""
    await server.api.item("bob")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(QueueTable)
        await wait_for(pilot, lambda: bool(table.rows))
        shown = {b.binding.action for b in app.active_bindings.values()}
        assert {"claim", "new_item"} <= shown
        await pilot.press("enter")
        shown = {b.binding.action for b in app.active_bindings.values()}
        assert {"claim", "reply", "note"} <= shown


async def test_backspace_and_clear_show_the_rows_again_with_the_cursor_kept(
        server: LiveServer, tmp_path: Path) -> None:
    """Filters typed back to come from what QueueState remembered: same rows, whole,
    and the item the agent moved to stays under the cursor when the filter clears."""
    subjects = ["停电三小时", "停水一天", "快递延误", "停电又来了"]
    for subject in subjects:
        await server.api.item("bob", subject=subject)
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(QueueTable)
        await wait_for(pilot, lambda: len(table.rows) == 4)
        everything = [r.id for r in table.rows]
        await pilot.press("slash", *"停电")
        power_cuts = {"停电三小时", "停电又来了"}
        await wait_for(pilot, lambda: {r.subject for r in table.rows} == power_cuts)
        await pilot.press("backspace")  # 停: walked afresh (wider than anything typed)
        await wait_for(pilot, lambda: len(table.rows) == 3)
        await pilot.press(*"电", "backspace", "backspace")  # 停电 then 停, then nothing
        await wait_for(pilot, lambda: [r.id for r in table.rows] == everything)
        await pilot.press(*"快递", "enter")  # apply: the table has the focus
        await wait_for(pilot, lambda: [r.subject for r in table.rows] == ["快递延误"])
        chosen = table.current_id
        await pilot.press("slash", "backspace", "backspace", "escape")
        await wait_for(pilot, lambda: len(table.rows) == 4)
        assert table.current_id == chosen
