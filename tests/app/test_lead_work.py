"""The lead's work by keyboard, against the real server: a shift handover
written by an agent and taken by the lead (and gone from the wall), a
service-quality complaint's verdict and withdrawal, assignment by load."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Select, TextArea

from csq.screens.allocation import AllocationScreen
from csq.screens.forms import ActionForm
from csq.screens.handover import HandoverScreen
from csq.screens.monitor import WallScreen
from csq.screens.quality import QualityScreen
from csq.screens.queue import QueueScreen
from csq.widgets.pick_list import PickList
from csq.widgets.tiles import Tile
from tests.app.conftest import make_app, wait_for
from tests.support.live import LiveServer


def _shown(app: object) -> set[str]:
    return {b.binding.action for b in app.active_bindings.values()}  # type: ignore[attr-defined]


async def _open_handovers(server: LiveServer) -> list[dict]:
    r = await server.api.client("sue").get("/v1/handovers", params={"open": True})
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_a_handover_written_by_an_agent_is_taken_by_the_lead_and_leaves_the_wall(
        server: LiveServer, tmp_path: Path) -> None:
    item = await server.api.item("alice", subject="报修: 客户下午不在家")
    r = await server.api.act("alice", item, "claim")
    assert r.status_code == 200, r.text

    alice = make_app(server, "alice", tmp_path / "alice")
    async with alice.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(alice.screen, QueueScreen)
                       and alice.engine.status.connection == "live")
        await wait_for(pilot, lambda: item["id"] in alice.queue.rows)
        await pilot.press("H")
        assert isinstance(alice.screen, HandoverScreen)
        assert [h.id for h in alice.screen.my_list()] == [item["id"]]
        assert "acknowledge" not in _shown(alice)  # nothing of someone else's to take
        await pilot.press("w")
        assert isinstance(alice.screen, ActionForm)
        await pilot.press(*"customer out until 15:00", "ctrl+s")
        assert isinstance(alice.screen, HandoverScreen)
        await wait_for(pilot, lambda: alice.engine.status.pending == 0)
    [handover] = await _open_handovers(server)
    assert (handover["author"], handover["note"]) == ("alice", "customer out until 15:00")
    assert [i["id"] for i in handover["items"]] == [item["id"]]

    sue = make_app(server, "sue", tmp_path / "sue")
    async with sue.run_test(size=(80, 24)) as pilot:
        assert isinstance(sue.screen, WallScreen)
        tile = sue.screen.query_one("#handovers", Tile)
        await wait_for(pilot, lambda: str(tile.render()).split()[:1] == ["1"])

    lee = make_app(server, "lee", tmp_path / "lee")
    async with lee.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: lee.engine.status.connection == "live")
        await pilot.press("H")
        screen = lee.screen
        assert isinstance(screen, HandoverScreen)
        await wait_for(pilot, lambda: [h.id for h in screen.waiting] == [handover["id"]])
        await wait_for(pilot, lambda: "acknowledge" in _shown(lee))
        await pilot.press("a")
        assert isinstance(lee.screen, ActionForm)
        await pilot.press(*"got it", "ctrl+s")
        await wait_for(pilot, lambda: lee.engine.status.pending == 0)
        await wait_for(pilot, lambda: screen.waiting == [])
    assert await _open_handovers(server) == []
    r = await server.api.client("sue").get("/v1/handovers")
    assert r.json()[0]["acknowledged_by"] == "lee" and r.json()[0]["acknowledge_note"] == "got it"

    sue = make_app(server, "sue", tmp_path / "sue")
    async with sue.run_test(size=(80, 24)) as pilot:
        tile = sue.screen.query_one("#handovers", Tile)
        await wait_for(pilot, lambda: sue.engine.metrics is not None)
        await wait_for(pilot, lambda: str(tile.render()).split()[:1] == ["0"])
        await pilot.press("H")  # drill-down, read-only: nothing to write or take
        assert isinstance(sue.screen, HandoverScreen)
        assert not _shown(sue) & {"hand_over", "acknowledge"}


async def test_the_lead_records_a_verdict_then_withdraws_the_complaint(
        server: LiveServer, tmp_path: Path) -> None:
    complaint = await server.api.item("bob", kind="complaint", category="service",
                                      about_agent="alice", subject="客服态度恶劣")
    r = await server.api.act("bob", complaint, "claim")
    assert r.status_code == 200, r.text
    app = make_app(server, "lee", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: complaint["id"] in app.queue.rows)
        await pilot.press("F")
        screen = app.screen
        assert isinstance(screen, QualityScreen)
        await wait_for(pilot, lambda: [i.id for i, _ in screen.rows] == [complaint["id"]])
        assert {"verdict", "withdraw"} <= _shown(app)
        await pilot.press("v")
        assert isinstance(app.screen, ActionForm)
        await pilot.press(*"recording checked: tone was curt", "ctrl+s")
        await wait_for(pilot, lambda: app.engine.status.pending == 0)
        on_server = await server.api.get("lee", complaint["id"])
        assert on_server["timeline"][-1]["data"] == {"follow_up": True}
        await wait_for(pilot, lambda: screen.rows[0][1].done_at is not None)
        assert "verdict" not in _shown(app)  # the verdict is given; later notes are notes

        await pilot.press("w")
        assert isinstance(app.screen, ActionForm)
        await pilot.press(*"apologised; the customer withdrew", "ctrl+s")
        await wait_for(pilot, lambda: app.engine.status.pending == 0)
        on_server = await server.api.get("lee", complaint["id"])
        assert on_server["status"] == "withdrawn"
        await wait_for(pilot, lambda: screen.rows == [])  # withdrawn: off the list


async def test_a_complaint_left_to_carry_on_gets_its_verdict_and_stays_open(
        server: LiveServer, tmp_path: Path) -> None:
    complaint = await server.api.item("alice", kind="complaint", category="service",
                                      about_agent="bob", subject="说话不耐烦")
    app = make_app(server, "lee", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: complaint["id"] in app.queue.rows)
        await pilot.press("F")
        screen = app.screen
        assert isinstance(screen, QualityScreen)
        await wait_for(pilot, lambda: bool(screen.rows))
        await pilot.press("v", *"customer still wants compensation", "ctrl+s")
        await wait_for(pilot, lambda: app.engine.status.pending == 0)
        await wait_for(pilot, lambda: screen.rows[0][1].done_at is not None)
        assert screen.rows[0][0].status not in ("withdrawn", "closed")
        await pilot.press("enter")  # on into the detail, as a normal complaint
        from csq.screens.detail import DetailScreen

        assert isinstance(app.screen, DetailScreen) and app.screen.item_id == complaint["id"]


async def test_the_supervisor_sees_quality_follow_ups_but_cannot_act(
        server: LiveServer, tmp_path: Path) -> None:
    complaint = await server.api.item("bob", kind="complaint", category="service",
                                      about_agent="alice", subject="客服挂断电话")
    app = make_app(server, "sue", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: complaint["id"] in app.queue.rows)
        await pilot.press("F")
        screen = app.screen
        assert isinstance(screen, QualityScreen)
        await wait_for(pilot, lambda: bool(screen.rows))
        assert not _shown(app) & {"verdict", "withdraw"}


async def test_the_lead_assigns_by_load_to_the_least_loaded_agent(
        server: LiveServer, tmp_path: Path) -> None:
    for n in range(2):  # alice carries two, bob none; both were seen just now
        mine = await server.api.item("alice", subject=f"alice's {n}")
        assert (await server.api.act("alice", mine, "claim")).status_code == 200
    loose = await server.api.item("bob", subject="没人领的报修")
    app = make_app(server, "lee", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: loose["id"] in app.queue.rows)
        await pilot.press("L")
        screen = app.screen
        assert isinstance(screen, AllocationScreen)
        picks = screen.query_one(PickList)
        await wait_for(pilot, lambda: picks.highlighted_id == str(loose["id"]))
        await wait_for(pilot, lambda: {a.username: a.open_items for a in screen.loads}
                       .get("alice") == 2)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
        form = app.screen
        chosen = form.query_one("#field-to", Select)
        options = [value for _, value in chosen._options if isinstance(value, str)]
        assert chosen.value == "bob" and options[0] == "bob" and options[-1] == "alice"
        form.query_one("#field-note", TextArea).text = "客户下午在家, 请先电话联系"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.engine.status.pending == 0)
        on_server = await server.api.get("lee", loose["id"])
        assert on_server["owner"] == "bob"
        [assigned] = [e for e in on_server["timeline"] if e["type"] == "assign"]
        assert (assigned["data"]["to"], assigned["body"]) == ("bob", "客户下午在家, 请先电话联系")
        await wait_for(pilot, lambda: picks.option_count == 0)  # nothing left to give out


async def test_marked_rows_go_to_the_least_loaded_agent_from_the_queue(
        server: LiveServer, tmp_path: Path) -> None:
    """The queue's bulk assign is the same load-aware form: mark two rows, `a`,
    the suggestion is preselected, one handover note, one op per item."""
    mine = await server.api.item("alice", subject="alice's own")
    assert (await server.api.act("alice", mine, "claim")).status_code == 200
    loose = [await server.api.item("bob", subject=f"停电报修 {n}") for n in range(2)]
    app = make_app(server, "lee", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: all(i["id"] in app.queue.rows for i in loose))
        await pilot.press("slash", *"停电", "enter")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await wait_for(pilot, lambda: len(screen.table.rows) == 2)
        await pilot.press("g", "space", "j", "space", "a")
        await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
        form = app.screen
        assert form.query_one("#field-to", Select).value == "bob"
        form.query_one("#field-note", TextArea).text = "两户同一小区, 一起处理"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.engine.status.pending == 0
                       and not app.engine.outbox.all(), timeout=15)
        for item in loose:
            on_server = await server.api.get("lee", item["id"])
            assert on_server["owner"] == "bob"
        assert not screen.table.marked
