"""Shift handover (值班交接) end to end, and the lead's view of each agent's load."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from csq.server import models
from tests.support.api import Api

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


async def _claimed(api: Api, user: str, **fields: object) -> dict:
    item = await api.item(user, **fields)
    r = await api.act(user, item, "claim")
    assert r.status_code == 200, r.text
    return dict(r.json()["item"])


async def test_an_agents_handover_lists_open_overdue_and_promised_today_and_is_taken_once(
        api: Api) -> None:
    api.clock.now = local(21, 10)  # Saturday
    overdue = await _claimed(api, "alice", subject="两天前的报修")  # due Sunday 10:00
    api.clock.now = local(23, 9)
    fresh = await _claimed(api, "alice", subject="今天的咨询", category="inquiry")
    promised = await _claimed(api, "alice", subject="答应今晚回电", category="query")
    r = await api.act("alice", promised, "promise", at=local(23, 21).isoformat())
    assert r.status_code == 200, r.text
    await _claimed(api, "bob", subject="别人的单子")
    done = await _claimed(api, "alice", subject="已办结")
    for to in ("resolved", "closed"):
        r = await api.act("alice", done["id"], "transition", version=done["version"], to=to)
        done = r.json()["item"]

    api.clock.now = local(23, 19, 50)
    key = "handover-alice-23"
    r = await api.post("alice", "/v1/handovers", {"note": "报修单客户下午没接电话"}, key=key)
    assert r.status_code == 201, r.text
    handover = r.json()
    assert (handover["author"], handover["shift"], handover["next_shift"]) == (
        "alice", "08:00-20:00", "20:00-08:00")
    lines = [(i["id"], i["overdue"], i["promised_today"]) for i in handover["items"]]
    assert lines == [(overdue["id"], True, False), (promised["id"], False, True),
                     (fresh["id"], False, False)]
    assert (handover["open_count"], handover["overdue_count"],
            handover["promised_today_count"]) == (3, 1, 1)
    again = await api.post("alice", "/v1/handovers", {"note": "报修单客户下午没接电话"}, key=key)
    assert again.status_code == 201 and again.json() == handover  # replayed, not repeated

    sue = api.client("sue")
    assert [h["id"] for h in (await sue.get("/v1/handovers", params={"open": True})).json()] \
        == [handover["id"]]
    assert (await sue.get("/v1/metrics/live")).json()["handovers_unacknowledged"] == 1

    path = f"/v1/handovers/{handover['id']}/acknowledge"
    for user, status in (("alice", 403), ("sue", 403)):
        r = await api.post(user, path, {})
        assert r.status_code == status, r.text
    r = await api.post("bob", path, {"note": "收到, 今晚跟进"})
    assert r.status_code == 200, r.text
    assert (r.json()["acknowledged_by"], r.json()["acknowledge_note"]) == ("bob", "收到, 今晚跟进")
    r = await api.post("lee", path)
    assert r.status_code == 409 and r.json()["acknowledged_by"] == "bob"
    assert (await sue.get("/v1/handovers", params={"open": True})).json() == []
    assert (await sue.get("/v1/metrics/live")).json()["handovers_unacknowledged"] == 0

    async with api.app.state.engine.connect() as conn:
        audit = (await conn.execute(select(models.Event.type, models.Event.actor).where(
            models.Event.type.in_(["handover", "handover_acknowledged"]))
            .order_by(models.Event.seq))).all()
    assert [tuple(a) for a in audit] == [("handover", "alice"), ("handover_acknowledged", "bob")]


async def test_a_handover_named_for_an_agent_is_theirs_or_a_leads_to_take(api: Api) -> None:
    api.clock.now = local(23, 20, 55)
    r = await api.post("lee", "/v1/handovers", {"note": "夜班请关注投诉", "to": "alice"})
    assert r.status_code == 201, r.text
    handover = r.json()
    assert (handover["shift"], handover["next_shift"], handover["items"]) == (
        "09:00-21:00", "20:00-08:00", [])
    path = f"/v1/handovers/{handover['id']}/acknowledge"
    r = await api.post("bob", path, {})
    assert r.status_code == 403 and "alice" in r.json()["detail"]
    assert (await api.post("alice", path, {})).status_code == 200

    for body, field in (({"note": "x", "shift": "10:00-22:00"}, "shift"),
                        ({"note": "x", "to": "sue"}, "to"), ({"note": "x", "to": "alice"}, "to"),
                        ({"note": ""}, "note")):
        r = await api.post("alice", "/v1/handovers", body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert (await api.post("lee", "/v1/handovers/999/acknowledge", {})).status_code == 404
    r = await api.post("sue", "/v1/handovers", {"note": "主管不交接"})
    assert r.status_code == 403 and r.json()["type"].endswith(":read-only")


async def test_the_lead_sees_each_agents_load_and_the_least_loaded_one_to_assign(
        api: Api) -> None:
    api.clock.now = local(23, 10)
    await _claimed(api, "alice")
    await _claimed(api, "alice")
    await _claimed(api, "bob")
    await _claimed(api, "lee")
    r = await api.client("lee").get("/v1/agents/load")
    assert r.status_code == 200, r.text
    loads = {a["username"]: (a["open_items"], a["online"]) for a in r.json()["agents"]}
    assert loads == {"alice": (2, True), "bob": (1, True), "lee": (1, True)}
    assert r.json()["suggested"] == "bob"  # one open item, ties go by name
    assert (await api.client("sue").get("/v1/agents/load")).status_code == 200
