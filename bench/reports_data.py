"""A large, realistic database for the reports benchmark, written fast.

The demo's stories (csq.server.demo: a few hundred items told through the
real write path, `Service.write`) are seeded once into a scratch SQLite file;
their item rows and event rows are the templates. Copies of whole stories (a
complaint with its callbacks stays together) are then spread over ~3 months
under fresh ids, customers and seqs, with every timestamp in the record and
its events shifted together, and a few more notes (timeline entry + event row,
as a note action writes them) so that there are about ten events per item.
Stories older than the last ten days are copied only if they finished: a
centre does not leave three-month-old work open.

Rows go in with bulk `INSERT`s through SQLAlchemy Core on the tables of
csq.server.models, so every column is bound exactly as the service binds it,
and each item's KPI facts (csq.domain.facts) are computed from its record by
the columns' own defaults, as on every write of the service.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update

from csq.domain.lifecycle import is_done
from csq.server import models

ZONE = ZoneInfo("Asia/Shanghai")  # the service's default report zone
SPAN = timedelta(days=92)  # the data set ends "now" and reaches this far back
RECENT = timedelta(days=10)  # stories this young may still be open
CUSTOMER_COPIES = 84  # 84 x the demo's 120 customers
NOTES = ("已联系抢修班组,预计两小时内到场。", "Customer called again, promised an update by 17:00.",
         "与物流中心核实,包裹滞留在转运站。", "客户来电催促,已再次联系处理部门。",
         "Checked the account: contract ends in March.", "已致电客户说明处理进度,客户表示理解。")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _shift_text(value: Any, shift: timedelta) -> Any:
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        return _iso(_parse(value) + shift)
    return value


def _db_time(text: str) -> datetime:
    """A DateTime column as SQLite stores it (naive, UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- templates --------------------------------------------------------------------------


@dataclass
class Template:
    doc: dict[str, Any]
    events: list[dict[str, Any]]  # its event rows, in timeline order


@dataclass
class Story:
    items: list[Template]
    start: datetime
    finished: bool


@dataclass
class Templates:
    stories: list[Story]
    customers: list[dict[str, Any]]
    customer_events: list[dict[str, Any]]
    roles: dict[str, str]  # actor -> role, as recorded in the events
    now: datetime


async def _seed_demo(path: Path) -> None:
    from csq.server import migrate
    from csq.server.app import create_app
    from csq.server.config import ServerSettings
    from csq.server.demo.seed import seed

    app = create_app(ServerSettings(db=f"sqlite+aiosqlite:///{path}"))
    try:
        await migrate.upgrade(app.state.engine)
        await seed(app, 7, say=lambda _: None)
    finally:
        await app.state.engine.dispose()


def templates() -> Templates:
    """The demo's stories, told once through the real write path into a scratch file."""
    with tempfile.TemporaryDirectory(prefix="csq-bench-tpl-") as tmp:
        path = Path(tmp) / "demo.db"
        asyncio.run(_seed_demo(path))
        con = sqlite3.connect(path)
        con.row_factory = sqlite3.Row
        events: dict[int, list[dict[str, Any]]] = {}
        customer_events: list[dict[str, Any]] = []
        roles: dict[str, str] = {}
        for row in con.execute("SELECT * FROM events ORDER BY id"):
            ev = dict(row)
            ev["data"] = json.loads(ev["data"])
            ev["at"] = _db_time(ev["at"])
            roles[ev["actor"]] = ev["role"]
            if ev["item_id"] is None:
                customer_events.append(ev)
            else:
                events.setdefault(int(ev["item_id"]), []).append(ev)
        docs = [json.loads(d) for (d,) in con.execute("SELECT doc FROM items ORDER BY id")]
        customers = [json.loads(d) for (d,) in con.execute("SELECT doc FROM customers")]
        con.close()
    by_id = {d["id"]: d for d in docs}
    root: dict[int, int] = {}
    for d in docs:
        r = d["id"]
        while by_id.get(r, {}).get("parent_id") in by_id:
            r = by_id[r]["parent_id"]
        root[d["id"]] = r
    groups: dict[int, list[Template]] = {}
    for d in docs:
        evs = [e for e in events.get(d["id"], []) if e["type"] != "reveal"]
        assert len(evs) == len(d["timeline"]), (d["id"], len(evs), len(d["timeline"]))
        groups.setdefault(root[d["id"]], []).append(Template(d, evs))
    stories = [Story(items, min(_parse(t.doc["created_at"]) for t in items),
                     all(is_done(t.doc["kind"], t.doc["status"]) for t in items))
               for items in groups.values()]
    now = max(e["at"] for evs in events.values() for e in evs)
    return Templates(stories, customers, customer_events, roles, now)


# -- copies -----------------------------------------------------------------------------


@dataclass
class Chunk:
    items: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)


