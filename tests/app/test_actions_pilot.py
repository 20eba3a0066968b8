"""Every action on every kind, from key press to the server's state, and back
through the stream to the screen.

Each case starts the real server in the test loop (tests/support/live.py),
makes an item of one kind through the API, opens it in the app with the keys
an agent would press, acts through the action's modal, and then asserts three
things: the server holds the result, the app's cache has caught up with the
server's sequence number (the stream brought it back), and the detail screen
shows it, no longer marked pending.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from csq.app import CsqApp
from csq.domain.engine import Actor, offered_transitions
from csq.domain.records import Item
from csq.domain.roles import Role
from csq.screens.detail import DetailScreen
from csq.screens.forms import ActionForm
from csq.widgets.queue_table import QueueTable
from tests.app.conftest import make_app, wait_for
from tests.support.live import LiveServer

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # the test server's clock: 10:00 in Shanghai
CATEGORY = {"ticket": "repair", "complaint": "service", "callback": "scheduled"}
ALL_KINDS = ("ticket", "complaint", "callback")


def text_of(app: CsqApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def open_item(pilot: Pilot[Any], app: CsqApp, item_id: int) -> DetailScreen:
    """From the queue, as an agent does it: to the top, j down to the row, enter."""
    table = app.screen.query_one(QueueTable)
    await wait_for(pilot, lambda: any(r.id == item_id for r in table.rows))
    index = next(i for i, r in enumerate(table.rows) if r.id == item_id)
    await pilot.press("g", *["j"] * index, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
    assert isinstance(app.screen, DetailScreen) and app.screen.item_id == item_id
    return app.screen


async def settled(pilot: Pilot[Any], server: LiveServer, app: CsqApp, user: str,
                  item_id: int) -> dict[str, Any]:
    """The outbox is empty and the cache holds what the server holds."""
    await wait_for(pilot, lambda: app.engine.status.pending == 0
                   and not app.engine.outbox.all(), timeout=15)
    on_server = await server.api.get(user, item_id)
    await wait_for(pilot, lambda: app.cache.cursor >= on_server["seq"], timeout=15)
    return on_server


async def replace(pilot: Pilot[Any], text: str, old: int = 8) -> None:
    """Clear the focused one-line field and type `text` instead."""
    await pilot.press(*["backspace"] * old, *text)


Keys = Callable[[Pilot[Any]], Awaitable[None]]


def keys(*presses: str) -> Keys:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.press(*presses)
    return run


def choose(selector: str, value: str) -> Keys:
    """Pick `value` in a choice field by keys: enter opens it, arrows, enter.
    (A free-text field, should the form offer one, is typed into instead.)"""
    async def run(pilot: Pilot[Any]) -> None:
        widget = pilot.app.screen.query_one(selector)
        widget.focus()
        await pilot.pause()
        if isinstance(widget, Input):
            await pilot.press(*["backspace"] * len(widget.value), *value)
            return
        assert isinstance(widget, Select)
        values = [v for _label, v in widget._options]
        step = values.index(value) - values.index(widget.value)
        await pilot.press("enter", *(["down"] * step if step > 0 else ["up"] * -step), "enter")
        await pilot.pause()  # the menu closes and gives the focus back
        assert widget.value == value
    return run


def then(*steps: Keys) -> Keys:
    async def run(pilot: Pilot[Any]) -> None:
        for step in steps:
            await step(pilot)
    return run


@dataclass(frozen=True)
class Case:
    """Press `key` on an item of `kind` as `user`, fill the modal with `fill`."""

    action: str
    kind: str
    key: str
    fill: Keys
    expect: Callable[[dict[str, Any]], bool]
    shows: str  # what the detail screen's header or timeline shows afterwards
    user: str = "alice"
    owned: bool = True  # claimed by the user first (owner-only verbs)
    modal: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.action}-{self.kind}"


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def last(entries: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(e for e in reversed(entries) if e["type"] == kind)


CASES: list[Case] = []
for kind in ALL_KINDS:
    CASES += [
        Case("claim", kind, "c", keys(), lambda i: i["owner"] == "alice"
             and i["first_owner"] == "alice", "claimed", owned=False, modal=False),
        Case("reply", kind, "r", keys(*"您好, 已安排"),
             lambda i: last(i["timeline"], "reply")["body"] == "您好, 已安排", "您好, 已安排"),
        Case("note", kind, "n", keys(*"客户不在家"),
             lambda i: last(i["timeline"], "note")["body"] == "客户不在家", "客户不在家",
             owned=False),
        Case("assign", kind, "a", then(choose("#field-to", "bob"),
                                       keys("tab", *"handover: call after 2pm")),
             lambda i: i["owner"] == "bob"
             and last(i["timeline"], "assign")["body"] == "handover: call after 2pm",
             "assigned → bob", user="lee", owned=False),
        Case("escalate", kind, "e", keys("tab", *"third outage this week"),
             lambda i: i["priority"] == "P1" and i["escalation"]["to"] == "值班主任"
             and i["escalation"]["reason"] == "third outage this week",
             "escalated → 值班主任", user="lee", owned=False),
        Case("promise", kind, "p", keys(),
             lambda i: at(i["promised_at"]) == NOW + timedelta(hours=2), "promised"),
    ]
CASES += [
    # A complaint: routed to a department with a deadline (设定处理时限).
    Case("route", "complaint", "o", keys(*"工程部"),
         lambda i: i["status"] == "assigned" and i["department"] == "工程部"
         and at(i["due_at"]) == NOW + timedelta(hours=48), "routed → 工程部"),
    # Scheduling on a ticket or complaint creates a callback; on a callback, moves it.
    Case("schedule", "ticket", "b", keys(),
         lambda i: at(last(i["timeline"], "callback_scheduled")["data"]["due_at"])
         == NOW + timedelta(days=1), "callback scheduled"),
    Case("schedule", "complaint", "b", keys(),
         lambda i: at(last(i["timeline"], "callback_scheduled")["data"]["due_at"])
         == NOW + timedelta(days=1), "callback scheduled"),
    Case("schedule", "callback", "b", keys(),
         lambda i: at(i["due_at"]) == NOW + timedelta(days=1), "callback scheduled"),
    # Complete: outcome, 1-5 satisfaction (4 chosen here), notes; waive: a reason.
    Case("complete", "callback", "d",
         then(choose("#field-satisfaction", "4"), keys(*"客户表示满意")),
         lambda i: i["status"] == "completed" and i["result"]["satisfaction"] == 4
         and i["result"]["outcome"] == "satisfied" and i["result"]["notes"] == "客户表示满意",
         "callback completed"),
    Case("waive", "callback", "w", keys(*"customer asked not to be called"),
         lambda i: i["status"] == "waived"
         and i["waive_reason"] == "customer asked not to be called", "callback waived"),
    Case("attempt", "callback", "x", keys(),
         lambda i: i["status"] == "attempted" and i["attempts"] == 1, "scheduled → attempted"),
]


async def make_item(server: LiveServer, kind: str, *, owner: str | None) -> dict[str, Any]:
    customer = await server.api.customer("bob", name="王芳", phone="13900001111")
    item = await server.api.item("bob", kind=kind, category=CATEGORY[kind],
                                 subject=f"{kind}: 停电三小时", customer_id=customer["id"])
    if owner is not None:
        r = await server.api.act(owner, item, "claim")
        assert r.status_code == 200, r.text
        item = r.json()["item"]
    return item


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_action_reaches_the_server_and_comes_back_to_the_screen(
        server: LiveServer, tmp_path: Path, case: Case) -> None:
    item = await make_item(server, case.kind, owner=case.user if case.owned else None)
    app = make_app(server, case.user, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        detail = await open_item(pilot, app, item["id"])
        await pilot.press(case.key)
        if case.modal:
            await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
            await case.fill(pilot)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen is detail)
        on_server = await settled(pilot, server, app, case.user, item["id"])
        assert case.expect(on_server), on_server
        await wait_for(pilot, lambda: case.shows in text_of(app, "#head")
                       + text_of(app, "#timeline"))
        assert "[pending]" not in text_of(app, "#timeline")


# -- what is offered, and what is refused in the picker ---------------------------------

@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_transition_offers_only_the_legal_next_statuses(
        server: LiveServer, tmp_path: Path, kind: str) -> None:
    item = await make_item(server, kind, owner="alice")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        detail = await open_item(pilot, app, item["id"])
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
        picker = app.screen.query_one("#field-to", Select)
        offered = {value for _label, value in picker._options if value is not Select.NULL}
        legal = offered_transitions(Item.model_validate(item),
                                    Actor("alice", "Alice", Role.AGENT))
        assert offered == legal and offered
        target = str(picker.value)  # the first legal status, already chosen
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is detail)
        on_server = await settled(pilot, server, app, "alice", item["id"])
    moved = [e["data"]["to"] for e in on_server["timeline"] if e["type"] == "transition"]
    assert target in moved


async def test_schedule_refuses_the_quiet_window_unless_the_customer_chose_it(
        server: LiveServer, tmp_path: Path) -> None:
    item = await make_item(server, "callback", owner="alice")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        detail = await open_item(pilot, app, item["id"])
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
        form = app.screen
        await replace(pilot, "22:00")  # 22:00 in Shanghai: customers are resting
        await pilot.press("ctrl+s")
        assert app.screen is form, "a quiet-window time must not close the picker"
        assert "quiet window" in text_of(app, "#form-error")
        assert app.engine.outbox.all() == []
        await pilot.press("tab", "space")  # the customer chose this time
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is detail)
        on_server = await settled(pilot, server, app, "alice", item["id"])
    due = datetime.fromisoformat(on_server["due_at"])
    assert due == NOW + timedelta(hours=12)  # 22:00 in Shanghai
    assert on_server["customer_agreed_time"] is True


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_keys_offer_only_what_the_role_and_the_kind_allow(
        server: LiveServer, tmp_path: Path, kind: str) -> None:
    item = await make_item(server, kind, owner="alice")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        await open_item(pilot, app, item["id"])
        shown = {b.binding.action for b in app.screen.active_bindings.values()}
    assert not shown & {"assign", "escalate"}  # a lead's
    assert ("route" in shown) == (kind == "complaint")
    callback_only = {"complete", "waive", "attempt"}
    assert (callback_only <= shown) == (kind == "callback")
    assert not (shown & callback_only and kind != "callback")


async def test_an_unsatisfied_callback_reopens_its_complaint_on_screen(
        server: LiveServer, tmp_path: Path) -> None:
    """Reply to a complaint (its callback is created), then complete the callback
    as unsatisfied: both items move on the server and in the app."""
    complaint = await make_item(server, "complaint", owner="alice")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        detail = await open_item(pilot, app, complaint["id"])
        await pilot.press("r", *"已为您处理", "ctrl+s")
        await wait_for(pilot, lambda: app.screen is detail)
        on_server = await settled(pilot, server, app, "alice", complaint["id"])
        assert on_server["status"] == "callback_pending"
        callback = next(r for r in app.queue.rows.values()
                        if r.parent_id == complaint["id"])
        await pilot.press("escape")
        await open_item(pilot, app, callback.id)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
        await choose("#field-outcome", "unsatisfied")(pilot)
        await choose("#field-satisfaction", "2")(pilot)  # 不满意
        await pilot.press(*"还是停电", "ctrl+s")
        on_cb = await settled(pilot, server, app, "alice", callback.id)
        assert on_cb["result"]["outcome"] == "unsatisfied"
        assert on_cb["result"]["satisfaction"] == 2
        parent = await server.api.get("alice", complaint["id"])
        assert parent["status"] == "reopened"
        await wait_for(pilot, lambda: app.queue.rows[complaint["id"]].status == "reopened")


async def test_an_item_moved_on_by_another_agent_arrives_on_the_open_detail(
        server: LiveServer, tmp_path: Path) -> None:
    """The way back: a change made elsewhere reaches the screen through the stream."""
    item = await make_item(server, "ticket", owner=None)
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        await open_item(pilot, app, item["id"])
        r = await server.api.act("bob", item, "claim")
        assert r.status_code == 200
        await wait_for(pilot, lambda: "owner: bob" in text_of(app, "#head"))


async def test_a_burst_of_keys_over_ssh_saves_everything_typed(
        server: LiveServer, tmp_path: Path) -> None:
    """Over a slow link the keys `n`, the note and ctrl+s arrive in one read.
    ctrl+s is a priority binding; the note's last characters must still be in
    the field when it saves, not "required" or a note cut short."""
    ticket = await make_item(server, "ticket", owner="alice")
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine.status.connection == "live")
        detail = await open_item(pilot, app, ticket["id"])
        driver = app._driver
        assert driver is not None
        for key, char in [("n", "n"), *((c, c) for c in "burst"), ("ctrl+s", None)]:
            event = events.Key(key, char)
            event.set_sender(app)
            driver.send_message(event)  # no pause between keys: one read from the pty
        for _ in range(100):  # until the note is on the server, or 10 s
            await pilot.pause(0.1)
            on_server = await server.api.get("alice", ticket["id"])
            if any(e["type"] == "note" for e in on_server["timeline"]):
                break
        assert app.screen is detail, "the form is still open: the save was refused"
        assert last(on_server["timeline"], "note")["body"] == "burst"
