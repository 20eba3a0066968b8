"""Reports and their KPIs against a fixed week built through the API.

The week (2026-W47, Monday 16 to Sunday 22 November, Asia/Shanghai) is played
with a controlled clock: every action happens at a stated local time. Each
expected figure is a literal worked out by hand from the story below; the
comment beside it shows the arithmetic. The reports are read on Monday 23
November at 10:00.

Customers: C1 张伟 (member), C2 李娜, C3 王芳 (member), C4 赵强, C5 陈静: 5 on record.

  O2  complaint product  C4  Fri 13 09:00 (week 46) alice; replied Fri 10:00 -> CB5
  O1  ticket    repair   C2  Sun 15 23:00 (week 46) alice resolves Mon 01:00
  T1  ticket    repair   C2  Mon 09:00  alice claims, resolves 11:00        (due Tue 09:00)
  K1  complaint product  C1  Mon 10:00  alice claims, replies 12:00 -> CB1  (due Wed 10:00)
  CB5 (for O2) completed Mon 11:00 by alice, satisfied 4 (due Mon 10:00: late)
  T2  ticket    inquiry  C2  Mon 14:00  alice claims; lee assigns bob 15:00; bob
                                        resolves Tue 10:00                  (due Tue 14:00)
  T3  ticket    quote    C1  Tue 10:00  bob: resolved Tue 20:00, reopened Wed 09:00,
                                        resolved Wed 10:00                  (due Tue 18:00)
  CB1 attempted Tue 10:00, completed Wed 10:00 by alice, satisfied 5 -> K1 closed
  K2  complaint delivery C3  Tue 11:00  bob routes to 物流部 due Thu 11:00; replies Thu
        15:00 -> CB2; CB2 unsatisfied 2 Fri 10:00 -> reopened; routed again due Sat
        18:00; replied Sat 10:00 -> CB3; CB3 waived Sun 09:00; closed Sun 10:00
  K3  complaint service  C2  Wed 09:00  about alice; lee's verdict Wed 16:00;
                                        withdrawn by lee Thu 10:00
  T4  ticket    repair   C2  Thu 09:00  alice claims, never resolved        (due Fri 09:00)
  K4  complaint service  C1  Thu 14:00  about bob; alice claims; no follow-up (due Sat 14:00)
  K5  complaint process  C3  Fri 09:00  alice replies 09:30 -> CB4 (due Mon 23 09:30)
  T5  ticket    inquiry  C3  Sun 20:00  nobody claims                       (due Mon 20:00)
  O3  ticket    inquiry  C5  Mon 23 00:30 (week 48: after midnight in Shanghai)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import inspect, select

from csq.domain.facts import of_item
from csq.domain.records import Item
from csq.server import migrate, models
from tests.support.api import Api

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONES = {"C1": "13812345678", "C2": "13900001111", "C3": "13700002222",
          "C4": "13600003333", "C5": "13500004444"}
MASKED_C1 = "138****5678"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class Week:
    api: Api
    ids: dict[str, int] = field(default_factory=dict)

    def when(self, moment: datetime) -> None:
        self.api.clock.now = moment

    async def customer(self, name: str, label: str, member: bool = False) -> None:
        c = await self.api.customer("alice", name=name, phone=PHONES[label], member=member)
        self.ids[label] = c["id"]

    async def new(self, label: str, moment: datetime, kind: str, category: str,
                  customer: str, by: str = "alice", **extra: Any) -> None:
        self.when(moment)
        item = await self.api.item(by, kind=kind, category=category,
                                   customer_id=self.ids[customer],
                                   subject=f"{label} 客户来电", **extra)
        self.ids[label] = item["id"]

    async def act(self, user: str, label: str, moment: datetime, action: str,
                  **payload: Any) -> dict[str, Any]:
        self.when(moment)
        current = await self.api.get(user, self.ids[label])
        r = await self.api.act(user, current, action, **payload)
        assert r.status_code == 200, f"{label} {action}: {r.text}"
        body: dict[str, Any] = r.json()
        for created in body["created"]:  # the callback a reply spawned
            self.ids[f"callback of {label}"] = created["id"]
        return body

    def callback(self, of: str, label: str) -> None:
        self.ids[label] = self.ids.pop(f"callback of {of}")


async def play_week(api: Api) -> Week:
    w = Week(api)
    w.when(at(13, 8))
    for label, name, member in (("C1", "张伟", True), ("C2", "李娜", False),
                                ("C3", "王芳", True), ("C4", "赵强", False),
                                ("C5", "陈静", False)):
        await w.customer(name, label, member)
    await w.new("O2", at(13, 9), "complaint", "product", "C4")
    await w.act("alice", "O2", at(13, 9, 5), "claim")
    await w.act("alice", "O2", at(13, 10), "reply", body="已为您更换")
    w.callback("O2", "CB5")
    await w.new("O1", at(15, 23), "ticket", "repair", "C2")
    await w.act("alice", "O1", at(16, 0, 30), "claim")
    await w.act("alice", "O1", at(16, 1), "transition", to="resolved")
    await w.new("T1", at(16, 9), "ticket", "repair", "C2")
    await w.act("alice", "T1", at(16, 9, 10), "claim")
    await w.act("alice", "T1", at(16, 9, 30), "reply", body="师傅已出发")
    await w.new("K1", at(16, 10), "complaint", "product", "C1")
    await w.act("alice", "K1", at(16, 10, 5), "claim")
    await w.act("alice", "T1", at(16, 11), "transition", to="resolved")
    await w.act("alice", "CB5", at(16, 11), "complete_callback", outcome="satisfied",
                satisfaction=4, notes="换货满意")
    await w.act("alice", "K1", at(16, 12), "reply", body="已退款")
    w.callback("K1", "CB1")
    await w.new("T2", at(16, 14), "ticket", "inquiry", "C2")
    await w.act("alice", "T2", at(16, 14, 5), "claim")
    await w.act("lee", "T2", at(16, 15), "assign", to="bob", note="交接: 账单问题")
    await w.act("bob", "T2", at(17, 10), "transition", to="resolved")
    await w.new("T3", at(17, 10), "ticket", "quote", "C1", by="bob")
    await w.act("alice", "CB1", at(17, 10), "attempt_callback", note="无人接听")
    await w.act("bob", "T3", at(17, 10, 5), "claim")
    await w.new("K2", at(17, 11), "complaint", "delivery", "C3", by="bob")
    await w.act("bob", "K2", at(17, 11, 5), "claim")
    await w.act("bob", "K2", at(17, 11, 30), "route", department="物流部",
                due_at=at(19, 11).isoformat())
    await w.act("bob", "K2", at(17, 12), "transition", to="in_progress")
    await w.act("bob", "T3", at(17, 20), "transition", to="resolved")
    await w.act("bob", "T3", at(18, 9), "transition", to="open", reason="报价有误")
    await w.new("K3", at(18, 9), "complaint", "service", "C2", by="bob", about_agent="alice")
    await w.act("bob", "T3", at(18, 10), "transition", to="resolved")
    await w.act("alice", "CB1", at(18, 10), "complete_callback", outcome="satisfied",
                satisfaction=5, notes="退款已到账")
    await w.act("lee", "K3", at(18, 16), "note", body="核实: 客服语气生硬, 已约谈")
    await w.new("T4", at(19, 9), "ticket", "repair", "C2")
    await w.act("alice", "T4", at(19, 9, 5), "claim")
    await w.act("lee", "K3", at(19, 10), "transition", to="withdrawn",
                reason="已向客户致歉, 客户撤诉")
    await w.new("K4", at(19, 14), "complaint", "service", "C1", about_agent="bob")
    await w.act("alice", "K4", at(19, 14, 5), "claim")
    await w.act("bob", "K2", at(19, 15), "reply", body="已补发")
    w.callback("K2", "CB2")
    await w.new("K5", at(20, 9), "complaint", "process", "C3")
    await w.act("alice", "K5", at(20, 9, 5), "claim")
    await w.act("alice", "K5", at(20, 9, 30), "reply", body="流程已改进")
    w.callback("K5", "CB4")
    await w.act("bob", "CB2", at(20, 10), "complete_callback", outcome="unsatisfied",
                satisfaction=2, notes="仍未收到")
    await w.act("bob", "K2", at(20, 11), "route", department="物流部",
                due_at=at(21, 18).isoformat())
    await w.act("bob", "K2", at(20, 11, 10), "transition", to="in_progress")
    await w.act("bob", "K2", at(21, 10), "reply", body="已签收")
    w.callback("K2", "CB3")
    await w.act("bob", "CB3", at(22, 9), "waive_callback", reason="客户要求不再来电")
    await w.act("bob", "K2", at(22, 10), "transition", to="closed")
    await w.new("T5", at(22, 20), "ticket", "inquiry", "C3", by="bob")
    await w.new("O3", at(23, 0, 30), "ticket", "inquiry", "C5")
    w.when(at(23, 10))
    return w


async def report(api: Api, name: str, period: str = "2026-W47", user: str = "sue",
                 **params: str) -> dict[str, Any]:
    r = await api.client(user).get(f"/v1/reports/{name}", params={"period": period, **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


def table(body: dict[str, Any], table_id: str) -> dict[str, dict[str, Any]]:
    """A report table as {first cell: {column key: value}}."""
    [t] = [t for t in body["tables"] if t["id"] == table_id]
    keys = [c["key"] for c in t["columns"]]
    return {str(row[0]): dict(zip(keys, row, strict=True)) for row in t["rows"]}


async def test_kpis_match_the_figures_worked_out_by_hand(api: Api) -> None:
    await play_week(api)
    weekly = await report(api, "weekly")
    assert weekly["period"] == "2026-W47" and weekly["timezone"] == "Asia/Shanghai"
    k = weekly["kpis"]
    # Contacts received Mon 16 – Sun 22: T1 T2 T3 T4 T5, K1 K2 K4 K5 (K3 withdrawn; O1, O2
    # before the week; O3 after midnight on Monday 23 in Shanghai).
    assert k["contacts"] == 9 and k["withdrawn"] == 1
    assert k["resolved"] == 6  # T1 T2 T3 K1 K2 K5; not T4 T5 (unanswered), K4 (registered)
    assert k["resolution_rate"] == pytest.approx(0.6667)  # 6 / 9
    assert k["complaints"] == 4  # K1 K2 K4 K5
    assert k["complaint_rate"] == pytest.approx(0.4444)  # 4 / 9
    assert k["first_contact"] == 3  # T1 K1 K5; T2 reassigned, T3 and K2 reopened
    assert k["first_contact_rate"] == 0.5  # 3 / 6
    # T1 2 h, T2 20 h, T3 24 h (to the second resolution), K1 2 h, K2 95 h (Tue 11:00 to
    # the reply that held, Sat 10:00), K5 0.5 h: (7200 + 72000 + 86400 + 7200 + 342000
    # + 1800) / 6 = 516600 / 6
    assert k["avg_handling_s"] == 86100.0
    # Met: T1 T2 K1 K5, and K2 (answered Sat 10:00, due Sat 18:00 after re-routing).
    # Missed: T3 (Wed 10:00 > Tue 18:00), T4 and K4 (unanswered, past due). T5 not due yet.
    assert (k["sla_met"], k["sla_missed"]) == (5, 3)
    assert k["sla_met_rate"] == 0.625  # 5 / 8
    assert k["satisfaction_count"] == 3  # CB5 Mon, CB1 Wed, CB2 Fri
    assert k["satisfaction"] == pytest.approx(3.67)  # (4 + 5 + 2) / 3 = 3.666…
    assert (k["member_closed"], k["member_covered"]) == (2, 2)  # K1 (CB1), K2 (CB2, CB3)
    assert k["callback_coverage"] == 1.0
    assert k["complaints_per_10k"] == 8000.0  # 4 / 5 customers × 10,000

    days = table(weekly, "by_day")
    assert [days[f"2026-11-{d}"]["contacts"] for d in range(16, 23)] == [3, 2, 0, 2, 1, 0, 1]
    assert days["2026-11-18"]["withdrawn"] == 1  # K3 came in on Wednesday
    assert [days[f"2026-11-{d}"]["satisfaction"] for d in (16, 18, 20)] == [4.0, 5.0, 2.0]
    assert days["2026-11-19"]["resolution_rate"] == 0.0  # T4, K4: 0 / 2

    agents = table(weekly, "by_agent")
    alice, bob = agents["Alice Wang 王丽 (alice)"], agents["Bob Li 李博 (bob)"]
    # alice owns T1 T4 K1 K4 K5 and resolved T1 K1 K5, each at first contact.
    assert (alice["contacts"], alice["resolved"], alice["first_contact_rate"]) == (5, 3, 1.0)
    assert alice["avg_handling_s"] == 5400.0  # (7200 + 7200 + 1800) / 3
    assert alice["sla_met_rate"] == 0.6  # T1 K1 K5 met, T4 K4 missed: 3 / 5
    assert alice["satisfaction"] == 4.5  # CB5 for O2 (4) and CB1 for K1 (5), both hers
    # The complaint about alice (K3) was withdrawn: her record is clear. K4 names bob.
    assert (alice["complaints_about"], bob["complaints_about"]) == (0, 1)
    # bob owns T2 (assigned to him) T3 K2: all resolved, none at first contact.
    assert (bob["contacts"], bob["resolved"], bob["first_contact_rate"]) == (3, 3, 0.0)
    assert bob["avg_handling_s"] == 166800.0  # (72000 + 86400 + 342000) / 3
    assert bob["sla_met_rate"] == pytest.approx(0.6667)  # T2 K2 met, T3 missed: 2 / 3
    assert (bob["satisfaction"], bob["callback_coverage"]) == (2.0, 1.0)  # CB2; K2 covered
    assert agents["—"]["contacts"] == 1 and agents["—"]["withdrawn"] == 1  # T5; K3

    kinds = table(weekly, "by_kind")
    tickets, complaints = kinds["工单 ticket"], kinds["投诉 complaint"]
    assert (tickets["contacts"], tickets["resolved"], tickets["resolution_rate"]) == (5, 3, 0.6)
    assert tickets["avg_handling_s"] == 55200.0  # (7200 + 72000 + 86400) / 3
    assert tickets["sla_met_rate"] == 0.5  # T1 T2 met, T3 T4 missed
    assert tickets["satisfaction"] is None  # every score this week was for a complaint
    assert (complaints["contacts"], complaints["resolution_rate"]) == (4, 0.75)  # 3 / 4
    assert complaints["first_contact_rate"] == pytest.approx(0.6667)  # K1 K5 of K1 K2 K5
    assert complaints["avg_handling_s"] == 117000.0  # (7200 + 342000 + 1800) / 3

    analysis = await report(api, "complaints")
    c = analysis["kpis"]
    assert (c["complaints"], c["resolved"], c["withdrawn"]) == (4, 3, 1)
    assert c["sla_met_rate"] == 0.75  # K1 K2 K5 met, K4 missed
    assert c["satisfaction"] == pytest.approx(3.67)  # O2 4, K1 5, K2 2: all complaints
    categories = table(analysis, "by_category")
    # O2's callback score (4) counts for its category in the week it was given.
    assert categories["产品质量 product"]["satisfaction"] == 4.5  # K1 5, O2 4
    assert categories["服务态度 service"]["contacts"] == 1  # K4; K3 withdrawn
    assert categories["服务态度 service"]["withdrawn"] == 1
    departments = table(analysis, "by_department")
    logistics = departments["物流部"]
    assert (logistics["contacts"], logistics["avg_handling_s"]) == (1, 342000.0)  # K2, 95 h
    assert (logistics["sla_met_rate"], logistics["satisfaction"]) == (1.0, 2.0)
    assert departments["—"]["contacts"] == 3  # K1 K4 K5 were never routed
    crossed = table(analysis, "category_by_department")
    assert crossed["服务态度 service"]["total"] == 2  # K3 and K4, withdrawn or not
    assert crossed["物流延误 delivery"]["物流部"] == 1
    assert len(table(analysis, "complaints")) == 5  # K1 … K5

    calls = (await report(api, "callbacks"))["kpis"]
    assert calls["scheduled"] == 4  # CB1 Mon, CB2 Thu, CB4 Fri, CB3 Sat (CB5 in week 46)
    assert (calls["completed"], calls["waived"]) == (3, 1)  # CB5 CB1 CB2; CB3
    assert (calls["satisfied"], calls["unsatisfied"]) == (2, 1)
    # Due three days after the reply: CB5 Mon 10:00 (done 11:00, late), CB1 Thu 12:00,
    # CB2 Sun 15:00, CB3 Tue 24 10:00 (all in time): 3 / 4.
    assert (calls["on_time"], calls["on_time_rate"]) == (3, 0.75)
    assert calls["overdue"] == 1  # CB4, due Mon 23 09:30, not made by 10:00
    assert calls["attempts"] == 1  # CB1's unanswered try
    assert [calls[f"score_{n}"] for n in range(1, 6)] == [0, 1, 0, 1, 1]
    assert calls["callback_coverage"] == 1.0


async def test_report_files_read_well_keep_chinese_intact_and_never_unmask(
        sqlite_api: Api) -> None:
    api = sqlite_api
    week = await play_week(api)
    sue = api.client("sue")
    month = await report(api, "monthly", "2026-11")
    assert month["kpis"]["contacts"] == 12  # the week's 9, with O1 O2 (week 46) and O3
    quality = table(month, "quality")
    k3, k4 = quality[str(week.ids["K3"])], quality[str(week.ids["K4"])]
    assert len(quality) == 2 and (k3["about_agent"], k4["about_agent"]) == ("alice", "bob")
    assert (k3["follow_up_due"], k3["followed_up"], k3["on_time"]) == (
        "2026-11-19 17:00", "2026-11-18 16:00", "是 yes")  # lee's verdict, Wed 16:00
    assert (k4["follow_up_due"], k4["on_time"]) == ("2026-11-20 17:00", "逾期 overdue")

    for name in ("weekly", "monthly", "complaints", "callbacks"):
        r = await sue.get(f"/v1/reports/{name}", params={"period": "2026-W47", "format": "md"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
        assert f'filename="csq-{name}-2026-W47.md"' in r.headers["content-disposition"]
        md = r.text
        assert md.startswith("# ") and "## 关键指标 Key figures" in md
        assert "**2026-W47** (2026-11-16 – 2026-11-22, Asia/Shanghai)" in md
        assert not any(phone in md for phone in PHONES.values())
    md = (await sue.get("/v1/reports/complaints",
                        params={"period": "2026-W47", "format": "md"})).text
    assert "# 投诉分析 Complaint analysis" in md
    assert "## 按类别 By category" in md and "## 按部门 By department" in md
    assert "| 服务态度 service |" in md and "物流部" in md
    assert MASKED_C1 in md  # the complaint list shows the masked phone, never the number
    assert "| 投诉量 Complaints | 4 |" in md and "| 撤诉 Withdrawn | 1 |" in md
    weekly_md = (await sue.get("/v1/reports/weekly",
                               params={"period": "2026-W47", "format": "md"})).text
    assert "| 问题解决率 Resolution rate | 66.7% |" in weekly_md  # 6 / 9
    assert "| 2026-11-16 | 3 |" in weekly_md
    monthly_md = (await sue.get("/v1/reports/monthly",
                                params={"period": "2026-11", "format": "md"})).text
    assert monthly_md.startswith("# 服务监督报告 Monthly service supervision report")
    assert "## 服务质量投诉 Complaints about agents" in monthly_md

    r = await sue.get("/v1/reports/complaints", params={"period": "2026-W47", "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    raw = r.content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel reads Chinese
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["投诉分析 Complaint analysis"]
    assert rows[rows.index(["按类别 By category"]) + 1][:2] == ["类别 Category", "受理量 Contacts"]
    assert any(row[:1] == ["服务态度 service"] for row in rows)
    assert any(MASKED_C1 in row for row in rows)
    for name in ("weekly", "monthly", "complaints", "callbacks"):
        for fmt in ("csv", "json"):
            body = (await sue.get(f"/v1/reports/{name}",
                                  params={"period": "2026-11", "format": fmt})).content
            assert not any(p.encode() in body for p in PHONES.values()), (name, fmt)


async def test_reports_are_for_supervisors_leads_and_admins_with_a_real_period(
        sqlite_api: Api) -> None:
    api = sqlite_api
    for user in ("sue", "lee", "root"):
        r = await api.client(user).get("/v1/reports/weekly")
        assert r.status_code == 200, r.text
        assert r.json()["period"] == "2026-W47"  # by default the last whole week
    assert (await report(api, "callbacks", period="2026-10"))["period"] == "2026-10"
    r = await api.client("sue").get("/v1/reports/monthly")
    assert r.json()["period"] == "2026-10"  # by default the last whole month
    r = await api.client("alice").get("/v1/reports/weekly")
    assert r.status_code == 403 and r.json()["type"].endswith(":forbidden")
    for bad in ("2026-W54", "last week", "2026-11-30..2026-11-01", "2020-01..2026-01"):
        r = await api.client("sue").get("/v1/reports/weekly", params={"period": bad})
        assert r.status_code == 422, bad
        assert r.json()["field"] == "period" and r.json()["detail"], r.text
    r = await api.client("sue").get("/v1/reports/yearly")
    assert r.status_code == 422 and r.json()["field"] == "name"
    r = await api.client("sue").get("/v1/reports/weekly", params={"format": "pdf"})
    assert r.status_code == 422 and r.json()["field"] == "format"


async def test_every_item_row_keeps_the_facts_its_record_tells(api: Api) -> None:
    """The KPI facts beside each record (csq.domain.facts), written with it by the
    service, are what the domain's rule reads off the record itself."""
    await play_week(api)
    i = models.Item
    async with api.app.state.engine.connect() as conn:
        rows = (await conn.execute(select(
            i.doc, i.department, i.category, i.about_agent, i.answered_at, i.answered_by,
            i.reopened, i.reassigned, i.first_contact, i.closed_at, i.scored_at,
            i.satisfaction, i.created_at, i.due_at))).all()
    assert len(rows) == 18  # O1-O3, T1-T5, K1-K5 and their callbacks CB1-CB5
    for doc, *stored in rows:
        item = Item.model_validate(doc)
        facts = of_item(item)
        assert stored == [item.department, item.category, item.about_agent, facts.answered_at,
                          facts.answered_by, facts.reopened, facts.reassigned,
                          facts.first_contact, facts.closed_at, facts.scored_at,
                          facts.satisfaction, item.created_at, item.due_at], item.subject