_TIME_KEYS = ("due_at", "sla_start", "promised_at", "created_at", "updated_at")


class Generator:
    """Deterministic: the same seed gives the same rows, for SQLite and PostgreSQL."""

    def __init__(self, tpl: Templates, items: int, events: int, seed: int = 11) -> None:
        self.tpl = tpl
        self.target_items = items
        self.target_events = events
        self.rng = random.Random(seed)
        self.seq = 0
        self.next_id = 1000
        self.n_items = 0
        self.n_events = 0

    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def customers(self) -> Chunk:
        chunk = Chunk()
        for copy in range(CUSTOMER_COPIES):
            for c in self.tpl.customers:
                doc = dict(c)
                doc["id"] = c["id"] + copy * len(self.tpl.customers)
                doc["seq"] = self._seq()
                doc["name"] = c["name"] if copy == 0 else f"{c['name']}{copy}"
                chunk.customers.append({"id": doc["id"], "seq": doc["seq"], "doc": doc})
                made = self.tpl.customer_events[0]
                chunk.events.append({
                    **_event_row(made), "seq": doc["seq"], "customer_id": doc["id"],
                    "at": _parse(doc["created_at"]), "data": {"name": doc["name"]},
                    "idempotency_key": f"bench-customer-{doc['id']}"})
        self.n_events += len(chunk.events)
        return chunk

    def chunks(self, per_chunk: int = 4000) -> Iterator[Chunk]:
        chunk = Chunk()
        while self.n_items < self.target_items:
            age = self.rng.random() * (SPAN - RECENT).total_seconds()
            shift = -timedelta(seconds=age)
            pool = self.tpl.stories if age < RECENT.total_seconds() else \
                [s for s in self.tpl.stories if s.finished]
            story = self.rng.choice(pool)
            self._copy(story, shift, chunk)
            if len(chunk.items) >= per_chunk:
                yield chunk
                chunk = Chunk()
        if chunk.items:
            yield chunk

    def _copy(self, story: Story, shift: timedelta, chunk: Chunk) -> None:
        ids = {}
        for t in story.items:
            self.next_id += 1
            ids[t.doc["id"]] = self.next_id
        customer_copy = self.rng.randrange(CUSTOMER_COPIES) * len(self.tpl.customers)
        for t in story.items:
            self._item(t, ids, customer_copy, shift, chunk)

    def _item(self, t: Template, ids: dict[int, int], customer_copy: int, shift: timedelta,
              chunk: Chunk) -> None:
        doc = json.loads(json.dumps(t.doc))
        doc["id"] = ids[t.doc["id"]]
        doc["parent_id"] = ids.get(t.doc["parent_id"]) if t.doc["parent_id"] else None
        doc["customer_id"] = t.doc["customer_id"] + customer_copy
        for key in _TIME_KEYS:
            if doc[key] is not None:
                doc[key] = _iso(_parse(doc[key]) + shift)
        for key in ("result", "escalation"):
            if doc[key] and doc[key].get("at"):
                doc[key]["at"] = _iso(_parse(doc[key]["at"]) + shift)
        rows = [_event_row(e) for e in t.events]
        entries = doc["timeline"]
        for entry, row in zip(entries, rows, strict=True):
            entry["at"] = _iso(_parse(entry["at"]) + shift)
            row["at"] = row["at"] + shift
            for key in ("due_at", "at"):
                if isinstance(entry["data"].get(key), str):
                    entry["data"][key] = _iso(_parse(entry["data"][key]) + shift)
                    row["data"][key] = entry["data"][key]
            diff = row["data"].get("diff")
            if isinstance(diff, dict):
                row["data"]["diff"] = {k: [_shift_text(x, shift) for x in v]
                                       if isinstance(v, list) else v for k, v in diff.items()}
        self._pad(doc, entries, rows)
        key = f"bench-{doc['id']}"
        seq, last_at = 0, None
        for entry, row in zip(entries, rows, strict=True):
            if entry["at"] != last_at:
                seq, last_at = self._seq(), entry["at"]
            entry["seq"] = row["seq"] = seq
            row["item_id"] = doc["id"]
            row["idempotency_key"] = f"{key}-{seq}"
        doc["seq"] = seq
        self.n_items += 1
        self.n_events += len(rows)
        chunk.items.append({
            "id": doc["id"], "seq": seq, "kind": doc["kind"], "status": doc["status"],
            "owner": doc["owner"], "customer_id": doc["customer_id"],
            "parent_id": doc["parent_id"],
            "due_at": _parse(doc["due_at"]) if doc["due_at"] else None,
            "created_at": _parse(doc["created_at"]), "doc": doc})
        chunk.events.extend(rows)

    def _pad(self, doc: dict[str, Any], entries: list[dict[str, Any]],
             rows: list[dict[str, Any]]) -> None:
        """Notes between existing entries, so the whole set averages the target."""
        per_item = (self.target_events - self.n_events) / max(1, self.target_items - self.n_items)
        want = round(per_item - len(entries) + self.rng.uniform(-1.5, 1.5))
        if want <= 0 or len(entries) < 2:
            return
        for _ in range(min(want, 20)):
            i = self.rng.randrange(1, len(entries))
            before, after = _parse(entries[i - 1]["at"]), _parse(entries[i]["at"])
            at = before + (after - before) * self.rng.random()
            prev = rows[i - 1]
            body = self.rng.choice(NOTES)
            entries.insert(i, {"type": "note", "actor": prev["actor"],
                               "actor_name": prev["actor_name"], "at": _iso(at),
                               "body": body, "data": {}, "seq": 0})
            rows.insert(i, {**prev, "type": "note", "at": at, "body": body, "data": {},
                            "role": self.tpl.roles.get(prev["actor"], prev["role"])})
        doc["version"] += min(want, 20)


