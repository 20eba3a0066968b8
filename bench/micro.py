"""Where a request's time goes, measured without the noise of concurrency.

    python -m bench micro [--requests 300]

The csq app runs in-process (httpx's ASGI transport: no sockets, no uvicorn),
on a fresh SQLite file, one request at a time. Reported: CPU and wall time
per request for GET /healthz (the floor: FastAPI and middleware only), GET
/v1/items/{id}, and the note and transition actions; the SQL statements and
connection checkouts one action costs; and the cost of one SQL round trip
through SQLAlchemy's async session on aiosqlite against plain sqlite3.
CPU is process time, so it includes aiosqlite's worker threads.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.common import Row, print_machine, table, wait_for_quiet
from csq.domain.roles import Role
from csq.server import admin
from csq.server.app import create_app
from csq.server.config import ServerSettings
from csq.server.db import make_engine


async def _per_request(n: int, call: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    """(CPU ms, wall ms) per call, over `n` calls after 20 to warm up."""
    for i in range(20):
        await call(i)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        await call(i)
    return ((time.process_time() - cpu) / n * 1000, (time.perf_counter() - wall) / n * 1000)


async def app_costs(n: int, root: Path) -> dict[str, Any]:
    db = f"sqlite+aiosqlite:///{root / 'csq.db'}"
    engine = make_engine(db)
    try:
        token = await admin.create_user(engine, "alice", Role.AGENT)
    finally:
        await engine.dispose()
    app = create_app(ServerSettings(db=db))
    statements: Counter[str] = Counter()
    checkouts = [0]
    # The async engine, and on SQLite the writer's and readers' own engines.
    for sync_engine in (app.state.engine.sync_engine, *getattr(app.state.db, "engines", ())):

        @event.listens_for(sync_engine, "before_cursor_execute")
        def _count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            if statement not in ("BEGIN", "BEGIN IMMEDIATE"):
                statements[" ".join(statement.split()[:2])] += 1

        @event.listens_for(sync_engine, "checkout")
        def _checkout(*_: Any) -> None:
            checkouts[0] += 1

    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://csq.bench",
            headers={"Authorization": f"Bearer {token}"}) as c:

        def key() -> dict[str, str]:
            return {"Idempotency-Key": str(uuid.uuid4())}

        r = await c.post("/v1/customers", json={"name": "张伟", "phone": "13812345678"},
                         headers=key())
        customer = r.json()["id"]
        ids, versions = [], {}
        for n_item in range(20):
            r = await c.post("/v1/items", headers=key(), json={
                "kind": "ticket", "category": "repair", "subject": f"停电了 power cut {n_item}",
                "customer_id": customer})
            item = r.json()
            r = await c.post(f"/v1/items/{item['id']}/actions", json={"action": "claim"},
                             headers={**key(), "If-Match": f'"{item["version"]}"'})
            ids.append(item["id"])
            versions[item["id"]] = r.json()["item"]["version"]
        status = {i: "open" for i in ids}

        async def healthz(_: int) -> None:
            await c.get("/healthz")

        async def read(i: int) -> None:
            await c.get(f"/v1/items/{ids[i % len(ids)]}")

        async def note(i: int) -> None:
            await c.post(f"/v1/items/{ids[i % len(ids)]}/actions", headers=key(),
                         json={"action": "note", "body": "客户来电催促,已再次联系处理部门"})

        async def transition(i: int) -> None:
            item = ids[i % len(ids)]
            to = "pending_customer" if status[item] == "open" else "open"
            r = await c.post(f"/v1/items/{item}/actions", json={"action": "transition", "to": to},
                             headers={**key(), "If-Match": f'"{versions[item]}"'})
            body = r.json()["item"]
            versions[item], status[item] = body["version"], body["status"]

        for name, call in (("healthz", healthz), ("read", read), ("note", note),
                           ("transition", transition)):
            out[name] = await _per_request(n, call)

        # The same note on one item whose timeline has grown to 200+ entries: every
        # action loads, validates, rewrites and returns the whole item.
        long_item = ids[0]
        for _ in range(200):
            await note(0)

        async def note_long(_: int) -> None:
            await c.post(f"/v1/items/{long_item}/actions", headers=key(),
                         json={"action": "note", "body": "客户来电催促,已再次联系处理部门"})

        out["note_long"] = await _per_request(max(20, n // 5), note_long)
        r = await c.get(f"/v1/items/{long_item}")
        out["long_entries"] = len(r.json()["timeline"])
        out["long_kib"] = len(r.content) / 1024
        for name, call in (("note", note), ("transition", transition)):
            statements.clear()
            checkouts[0] = 0
            await call(0)
            out[f"{name}_sql"] = (sum(statements.values()), checkouts[0], dict(statements))
    return out


async def round_trips(n: int, root: Path) -> dict[str, float]:
    path = root / "rt.db"
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    sessions = async_sessionmaker(engine)
    async with sessions() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        await s.execute(text("INSERT INTO t VALUES (1, 'x')"))
        await s.commit()
    query = text("SELECT v FROM t WHERE id = 1")

    async def one_session(_: int) -> None:
        async with sessions() as s:
            (await s.execute(query)).scalar_one()

    out = {"session": (await _per_request(n, one_session))[0]}
    async with sessions() as s:

        async def in_session(_: int) -> None:
            (await s.execute(query)).scalar_one()

        out["statement"] = (await _per_request(n * 3, in_session))[0]
    await engine.dispose()
    con = sqlite3.connect(path)
    cpu = time.process_time()
    for _ in range(n * 30):
        con.execute("SELECT v FROM t WHERE id = 1").fetchone()
    out["raw"] = (time.process_time() - cpu) / (n * 30) * 1000
    con.close()
    return out


def report(app: dict[str, Any], rt: dict[str, float], n: int) -> str:
    floor = app["healthz"][0]

    def row(label: str, name: str) -> Row:
        cpu, wall = app[name]
        return Row(label, f"{cpu:.2f} ms CPU ({wall:.2f} wall)", f"{floor:.2f} ms (healthz)",
                   f"{cpu / floor:.1f}×", "", "")

    rows = [
        row("GET /healthz (FastAPI + middleware only)", "healthz"),
        row("GET /v1/items/{id}", "read"),
        row("POST action: note", "note"),
        row("POST action: transition (If-Match)", "transition"),
        row(f"POST action: note, item with {app['long_entries']} timeline entries "
            f"({app['long_kib']:.0f} KiB)", "note_long"),
    ]
    for name in ("note", "transition"):
        count, checkouts, _ = app[f"{name}_sql"]
        # The Gate's token read goes straight to sqlite3 on SQLite (auth.lookup_principal),
        # past SQLAlchemy's events, so it is not in these counts: one more statement.
        rows.append(Row(f"SQL per {name}: statements / connection checkouts "
                        "(+ the token read, in plain sqlite3)",
                        f"{count} / {checkouts}", "", "", "", ""))
    rows += [
        Row("one SQL statement, open AsyncSession (aiosqlite)", f"{rt['statement']:.3f} ms CPU",
            f"{rt['raw']:.4f} ms (plain sqlite3)", f"{rt['statement'] / rt['raw']:.0f}×",
            "", ""),
        Row("session open + 1 statement + close", f"{rt['session']:.3f} ms CPU",
            f"{rt['raw']:.4f} ms (plain sqlite3)", f"{rt['session'] / rt['raw']:.0f}×", "", ""),
        Row("1 core's ceiling at the action cost above",
            f"{1000 / max(app['note'][0], app['transition'][0]):.0f}–"
            f"{1000 / min(app['note'][0], app['transition'][0]):.0f} actions/s", "",
            "", "300/s needs ≤ 3.3 ms", ""),
    ]
    title = (f"micro: in-process, sequential, SQLite, {n} requests each; "
             "ratio = csq ÷ baseline")
    detail = ", ".join(f"{k} ×{v}" for k, v in app["transition_sql"][2].items())
    return table(title, rows) + f"\nstatements of one transition (BEGIN/COMMIT not counted): " \
        f"{detail}\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench micro")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    print_machine()
    print(f"micro: {wait_for_quiet()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="csq-bench-micro-") as tmp:
        app = asyncio.run(app_costs(args.requests, Path(tmp)))
        rt = asyncio.run(round_trips(args.requests, Path(tmp)))
    print()
    print(report(app, rt, args.requests), flush=True)
    return 0