async def test_a_database_from_before_the_facts_upgrades_to_the_same_figures(
        api: Api) -> None:
    """Migration 0004 fills the facts of existing items from their records (and, on
    SQLite, puts times written in the service clock's zone into UTC)."""
    week = await play_week(api)
    before = {name: await report(api, name, period)
              for name, period in (("weekly", "2026-W47"), ("monthly", "2026-11"),
                                   ("complaints", "2026-W47"), ("callbacks", "2026-W47"))}
    engine = api.app.state.engine
    async with engine.connect() as conn:
        await conn.run_sync(lambda c: command.downgrade(migrate._config(c), "0003"))
        await conn.commit()
        columns = {c["name"] for c in await conn.run_sync(
            lambda c: inspect(c).get_columns("items"))}
        assert "answered_at" not in columns  # as a database made by version 0003
        if conn.dialect.name == "sqlite":  # as a server whose clock was in Shanghai wrote it
            await conn.exec_driver_sql(
                "UPDATE items SET created_at = datetime(created_at, '+8 hours'), "
                "due_at = datetime(due_at, '+8 hours')")
            await conn.commit()
    await migrate.upgrade(engine)
    for name, period in (("weekly", "2026-W47"), ("monthly", "2026-11"),
                         ("complaints", "2026-W47"), ("callbacks", "2026-W47")):
        after = await report(api, name, period)
        assert after == before[name], name
    async with engine.connect() as conn:
        first, answered = (await conn.execute(
            select(models.Item.first_contact, models.Item.answered_at).where(
                models.Item.id == week.ids["T1"]))).one()
    assert first is True and answered == at(16, 11)  # alice resolved it at 11:00
