"""Issue 6's benchmark: the monthly report at scale, and the supervisors' wall.

    python -m bench wall [--part reports|walls|both] [--db sqlite|postgres|both]
                         [--items 100000] [--events 1000000] [--duration 20]
                         [--walls 20] [--rate 300]

reports: a fresh database (SQLite, then a throwaway PostgreSQL cluster) with
`--items` items and `--events` events over ~3 months (bench/reports_data.py),
a real `csq serve` on it, and GET /v1/reports/monthly for the fullest month,
three times, timed from the client (JSON, then Markdown). Baseline in the same
run: `SELECT count(*)` of that month's events.

walls: a `csq serve` on SQLite under the paced action load of bench/loadgen.py
(offered `--rate`/s by 50 clients), with 1 wall and then `--walls` walls open
(bench/wall_walls.py): each wall's lag behind a probe's writes, and the
server's CPU seconds over the same length of time.

Reports what it measures; never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench import reports_data
from bench.common import Row, median, percentile, print_machine, table, verdict, wait_for_quiet
from bench.server import create_users, proc_cpu_s, run_loadgen, seed, start_server
from bench.wall_walls import run_walls

TARGET_REPORT_S = 3.0
TARGET_LAG_S = 1.0
TARGET_CPU_RATIO = 1.10
MONTH = "2026-10"


async def _token(db: str, name: str, role: str) -> str:
    from csq.domain.roles import Role
    from csq.server import admin
    from csq.server.db import make_engine

    engine = make_engine(db)
    try:
        return await admin.create_user(engine, name, Role(role))
    finally:
        await engine.dispose()


async def _count_month(db: str, month: str) -> tuple[int, float]:
    from csq.domain.period import parse_period
    from csq.server import models
    from csq.server.db import make_engine

    period = parse_period(month, reports_data.ZONE)
    engine = make_engine(db)
    try:
        async with engine.connect() as conn:
            best = float("inf")
            count = 0
            for _ in range(3):
                t0 = time.perf_counter()
                count = int((await conn.execute(select(func.count()).select_from(
                    models.Event).where(models.Event.at >= period.start,
                                        models.Event.at < period.end))).scalar_one())
                best = min(best, time.perf_counter() - t0)
            return count, best
    finally:
        await engine.dispose()


def reports_part(kind: str, db: str, workdir: Path, items: int, events: int,
                 tpl: reports_data.Templates) -> list[Row]:
    print(f"  {kind}: loading {items:,} items and {events:,} events …", flush=True)
    loaded = asyncio.run(reports_data.load(db, items, events, tpl,
                                           say=lambda s: print(s, flush=True)))
    print(f"  {kind}: loaded {loaded.items:,} items, {loaded.events:,} events, "
          f"{loaded.customers:,} customers in {loaded.seconds:.0f} s", flush=True)
    month = reports_data.fullest_month(loaded.now)
    token = asyncio.run(_token(db, "wallboss", "supervisor"))
    count, count_s = asyncio.run(_count_month(db, month))
    server = start_server(db, workdir, f"reports-{kind}")
    rows: list[Row] = []
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=600) as c:
            times: dict[str, list[float]] = {"json": [], "md": []}
            for fmt in ("json", "json", "json", "md"):
                print(f"    {wait_for_quiet(max_wait=30)}", flush=True)
                cpu0 = server.cpu_s()
                t0 = time.perf_counter()
                r = c.get("/v1/reports/monthly", params={"period": month, "format": fmt})
                took = time.perf_counter() - t0
                r.raise_for_status()
                times[fmt].append(took)
                print(f"    monthly {month} ({fmt}): {took:.2f} s, server CPU "
                      f"{server.cpu_s() - cpu0:.2f} s, {len(r.content):,} bytes", flush=True)
            kpis = r.status_code and c.get("/v1/reports/monthly", params={
                "period": month}).json()["kpis"]
    finally:
        server.stop()
    best, worst = min(times["json"]), max(times["json"])
    rows.append(Row(f"{kind}: monthly report {month}, JSON (best of 3)", f"{best:.2f} s",
                    f"{count_s * 1000:.0f} ms (count(*) of its {count:,} events)",
                    f"{best / count_s:.0f}×" if count_s else "", "≤ 3 s",
                    verdict(best, TARGET_REPORT_S)))
    rows.append(Row(f"{kind}: same, worst of 3 / Markdown", f"{worst:.2f} / "
                    f"{times['md'][0]:.2f} s", "", "", "≤ 3 s", verdict(worst, TARGET_REPORT_S)))
    print(f"    contacts {kpis['contacts']}, complaints {kpis['complaints']}, "
          f"satisfaction {kpis['satisfaction']}", flush=True)
    return rows


def _walls_phase(url: str, sup: str, probe_token: str, customer: int, walls: int,
                 duration: float, load: dict[str, Any], workdir: Path,
                 server_pid: int) -> tuple[Any, float, dict[str, Any]]:
    print(f"    {wait_for_quiet(max_wait=60)}", flush=True)
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(run_loadgen(load, workdir)))
    thread.start()
    time.sleep(float(load["warmup"]))
    cpu0 = proc_cpu_s(server_pid)
    t0 = time.monotonic()
    run = asyncio.run(run_walls(url, sup, "probe", probe_token, customer, walls,
                                duration - 5.0))
    cpu = (proc_cpu_s(server_pid) - cpu0) / (time.monotonic() - t0)
    thread.join()
    return run, cpu, out


def walls_part(workdir: Path, walls: int, duration: float, rate: float) -> list[Row]:
    db = f"sqlite+aiosqlite:///{workdir / 'walls.db'}"
    names = ["probe", *(f"agent{n}" for n in range(50))]
    tokens = create_users(db, names)
    sup = asyncio.run(_token(db, "wallboss", "supervisor"))
    server = start_server(db, workdir, "walls")
    rows: list[Row] = []
    try:
        agents = [tokens[n] for n in names[1:]]
        customer = 1
        results = {}
        for n in (1, walls, 1, walls):
            # Fresh items for every phase: reusing one set, each item took ~50 actions
            # by the fourth phase (a timeline no item of a real centre grows in
            # 80 s), every write rewrote that whole history, and the later phases,
            # not the walls, decided both the lag and the CPU comparison.
            items = seed([server.url], agents, per_client=10)
            clients = [{"url": server.url, "token": t, "items": i}
                       for t, i in zip(agents, items, strict=True)]
            load = {"mode": "actions", "clients": clients, "warmup": 2.0,
                    "duration": duration, "rate_per_client": rate / len(clients)}
            run, cpu, out = _walls_phase(server.url, sup, tokens["probe"], customer, n,
                                         duration, load, workdir, server.proc.pid)
            ok = sum(v for k, v in out["statuses"].items() if k in ("200", "201", "412"))
            lags = [x * 1000 for x in run.lags]
            print(f"  {n} wall(s): achieved {ok / duration:.0f} actions/s (offered {rate:.0f}), "
                  f"server CPU {cpu:.2f} cores, lag p50 {median(lags):.0f} / p99 "
                  f"{percentile(lags, 99):.0f} ms over {run.probes} probes, missed "
                  f"{run.missed}, pushes {run.pushes}, polls {run.polls}, streams "
                  f"{run.streams_open}/{n}", flush=True)
            results.setdefault(n, []).append((run, cpu, ok / duration, lags))
    finally:
        server.stop()
    for n, runs in sorted(results.items()):
        lags = [x for r in runs for x in r[3]]
        rows.append(Row(f"{n} wall(s): lag p50 / p99 (all probes, 2 runs)",
                        f"{median(lags):.0f} / {percentile(lags, 99):.0f} ms", "", "",
                        "p99 ≤ 1 s", verdict(percentile(lags, 99) / 1000, TARGET_LAG_S)))
        rows.append(Row(f"{n} wall(s): server CPU, achieved load",
                        ", ".join(f"{r[1]:.2f} cores at {r[2]:.0f}/s" for r in runs)))
    one = median([r[1] for r in results[1]])
    many = median([r[1] for r in results[walls]])
    rows.append(Row(f"CPU with {walls} walls ÷ CPU with 1", f"{many / one:.2f}×", "", "",
                    "≤ 1.10×", verdict(many / one, TARGET_CPU_RATIO)))
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench wall", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["reports", "walls", "both"], default="both")
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--walls", type=int, default=20)
    p.add_argument("--rate", type=float, default=300.0)
    args = p.parse_args(argv)
    print_machine()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="csq-bench-wall-") as tmp:
        workdir = Path(tmp)
        if args.part in ("reports", "both"):
            tpl = reports_data.templates()
            if args.db in ("sqlite", "both"):
                db = f"sqlite+aiosqlite:///{workdir / 'reports.db'}"
                rows += reports_part("SQLite", db, workdir, args.items, args.events, tpl)
            if args.db in ("postgres", "both"):
                rows += _postgres(workdir, args.items, args.events, tpl)
        if args.part in ("walls", "both"):
            rows += walls_part(workdir, args.walls, args.duration, args.rate)
    print()
    print(table("Wall and reports (issue 6)", rows))
    return 0


def _postgres(workdir: Path, items: int, events: int,
              tpl: reports_data.Templates) -> list[Row]:
    try:
        from tests.support import postgres
    except ImportError as exc:
        print(f"  PostgreSQL skipped: {exc}")
        return []
    cluster, why = postgres.start()
    if cluster is None:
        print(f"  PostgreSQL skipped: {why}")
        return []
    try:
        return reports_part("PostgreSQL", cluster.new_database(), workdir, items, events, tpl)
    finally:
        cluster.stop()