def _event_row(ev: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in ev.items() if k != "id"}
    row["data"] = json.loads(json.dumps(ev["data"]))
    return row


# -- writing ----------------------------------------------------------------------------


@dataclass
class Loaded:
    items: int
    events: int
    customers: int
    seconds: float
    now: datetime  # the data set's "now": its last event


async def load(url: str, items: int, events: int, tpl: Templates,
               say: Any = print) -> Loaded:
    """Migrate a fresh database at `url` and fill it; returns what went in."""
    import time

    from csq.server import migrate
    from csq.server.db import make_engine

    started = time.perf_counter()
    engine = make_engine(url)
    gen = Generator(tpl, items, events)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            customers = gen.customers()
            await conn.execute(insert(models.Customer.__table__), customers.customers)
            await conn.execute(insert(models.Event.__table__), customers.events)
        for n, chunk in enumerate(gen.chunks()):
            async with engine.begin() as conn:
                await conn.execute(insert(models.Item.__table__), chunk.items)
                await conn.execute(insert(models.Event.__table__), chunk.events)
            if n % 5 == 4:
                say(f"    {gen.n_items:,} items, {gen.n_events:,} events "
                    f"({time.perf_counter() - started:.0f} s)")
        async with engine.begin() as conn:
            await conn.execute(update(models.SeqCounter).values(value=gen.seq))
            await conn.execute(update(models.IdCounter).where(models.IdCounter.name == "item")
                               .values(value=gen.next_id))
            await conn.execute(update(models.IdCounter).where(
                models.IdCounter.name == "customer").values(
                value=CUSTOMER_COPIES * len(tpl.customers)))
            await conn.exec_driver_sql("ANALYZE")  # fresh statistics, as a live DB has
    finally:
        await engine.dispose()
    return Loaded(gen.n_items, gen.n_events, len(customers.customers),
                  time.perf_counter() - started, tpl.now)


def fullest_month(now: datetime) -> str:
    """The last whole month before `now` (local): inside the data set throughout."""
    local = now.astimezone(ZONE)
    last = local.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"
