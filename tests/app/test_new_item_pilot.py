"""`n` on the queue: pick the customer by typing (or create one), see their open
items, save the item; against the real server, online and offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from csq.app import CsqApp
from csq.screens.detail import DetailScreen
from csq.screens.forms import ActionForm
from csq.screens.new_item import CustomerPicker, NewItemForm
from csq.screens.queue import QueueScreen
from csq.server import models
from csq.server.db import make_engine, sessionmaker
from csq.widgets.queue_table import QueueTable
from tests.app.conftest import make_app, wait_for
from tests.app.test_actions_pilot import choose
from tests.support.live import LiveServer


async def _customers_named(db: str, name: str) -> int:
    engine = make_engine(db)
    try:
        async with sessionmaker(engine)() as session:
            docs = (await session.execute(select(models.Customer.doc))).scalars().all()
            return sum(doc["name"] == name for doc in docs)
    finally:
        await engine.dispose()


def options(app: CsqApp, selector: str) -> list[str]:
    listing = app.screen.query_one(selector, OptionList)
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


async def search(pilot: Pilot[Any], app: CsqApp, text: str) -> None:
    """Type into the picker's box: pressed key by key, or set as an IME would."""
    box = app.screen.query_one("#who", Input)
    if text.isascii():
        await pilot.press(*text)
    else:
        box.value = text  # Chinese arrives through the IME, not key by key
    await pilot.pause()


async def start(pilot: Pilot[Any], app: CsqApp) -> None:
    await wait_for(pilot, lambda: app.engine.status.connection == "live"
                   and bool(app.screen.query_one(QueueTable).rows))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, CustomerPicker))


@pytest.fixture
async def customers(server: LiveServer) -> dict[str, Any]:
    zhang = await server.api.customer("bob", name="张伟", phone="13812345678", tier="A",
                                      vip=True)
    li = await server.api.customer("bob", name="李娜", phone="13900000001")
    open_one = await server.api.item("bob", customer_id=zhang["id"], subject="小区停电三小时")
    return {"zhang": zhang, "li": li, "open": open_one}


@pytest.mark.parametrize("typed", ["张", "5678", "13812345678", "#{zhang}"])
async def test_the_customer_is_found_as_the_agent_types(
        server: LiveServer, tmp_path: Path, customers: dict[str, Any], typed: str) -> None:
    """By Chinese name, by the masked phone's digits, by the whole number read
    off the phone, by id; their open items show before anything is saved."""
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await search(pilot, app, typed.format(zhang=customers["zhang"]["id"]))
        found = options(app, "#matches")
        assert "张伟" in found[0] and "138****5678" in found[0] and "1 open" in found[0]
        assert not any("李娜" in line for line in found)
        assert any("小区停电三小时" in line for line in options(app, "#open-items"))


async def test_new_item_for_a_found_customer_reaches_the_server(
        server: LiveServer, tmp_path: Path, customers: dict[str, Any]) -> None:
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await search(pilot, app, "张伟")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, NewItemForm))
        intro = str(app.screen.query_one(".intro", Static).render())
        assert "张伟" in intro and "小区停电三小时" in intro  # what is open, before saving
        await choose("#field-kind", "complaint")(pilot)
        await choose("#field-category", "service")(pilot)  # a complaint's categories now
        await choose("#field-parent_id", str(customers["open"]["id"]))(pilot)
        await pilot.press(*"客服态度差", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        await wait_for(pilot, lambda: not app.engine.outbox.all())
        r = await server.api.client("alice").get(
            "/v1/items", params={"customer_id": customers["zhang"]["id"], "kind": "complaint"})
        [made] = r.json()
        assert made["subject"] == "客服态度差" and made["category"] == "service"
        assert made["parent_id"] == customers["open"]["id"]
        await wait_for(pilot, lambda: made["id"] in app.queue.rows)


async def test_the_picker_opens_an_open_item_instead_of_a_duplicate(
        server: LiveServer, tmp_path: Path, customers: dict[str, Any]) -> None:
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await search(pilot, app, "张伟")
        await pilot.press("tab", "tab", "enter")  # the matches, then their open items
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.item_id == customers["open"]["id"]
        assert app.engine.outbox.all() == []


@pytest.mark.parametrize("online", [True, False], ids=["online", "offline"])
async def test_a_new_customer_and_their_item_reach_the_server_once(
        server: LiveServer, tmp_path: Path, customers: dict[str, Any], online: bool) -> None:
    app = make_app(server, "alice", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        if not online:
            await server.stop()
            await wait_for(pilot, lambda: app.engine.status.connection == "offline")
        await search(pilot, app, "13700001234")  # not on file: the number becomes the phone
        assert "13700001234" not in " ".join(options(app, "#matches")[:-1])
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
        assert app.screen.query_one("#field-phone", Input).value == "13700001234"
        app.screen.query_one("#field-name", Input).value = "赵敏"  # through the IME
        await choose("#field-tier", "B")(pilot)
        await pilot.press("tab", "tab", "space")  # member (会员)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, NewItemForm))
        assert "赵敏" in str(app.screen.query_one(".intro", Static).render())
        await pilot.press(*"water leak", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen))
        if not online:
            await wait_for(pilot, lambda: app.engine.status.pending == 1)
            table = app.screen.query_one(QueueTable)
            row = next(r for r in app.queue.rows.values() if r.id < 0)
            assert app.queue.customers[row.customer_id].name == "赵敏"
            assert app.queue.customers[row.customer_id].phone == "137****1234"  # masked
            await wait_for(pilot, lambda: any(r.id == row.id for r in table.rows))
            await server.start()
        await wait_for(pilot, lambda: not app.engine.outbox.all(), timeout=30)
        await wait_for(pilot, lambda: [r.id > 0 for r in app.queue.rows.values()
                                       if r.subject == "water leak"] == [True])
        await wait_for(pilot, lambda: not any(c < 0 for c in app.queue.customers))
    assert await _customers_named(server.db, "赵敏") == 1
    r = await server.api.client("alice").get("/v1/items", params={"kind": "ticket"})
    [item] = [i for i in r.json() if i["subject"] == "water leak"]
    customer = (await server.api.client("alice").get(
        f"/v1/customers/{item['customer_id']}")).json()
    assert customer["name"] == "赵敏" and customer["member"] is True
    assert customer["tier"] == "B" and customer["phone"] == "137****1234"
