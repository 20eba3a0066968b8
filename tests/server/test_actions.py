"""The service API's guarantees for actions: idempotent, versioned, the
complaint life cycle with its callback, and the audited reveal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from csq.server import models
from tests.support.api import Api

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _events(api: Api, item_id: int) -> list[str]:
    from csq.server.db import make_engine, sessionmaker

    engine = make_engine(api.db)
    try:
        async with sessionmaker(engine)() as session:
            rows = await session.execute(select(models.Event.type).where(
                models.Event.item_id == item_id).order_by(models.Event.id))
            return [r for (r,) in rows]
    finally:
        await engine.dispose()


async def test_retried_action_is_applied_once_and_replays_first_response(api: Api) -> None:
    item = await api.item()
    first = await api.post("alice", f"/v1/items/{item['id']}/actions",
                           {"action": "note", "body": "一次"}, key="op-1")
    again = await api.post("alice", f"/v1/items/{item['id']}/actions",
                           {"action": "note", "body": "一次"}, key="op-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    current = await api.get("alice", item["id"])
    assert [e["type"] for e in current["timeline"]] == ["created", "note"]
    assert (await _events(api, item["id"])).count("note") == 1


async def test_concurrent_retries_apply_once(api: Api) -> None:
    item = await api.item()
    body = {"action": "claim"}
    results = await asyncio.gather(*[
        api.post("alice", f"/v1/items/{item['id']}/actions", body, key="same", version=1)
        for _ in range(8)])
    assert {r.status_code for r in results} == {200}
    assert len({r.text for r in results}) == 1
    assert (await _events(api, item["id"])).count("claim") == 1


async def test_refusal_is_replayed_not_reapplied(api: Api) -> None:
    item = await api.item()
    stale = await api.post("alice", f"/v1/items/{item['id']}/actions", {"action": "claim"},
                           key="k", version=7)
    assert stale.status_code == 412
    assert stale.json()["current"]["version"] == 1
    retry = await api.post("alice", f"/v1/items/{item['id']}/actions", {"action": "claim"},
                           key="k", version=7)
    assert retry.status_code == 412 and retry.json() == stale.json()


async def test_same_key_different_body_is_refused(api: Api) -> None:
    item = await api.item()
    await api.post("alice", f"/v1/items/{item['id']}/actions", {"action": "note", "body": "a"},
                   key="dup")
    r = await api.post("alice", f"/v1/items/{item['id']}/actions",
                       {"action": "note", "body": "b"}, key="dup")
    assert r.status_code == 422
    assert r.json()["type"] == "urn:csq:problem:idempotency-key-reused"


async def test_state_change_needs_if_match_but_notes_do_not(api: Api) -> None:
    item = await api.item()
    missing = await api.post("alice", f"/v1/items/{item['id']}/actions", {"action": "claim"})
    assert missing.status_code == 428 and missing.json()["field"] == "If-Match"
    note = await api.post("alice", f"/v1/items/{item['id']}/actions",
                          {"action": "note", "body": "no If-Match needed"})
    assert note.status_code == 200
    assert note.json()["item"]["version"] == 1  # an append does not move the version


async def test_other_agents_claim_is_refused_and_first_owner_kept(api: Api) -> None:
    item = await api.item()
    assert (await api.act("alice", item, "claim")).status_code == 200
    r = await api.act("bob", item["id"], "claim", version=2)
    assert r.status_code == 409 and r.json()["owner"] == "alice"
    assigned = await api.act("lee", item["id"], "assign", version=2, to="bob",
                             note="交接: 客户下午三点后方便")
    assert assigned.status_code == 200, assigned.text
    after = assigned.json()["item"]
    assert after["owner"] == "bob" and after["first_owner"] == "alice"


async def test_agent_cannot_assign_or_escalate(api: Api) -> None:
    item = await api.item()
    r = await api.act("alice", item, "assign", to="bob", note="x")
    assert r.status_code == 403
    r = await api.act("alice", item, "escalate", to="主任", reason="重大")
    assert r.status_code == 403


async def _complaint(api: Api, member: bool) -> dict:
    customer = await api.customer(member=member)
    complaint = await api.item(kind="complaint", category="delivery",
                               subject="包裹延误五天", customer_id=customer["id"])
    r = await api.act("alice", complaint, "claim")
    assert r.status_code == 200, r.text
    due = (api.clock.now + timedelta(hours=48)).isoformat()
    r = await api.act("alice", r.json()["item"], "route", department="物流部", due_at=due)
    assert r.status_code == 200, r.text
    assert r.json()["item"]["status"] == "assigned"
    return dict(r.json()["item"])


async def test_reply_to_complaint_creates_callback_outside_quiet_hours(api: Api) -> None:
    # 20:30 in Shanghai: three days later is inside the quiet window (21:00–08:00).
    api.clock.now = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    complaint = await _complaint(api, member=True)
    r = await api.act("alice", complaint, "reply", body="已为您加急处理,抱歉。")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["item"]["status"] == "callback_pending"
    [callback] = body["created"]
    assert callback["kind"] == "callback" and callback["parent_id"] == complaint["id"]
    due = datetime.fromisoformat(callback["due_at"])
    local = due.astimezone(SHANGHAI)
    assert 8 <= local.hour < 21
    assert due - api.clock.now <= timedelta(hours=72)


async def test_member_complaint_cannot_close_before_its_callback(api: Api) -> None:
    complaint = await _complaint(api, member=True)
    replied = (await api.act("alice", complaint, "reply", body="处理完毕")).json()
    item, callback = replied["item"], replied["created"][0]
    r = await api.act("alice", item, "transition", to="closed")
    assert r.status_code == 422
    assert r.json()["type"] == "urn:csq:problem:callback-required"
    done = await api.act("alice", callback, "complete_callback", outcome="satisfied",
                         satisfaction=5, notes="客户表示满意")
    assert done.status_code == 200, done.text
    parent = await api.get("alice", complaint["id"])
    assert parent["status"] == "closed"


async def test_unsatisfied_callback_reopens_the_complaint(api: Api) -> None:
    complaint = await _complaint(api, member=False)
    callback = (await api.act("alice", complaint, "reply", body="已处理")).json()["created"][0]
    r = await api.act("alice", callback, "complete_callback", outcome="unsatisfied",
                      satisfaction=2, notes="客户仍不满意")
    assert r.status_code == 200, r.text
    assert (await api.get("alice", complaint["id"]))["status"] == "reopened"


async def test_callback_cannot_be_scheduled_in_quiet_hours_unless_agreed(api: Api) -> None:
    item = await api.item()
    item = (await api.act("alice", item, "claim")).json()["item"]
    night = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    r = await api.act("alice", item, "schedule_callback", at=night.isoformat())
    assert r.status_code == 422 and r.json()["type"] == "urn:csq:problem:quiet-hours"
    r = await api.act("alice", item, "schedule_callback", at=night.isoformat(),
                      customer_agreed=True)
    assert r.status_code == 200, r.text


async def test_reveal_only_for_owner_or_lead_and_audited(api: Api) -> None:
    item = await api.item()
    cid = item["customer_id"]
    denied = await api.post("bob", f"/v1/customers/{cid}/reveal", {"item_id": item["id"]})
    assert denied.status_code == 403
    await api.act("alice", item, "claim")
    shown = await api.post("alice", f"/v1/customers/{cid}/reveal", {"item_id": item["id"]})
    assert shown.status_code == 200
    assert shown.json()["phone"] == "13812345678"
    lead = await api.post("lee", f"/v1/customers/{cid}/reveal", {"item_id": item["id"]})
    assert lead.status_code == 200
    assert (await _events(api, item["id"])).count("reveal") == 2
    masked = (await api.client("alice").get(f"/v1/customers/{cid}")).json()
    assert masked["phone"] == "138****5678" and masked["email"] == "z***@example.com"


async def test_changes_feed_pages_end_on_whole_commits(api: Api) -> None:
    for _ in range(7):
        await api.item()
    seen: dict[int, int] = {}
    cursor, pages = 0, 0
    while True:
        page = (await api.client("alice").get("/v1/changes",
                                              params={"after": cursor, "limit": 3})).json()
        pages += 1
        for it in page["items"]:
            seen[it["id"]] = it["seq"]
        assert page["next"] >= cursor
        cursor = page["next"]
        if page["end_of_stream"]:
            break
    assert len(seen) == 7 and pages >= 3
    again = (await api.client("alice").get("/v1/changes", params={"after": cursor})).json()
    assert again["items"] == [] and again["end_of_stream"]


async def test_events_log_is_append_only(api: Api) -> None:
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from csq.server.db import make_engine

    await api.item()
    engine = make_engine(api.db)
    try:
        for sql in ("UPDATE events SET body = 'x'", "DELETE FROM events"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(sql))
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(models.Event))).scalar()
        assert count and count > 0
    finally:
        await engine.dispose()


async def test_supervisor_reads_everything_and_metrics(api: Api) -> None:
    await api.item()
    r = await api.client("sue").get("/v1/metrics/live")
    assert r.status_code == 200
    assert r.json()["waiting_by_kind"]["ticket"] == 1
