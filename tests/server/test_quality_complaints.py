"""Service-quality complaints (服务质量投诉) end to end: the lead is told, follows
up by 17:00 the next day, and the complaint is withdrawn or carries on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.support.api import Api

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _complaint_about(api: Api, agent: str, by: str = "bob") -> dict:
    return await api.item(by, kind="complaint", category="service", about_agent=agent,
                          subject="客服态度恶劣")


async def _about_alice_count(api: Api, day: str) -> int:
    r = await api.client("lee").get("/v1/reports/weekly", params={"period": day})
    assert r.status_code == 200, r.text
    [agents] = [t for t in r.json()["tables"] if t["id"] == "by_agent"]
    keys = [c["key"] for c in agents["columns"]]
    rows = [dict(zip(keys, row, strict=True)) for row in agents["rows"]]
    return sum(r["complaints_about"] for r in rows if "(alice)" in str(r["agent"]))


async def test_a_complaint_about_an_agent_reaches_the_lead_and_is_withdrawn_by_them(
        api: Api) -> None:
    # Opened three days ago: the follow-up (17:00 the next day) is overdue now, by the
    # API's clock and by the wall's (which is always the real one).
    now = datetime.now(UTC)
    api.clock.now = now - timedelta(days=3)
    day = api.clock.now.astimezone(SHANGHAI).date().isoformat()
    item = await _complaint_about(api, "alice")
    assert item["about_agent"] == "alice" and "service-quality" in item["tags"]
    r = await api.act("alice", item, "claim")
    assert r.status_code == 403 and "about you" in r.json()["detail"]
    r = await api.act("bob", item, "claim")
    assert r.status_code == 200, r.text
    item = r.json()["item"]

    opened, api.clock.now = api.clock.now, now
    lee = api.client("lee")
    [pending] = (await lee.get("/v1/quality/followups", params={"pending": True})).json()
    assert (pending["item_id"], pending["about_agent"], pending["overdue"]) == (
        item["id"], "alice", True)
    due = datetime.fromisoformat(pending["due_at"]).astimezone(SHANGHAI)
    assert (due.date() - opened.astimezone(SHANGHAI).date(), due.hour) == (
        timedelta(days=1), 17)  # 第二天17:00前
    assert (await lee.get("/v1/metrics/live")).json()["quality_followups_overdue"] == 1
    assert await _about_alice_count(api, day) == 1

    r = await api.act("lee", item, "note", body="核实录音: 客服语气生硬, 已批评教育")
    assert r.status_code == 200
    assert r.json()["item"]["timeline"][-1]["data"] == {"follow_up": True}
    assert (await lee.get("/v1/quality/followups", params={"pending": True})).json() == []
    assert (await lee.get("/v1/metrics/live")).json()["quality_followups_overdue"] == 0

    r = await api.act("bob", item, "transition", to="withdrawn", reason="客户已谅解")
    assert r.status_code == 422 and "withdrawn" not in r.json()["allowed"]
    r = await api.act("lee", item, "transition", to="withdrawn")
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = await api.act("lee", item, "transition", to="withdrawn", reason="已向客户致歉, 客户撤诉")
    assert r.status_code == 200, r.text
    assert r.json()["item"]["status"] == "withdrawn"
    assert await _about_alice_count(api, day) == 0  # alice's record is cleared
    r = await api.act("lee", r.json()["item"], "reply", body="再次致歉")
    assert r.status_code == 422  # withdrawn is final: notes only


async def test_a_complaint_about_an_agent_not_withdrawn_carries_on_as_a_normal_one(
        api: Api) -> None:
    item = await _complaint_about(api, "bob", by="alice")
    r = await api.act("alice", item, "claim")
    item = r.json()["item"]
    r = await api.act("bob", item, "note", body="我当时在等系统查询结果")
    assert r.status_code == 200 and r.json()["item"]["timeline"][-1]["data"] == {}
    r = await api.act("lee", item, "note", body="客户仍要求赔偿, 按普通投诉处理")
    r = await api.act("alice", r.json()["item"], "reply", body="已为您办理补偿")
    assert r.status_code == 200, r.text
    assert r.json()["item"]["status"] == "callback_pending" and r.json()["created"]
    r = await api.act("lee", r.json()["item"], "assign", to="bob", note="转给被投诉人")
    assert r.status_code == 422 and r.json()["field"] == "to"


async def test_only_a_complaint_names_an_agent_and_only_a_real_one(api: Api) -> None:
    customer = (await api.customer())["id"]
    for body in ({"kind": "ticket", "category": "repair", "about_agent": "bob"},
                 {"kind": "complaint", "category": "service", "about_agent": "nobody"},
                 {"kind": "complaint", "category": "service", "about_agent": "sue"}):
        r = await api.post("alice", "/v1/items", {"subject": "投诉", "customer_id": customer,
                                                  **body})
        assert r.status_code == 422 and r.json()["field"] == "about_agent", r.text
