"""Realistic records for the benchmarks, built with csq.domain itself.

A few hundred distinct items are made by running real actions through the
rules engine (claims, notes, replies, transitions, routes, callbacks); the
50,000-item cache is filled with copies of them under fresh ids, subjects and
customers, so every document has the shape and size the server really sends.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from csq.domain import Actor, Context, ItemDraft, Kind, Role, apply_action, new_item, parse_action
from csq.domain.errors import DomainError

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
AGENTS = [
    Actor("alice", "Alice Wang 王丽", Role.AGENT),
    Actor("bob", "Bob Li 李博", Role.AGENT),
    Actor("chen.jing", "陈静", Role.AGENT),
    Actor("lee", "Lee Zhang 张磊", Role.LEAD),
]
SUBJECTS = [
    ("ticket", "repair", "停电了,整栋楼没电 power cut in building {n}",
     "您好,我家从早上八点开始停电,邻居家也没电,请尽快派人检修。户号 {n}。"),
    ("ticket", "inquiry", "咨询 5G 套餐升级和合约期 #{n}",
     "现在用的是 99 元套餐,想换 5G 套餐,合约期还没到,能不能升级?会不会有违约金?"),
    ("ticket", "query", "Parcel {n} shows delivered but never arrived",
     "Tracking says delivered yesterday at 14:02 but nothing at the door or with the guard."),
    ("ticket", "request", "申请更换电表 {n}", "电表显示不正常,申请上门更换,周末在家。"),
    ("ticket", "quote", "Quote for moving 30 m³ to Hangzhou ({n})",
     "We need a quote for a household move next month, two flights of stairs, no lift."),
    ("complaint", "delivery", "快递延误五天无人处理 运单 {n}",
     "运单号 {n},承诺三天送达,现在已经第五天,客服电话一直打不通,要求赔偿。"),
    ("complaint", "service", "物业维修人员态度恶劣 {n}号楼",
     "上周报修水管漏水,维修师傅迟到两小时还和我吵架,要求物业道歉并处理。"),
    ("complaint", "product", "Broken router after firmware update ({n})",
     "The router has not booted since last night's automatic update; I work from home."),
]
NOTES = ["已联系抢修班组,预计两小时内到场。", "Customer called again, promised an update by 17:00.",
         "与物流中心核实,包裹滞留在转运站。", "转值班长处理,客户情绪激动。",
         "Checked the account: contract ends in March."]
REPLIES = ["您好,抢修人员已出发,预计两小时内到达,请保持电话畅通。",
           "We are sorry for the delay; the parcel left the hub this morning.",
           "您好,已为您登记,工作人员会在一个工作日内与您联系。"]


def _act(item: Any, actor: Actor, action: dict[str, Any], at: datetime) -> Any:
    try:
        return apply_action(item, parse_action(action), Context(actor, at)).item
    except DomainError:
        return item


def templates(count: int = 240, seed: int = 7) -> list[dict[str, Any]]:
    """`count` distinct items, each with a few timeline entries (2 to 7)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n in range(count):
        kind, category, subject, body = SUBJECTS[n % len(SUBJECTS)]
        draft = ItemDraft(kind=Kind(kind), category=category,
                          subject=subject.format(n=100000 + n), body=body.format(n=100000 + n),
                          customer_id=1 + n, channel=rng.choice(["phone", "email", "chat"]))
        actor = rng.choice(AGENTS)
        at = NOW - timedelta(hours=rng.randint(1, 72))
        item = new_item(draft, Context(actor, at), n + 1)
        steps = rng.randint(1, 5)
        if steps >= 1:
            at += timedelta(minutes=rng.randint(1, 30))
            item = _act(item, actor, {"action": "claim"}, at)
        for _ in range(steps - 1):
            at += timedelta(minutes=rng.randint(1, 90))
            pick = rng.random()
            if pick < 0.5:
                item = _act(item, actor, {"action": "note", "body": rng.choice(NOTES)}, at)
            elif pick < 0.8:
                item = _act(item, actor, {"action": "reply", "body": rng.choice(REPLIES)}, at)
            elif kind == "ticket":
                to = "pending_customer" if item.status == "open" else "open"
                item = _act(item, actor, {"action": "transition", "to": to}, at)
            else:
                item = _act(item, actor, {"action": "route", "department": "物流部",
                                          "due_at": (at + timedelta(days=2)).isoformat()}, at)
        out.append(item.model_dump(mode="json"))
    return out


def items(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` item documents with ids 1..count (copies of the templates)."""
    base = templates(seed=seed)
    out = []
    for i in range(1, count + 1):
        doc = dict(base[i % len(base)])
        doc["id"] = i
        doc["customer_id"] = 1 + i % 5000
        doc["seq"] = i
        doc["subject"] = f"{doc['subject'][:180]} · {i}"
        out.append(doc)
    return out


def customers(count: int) -> list[dict[str, Any]]:
    """Masked customers, as the changes feed carries them."""
    names = ["张伟", "王芳", "李娜", "刘洋", "Emily Carter", "陈杰", "Tom Baker", "赵敏"]
    out = []
    for i in range(1, count + 1):
        out.append({
            "id": i, "name": f"{names[i % len(names)]}{i}", "phone": "138****5678",
            "email": "z***@example.com", "tier": "ABCD"[i % 4], "vip": i % 17 == 0,
            "member": i % 5 == 0, "key_account": i % 50 == 0, "special_care": i % 97 == 0,
            "watch": False, "version": 1, "seq": i,
            "created_at": "2026-01-05T03:00:00Z", "updated_at": "2026-01-05T03:00:00Z",
        })
    return out


def changed(doc: dict[str, Any], seq: int, at: datetime) -> dict[str, Any]:
    """The same item after someone added a note: one more timeline entry, new seq."""
    new = dict(doc)
    stamp = at.isoformat().replace("+00:00", "Z")
    new["timeline"] = [*copy.copy(doc["timeline"]), {
        "type": "note", "actor": "bob", "actor_name": "Bob Li 李博", "at": stamp,
        "body": "客户来电催促,已再次联系处理部门。", "data": {}, "seq": seq}]
    new["seq"] = seq
    new["updated_at"] = stamp
    return new
