"""A fixed queue for the snapshot tests: built with the domain engine at a
fixed time and written straight into a profile's cache and outbox, so the
app opens from it with no server (and shows itself offline)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from csq.app import CsqApp
from csq.config import Login, UiConfig
from csq.domain.actions import parse_action
from csq.domain.engine import Actor, Context, apply_action, new_item
from csq.domain.records import Customer, Item, ItemDraft
from csq.domain.roles import Role
from csq.domain.sla import DEFAULT_POLICY
from csq.store import Cache, Op, Outbox, Profile
from csq.sync import make_http

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
SYNCED_AT = NOW - timedelta(minutes=3)
SERVER = "http://127.0.0.1:9"  # the discard port: nothing listens, so the app is offline

# Customer text that tries to drive the terminal (promise 4): each must show as ^[ text.
HOSTILE_SUBJECT = "Refund\x1b[2J\x1b[31m RED \x1b]0;pwned\x07 \x1b]52;c;cHduZWQ=\x07 done"
HOSTILE_NAME = "Mallory\x1b[5m 恶意"
HOSTILE_BODY = ("line one\r\noverwrite\rXX\x08\x08 bell\x07 c1:\x9b31m\n"
                "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\")

USERS = {
    "alice": Actor("alice", "Alice Wang 王丽", Role.AGENT),
    "bob": Actor("bob", "Bob Li 李博", Role.AGENT),
    "lee": Actor("lee", "Lee Zhang 张磊", Role.LEAD),
    "sue": Actor("sue", "Sue Chen 陈素", Role.SUPERVISOR),
}


def _customer(cid: int, name: str, **fields: Any) -> Customer:
    return Customer(id=cid, name=name, created_at=NOW - timedelta(days=400),
                    updated_at=NOW - timedelta(days=2), seq=cid, **fields)


CUSTOMERS = [
    _customer(1, "张伟", phone="138****5678", email="z***@example.com", tier="A", vip=True,
              member=True),
    _customer(2, "李娜", phone="139****0001", tier="B", key_account=True, special_care=True),
    _customer(3, HOSTILE_NAME, phone="150****9999", email="m***@example.net", tier="C",
              watch=True),
    _customer(4, "Margaret Thompson-Fairweather", phone="+44 ****123", tier="D"),
]
_BY_ID = {c.id: c for c in CUSTOMERS}


class _Builder:
    def __init__(self) -> None:
        self.items: dict[int, Item] = {}

    def ctx(self, who: str, at: datetime, customer_id: int) -> Context:
        return Context(USERS[who], at, DEFAULT_POLICY, _BY_ID[customer_id])

    def new(self, item_id: int, who: str, ago: timedelta, **draft: Any) -> Item:
        d = ItemDraft(**draft)
        item = new_item(d, self.ctx(who, NOW - ago, d.customer_id), item_id)
        self.items[item_id] = item
        return item

    def act(self, item_id: int, who: str, ago: timedelta, **payload: Any) -> Any:
        item = self.items[item_id]
        out = apply_action(item, parse_action(payload), self.ctx(who, NOW - ago, item.customer_id))
        self.items[item_id] = out.item
        return out


def build_items() -> list[Item]:
    b = _Builder()
    h = timedelta(hours=1)
    m = timedelta(minutes=1)
    # 1: a P1 repair for a VIP, unclaimed and breached two hours ago.
    b.new(1, "bob", 6 * h, kind="ticket", category="repair", channel="phone", customer_id=1,
          priority="P1", subject="小区停电三小时,冰箱里的东西都坏了,要求赔偿",
          body="客户来电:整栋楼停电,物业电话打不通。")
    # 2: a complaint claimed, noted, routed, answered: its callback is owed (3).
    b.new(2, "bob", 30 * h, kind="complaint", category="delivery", channel="phone",
          customer_id=2, subject="快递员态度恶劣,包裹被损坏",
          body="包裹外箱破损,快递员拒绝登记。客户要求道歉和赔偿。")
    b.act(2, "alice", 29 * h, action="claim")
    b.act(2, "alice", 28 * h, action="note", body="已联系物流部王经理,答应今天给答复。")
    b.act(2, "alice", 27 * h, action="route", department="物流部",
          due_at=(NOW + 20 * h).isoformat())
    out = b.act(2, "alice", 2 * h, action="reply",
                body="李女士您好,非常抱歉给您带来不便。赔偿款已于今日退回原支付账户。")
    spawn = out.spawns[0]
    cb = new_item(spawn.draft, b.ctx("alice", NOW - 2 * h, 2), 3, due_at=spawn.due_at,
                  owner=spawn.owner)
    b.items[3] = cb
    # 4: customer text full of escape sequences, owned by alice.
    b.new(4, "alice", 50 * m, kind="ticket", category="request", channel="email",
          customer_id=3, subject=HOSTILE_SUBJECT, body=HOSTILE_BODY)
    b.act(4, "alice", 45 * m, action="claim")
    b.act(4, "alice", 40 * m, action="note", body="customer pasted this:\x1b]0;pwned\x07 \x07")
    # 5: an English ticket with a long subject, unclaimed (alice's claim is pending).
    b.new(5, "bob", 3 * h, kind="ticket", category="inquiry", channel="web", customer_id=4,
          subject="Question about the invoice for October: the VAT number is missing and "
                  "the address is wrong")
    # 6: a complaint of alice's at risk (under 20 % of its 48 h left).
    b.new(6, "bob", 40 * h, kind="complaint", category="service", channel="chat",
          customer_id=1, subject="营业厅排队等了两个小时没人管 waited 2h")
    b.act(6, "alice", 39 * h, action="claim")
    # 7: a scheduled callback of bob's, due this afternoon.
    b.new(7, "bob", 20 * h, kind="callback", category="survey", channel="phone",
          customer_id=4, subject="Satisfaction survey after the repair",
          due_at=(NOW + 5 * h).isoformat())
    b.act(7, "bob", 19 * h, action="claim")
    # 8: a closed ticket.
    b.new(8, "alice", 26 * h, kind="ticket", category="query", channel="sms", customer_id=1,
          subject="查询上月账单 bill query")
    b.act(8, "alice", 25 * h, action="claim")
    b.act(8, "alice", 24 * h, action="transition", to="resolved")
    b.act(8, "alice", 23 * h, action="transition", to="closed")
    return [b.items[i] for i in sorted(b.items)]


def build_lead_items() -> list[Item]:
    """For the lead's screens: two complaints about an agent (服务质量投诉), one
    whose follow-up (17:00 the next day) is late, one the lead has ruled on."""
    b = _Builder()
    h = timedelta(hours=1)
    # 9: about alice, opened Friday night: the follow-up was due Saturday 17:00.
    b.new(9, "bob", 60 * h, kind="complaint", category="service", channel="phone",
          customer_id=1, about_agent="alice", subject="客服态度恶劣,没听完就挂断电话",
          body="客户称客服语气生硬,问题没说完就挂断。")
    b.act(9, "bob", 59 * h, action="claim")
    # 10: about bob, this morning; the lead has listened to the call.
    b.new(10, "alice", 5 * h, kind="complaint", category="process", channel="chat",
          customer_id=4, about_agent="bob", subject="Agent refused to log my complaint")
    b.act(10, "alice", 4 * h, action="claim")
    b.act(10, "lee", 1 * h, action="note",
          body="Listened to the call: bob followed the script; explained it to the customer.")
    return [b.items[9], b.items[10]]


def write_profile(root: Path, username: str = "alice",
                  extra: Callable[[], list[Item]] | None = None) -> Profile:
    """The cache and outbox of a profile that synced three minutes ago
    (`extra`: more items, for the screens that need their own)."""
    profile = Profile.for_user(SERVER, username, root=root).ensure()
    items = build_items() + (extra() if extra else [])
    cache = Cache(profile.cache_dir).open(write=True)
    try:
        seq = 0
        docs = []
        for item in items:
            seq += 1
            entries = tuple(e.model_copy(update={"seq": seq * 100 + n})
                            for n, e in enumerate(item.timeline, 1))  # as the server numbers them
            docs.append(item.model_copy(update={"seq": seq, "timeline": entries})
                        .model_dump(mode="json"))
        cache.apply(docs, [c.model_dump(mode="json") for c in CUSTOMERS], seq)
        # Cache.apply stamps the wall clock; the snapshot needs the fixed one.
        assert cache.storage is not None
        cache.storage.append({"tables": {}, "meta": {"cursor": seq,
                                                     "synced_at": SYNCED_AT.isoformat()}})
    finally:
        cache.close()
    outbox = Outbox(profile.outbox_path)
    if username == "alice":
        outbox.append(Op.new("action", {"action": "claim"}, item_id=5, base_version=1))
        server_6 = next(i for i in items if i.id == 6).model_copy(update={
            "version": 4, "status": "in_progress", "owner": "lee"}).model_dump(mode="json")
        stale = Op.new("action", {"action": "promise", "at": (NOW + timedelta(hours=2))
                                  .isoformat()}, item_id=6, base_version=2)
        outbox.append(stale.model_copy(update={
            "state": "conflict", "error": "item 6 changed on the server (now version 4)",
            "error_type": "stale", "server_item": server_6}))
    return profile


def make_offline_app(root: Path, username: str = "alice", *, lang: str = "en",
                     clock: Callable[[], datetime] = lambda: NOW,
                     extra: Callable[[], list[Item]] | None = None) -> CsqApp:
    actor = USERS[username]
    login = Login(server=SERVER, username=username, name=actor.name, role=actor.role,
                  token="snapshot-token")
    profile = write_profile(root, username, extra)
    return CsqApp(login, make_http(SERVER, login.token), UiConfig(), profile=profile,
                  lang=lang, clock=clock)
