"""Issue 3's benchmark: real `csq serve` processes under load, over loopback.

    python -m bench server [--db sqlite|postgres|both] [--duration 15] [--streams 200]

For each database: (a) actions/s and p50/p99 latency with 50 concurrent
clients (note / reply / claim / transition, every POST with an
Idempotency-Key, state changes with If-Match), closed-loop (as fast as the
server answers) and paced at the 300/s target; (b) the delay from a write to
its arrival on 200 open SSE streams. PostgreSQL runs two replicas on one
database, clients and streams split across both. Baselines measured in the
same run: GET /healthz and GET /v1/items/{id} with the same 50 clients (the
ceiling of this HTTP stack and load generator on this machine), and one SSE
stream instead of 200.

The load generator runs as a separate process (bench/loadgen.py). On a
2-core machine it still competes with the server(s) for the CPU: the report
shows the CPU each side used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ROOT,
    Row,
    median,
    percentile,
    print_machine,
    python,
    python_env,
    table,
    verdict,
    wait_for_quiet,
)

TARGET_RATE = 300.0
TARGET_P99_MS = 100.0
TARGET_FANOUT_P99_MS = 200.0
LISTENING = re.compile(r"csq serve: listening on (http://\S+)")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- processes --------------------------------------------------------------------------


@dataclass
class ServerProc:
    proc: subprocess.Popen[bytes]
    url: str

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return float(sum(parts) - idle), float(sum(parts))


def start_server(db: str, workdir: Path, name: str, whatif: str = "") -> ServerProc:
    """`csq serve --port 0 --db DB`, or the same under a bench.whatif patch."""
    out, err = workdir / f"{name}.out", workdir / f"{name}.err"
    entry = ["-m", "bench.whatif", whatif] if whatif else ["-m", "csq"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([python(), *entry, "serve", "--port", "0", "--db", db],
                                env=python_env(), cwd=ROOT, stdout=stdout, stderr=stderr,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = LISTENING.search(out.read_text(errors="replace"))
        if found:
            return ServerProc(proc, found.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"csq serve did not start: {err.read_text(errors='replace')[-2000:]}")


def create_users(db: str, names: list[str]) -> dict[str, str]:
    """Tokens for `names`: the first through `csq admin create-user` itself, the
    rest through the same function in-process (one CLI start per user is slow)."""
    tokens: dict[str, str] = {}
    first = subprocess.run([python(), "-m", "csq", "admin", "create-user", names[0],
                            "--role", "agent", "--db", db], env=python_env(), cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    if first.returncode:
        raise RuntimeError(f"csq admin create-user failed: {first.stderr}")
    tokens[names[0]] = first.stdout.strip()

    async def rest() -> None:
        from csq.domain.roles import Role
        from csq.server import admin
        from csq.server.db import make_engine

        engine = make_engine(db)
        try:
            for name in names[1:]:
                tokens[name] = await admin.create_user(engine, name, Role.AGENT)
        finally:
            await engine.dispose()

    asyncio.run(rest())
    return tokens


def run_loadgen(config: dict[str, Any], workdir: Path) -> dict[str, Any]:
    path = workdir / f"loadgen-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([python(), "-m", "bench.loadgen", "http", str(path)],
                          env=python_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=float(config["duration"]) + float(config["warmup"]) + 120)
    if done.returncode:
        raise RuntimeError(f"load generator failed: {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- seeding ----------------------------------------------------------------------------


async def _seed_one(url: str, token: str, count: int, unclaimed: int) -> list[dict[str, Any]]:
    """One customer and `count` tickets, all but `unclaimed` of them claimed."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as c:
        r = await c.post("/v1/customers", headers={"Idempotency-Key": str(uuid.uuid4())},
                         json={"name": "张伟", "phone": "13812345678",
                               "email": "zhang.wei@example.com"})
        r.raise_for_status()
        customer = r.json()["id"]
        out = []
        for n in range(count):
            r = await c.post("/v1/items", headers={"Idempotency-Key": str(uuid.uuid4())},
                             json={"kind": "ticket", "category": "repair", "channel": "phone",
                                   "subject": f"停电了,整栋楼没电 power cut #{n}",
                                   "body": "您好,我家从早上八点开始停电,请尽快派人检修。",
                                   "customer_id": customer})
            r.raise_for_status()
            item = r.json()
            if n >= unclaimed:
                r = await c.post(f"/v1/items/{item['id']}/actions", json={"action": "claim"},
                                 headers={"Idempotency-Key": str(uuid.uuid4()),
                                          "If-Match": f'"{item["version"]}"'})
                r.raise_for_status()
                item = r.json()["item"]
            out.append({"id": int(item["id"]), "version": int(item["version"]),
                        "status": str(item["status"]), "claimed": item["owner"] is not None})
        return out


def seed(urls: list[str], tokens: list[str], per_client: int,
         unclaimed: int = 2) -> list[list[dict[str, Any]]]:
    """Fresh tickets for each client, created (and mostly claimed) through the API,
    untimed, so that the timed mix is mostly notes, replies and transitions."""

    async def go() -> list[list[dict[str, Any]]]:
        return list(await asyncio.gather(*(
            _seed_one(urls[i % len(urls)], t, per_client, unclaimed)
            for i, t in enumerate(tokens))))

    return asyncio.run(go())


# -- phases -----------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    mode: str
    clients: int
    rate: float  # per second for all clients; 0: closed loop
    duration: float
    count: int = 0
    per_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    sched_p99_ms: float = float("nan")
    max_ms: float = float("nan")
    statuses: dict[str, int] = field(default_factory=dict)
    verbs: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    server_cpu: float = 0.0  # cores used by the csq serve process(es), 1.0 = one core
    loadgen_cpu: float = 0.0
    machine_busy: float = 0.0  # fraction of all cores busy (everything on the machine)
    before: str = ""  # CPU pressure from other processes when the phase began


def http_phase(phase: Phase, servers: list[ServerProc], tokens: list[str],
               items: list[list[dict[str, Any]]], workdir: Path, warmup: float = 2.0) -> Phase:
    clients = [{"url": servers[i % len(servers)].url, "token": tokens[i % len(tokens)],
                "items": items[i % len(items)] if items else []}
               for i in range(phase.clients)]
    config = {"mode": phase.mode, "clients": clients, "warmup": warmup,
              "duration": phase.duration, "rate_per_client": phase.rate / phase.clients}
    phase.before = wait_for_quiet(max_wait=60)
    cpu0 = sum(s.cpu_s() for s in servers)
    busy0 = machine_busy()
    t0 = time.monotonic()
    out = run_loadgen(config, workdir)
    wall = time.monotonic() - t0
    cpu1 = sum(s.cpu_s() for s in servers)
    busy1 = machine_busy()
    lat = [x * 1000 for x in out["latencies"]]
    ok = sum(n for s, n in out["statuses"].items() if s in ("200", "201", "412"))
    phase.count = len(lat)
    phase.per_s = ok / phase.duration
    phase.p50_ms, phase.p99_ms = median(lat), percentile(lat, 99)
    phase.max_ms = max(lat) if lat else float("nan")
    if out["scheduled"]:
        phase.sched_p99_ms = percentile([x * 1000 for x in out["scheduled"]], 99)
    phase.statuses, phase.verbs, phase.errors = out["statuses"], out["verbs"], out["errors"]
    phase.server_cpu = (cpu1 - cpu0) / wall
    phase.loadgen_cpu = float(out["cpu_s"]) / float(out.get("wall_s") or wall)
    phase.machine_busy = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1)
    print(f"  {phase.name}: {phase.per_s:.0f}/s, p50 {phase.p50_ms:.1f} ms, "
          f"p99 {phase.p99_ms:.1f} ms, statuses {phase.statuses}, server CPU "
          f"{phase.server_cpu:.2f} cores, load generator {phase.loadgen_cpu:.2f}, machine "
          f"{phase.machine_busy * 100:.0f}% busy; before: {phase.before}", flush=True)
    if phase.errors:
        print(f"    errors: {phase.errors[:3]}", flush=True)
    return phase


@dataclass
class Fanout:
    name: str
    streams: int
    writes: int
    opened: int = 0
    delays_ms: list[float] = field(default_factory=list)  # every (write, stream) pair
    all_ms: list[float] = field(default_factory=list)  # per write: until the last stream had it
    local_ms: list[float] = field(default_factory=list)  # stream on the replica written to
    remote_ms: list[float] = field(default_factory=list)  # stream on the other replica
    ack_ms: list[float] = field(default_factory=list)  # the write's own response time
    missing: int = 0
    server_cpu: float = 0.0
    before: str = ""


@contextmanager
def streams_process(specs: list[dict[str, Any]], workdir: Path) -> Iterator[
        tuple[subprocess.Popen[str], int]]:
    path = workdir / f"streams-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps({"streams": specs}))
    proc = subprocess.Popen([python(), "-m", "bench.loadgen", "streams", str(path)],
                            env=python_env(), cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            why = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"stream receiver failed: {line} {why[-3000:]}")
        yield proc, int(line.split()[1])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _writes(servers: list[ServerProc], token: str, item: int, count: int,
                  interval: float) -> list[tuple[float, int, int, float]]:
    """Append-only notes, one at a time: (sent at, seq, replica, ack seconds)."""
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.AsyncClient(base_url=s.url, headers=headers, timeout=30) for s in servers]
    out = []
    try:
        for n in range(count):
            replica = n % len(clients)
            await asyncio.sleep(interval)
            sent = time.monotonic()
            r = await clients[replica].post(
                f"/v1/items/{item}/actions", json={"action": "note", "body": f"fan-out #{n}"},
                headers={"Idempotency-Key": str(uuid.uuid4())})
            r.raise_for_status()
            out.append((sent, int(r.json()["seq"]), replica, time.monotonic() - sent))
    finally:
        for c in clients:
            await c.aclose()
    return out


def fanout_phase(result: Fanout, servers: list[ServerProc], tokens: list[str], writer: str,
                 item: int, workdir: Path, interval: float = 0.2) -> Fanout:
    specs = [{"url": servers[i % len(servers)].url, "token": tokens[i % len(tokens)],
              "replica": i % len(servers)} for i in range(result.streams)]
    result.before = wait_for_quiet(max_wait=60)
    with streams_process(specs, workdir) as (proc, opened):
        result.opened = opened
        time.sleep(1.0)
        cpu0 = sum(s.cpu_s() for s in servers)
        t0 = time.monotonic()
        writes = asyncio.run(_writes(servers, writer, item, result.writes, interval))
        time.sleep(1.5)
        result.server_cpu = (sum(s.cpu_s() for s in servers) - cpu0) / (time.monotonic() - t0)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        out = json.loads(proc.stdout.read().strip().splitlines()[-1])
    per_stream: dict[int, list[tuple[int, float]]] = {}
    for index, seq, at in out["arrivals"]:
        per_stream.setdefault(index, []).append((seq, at))
    replica_of = out["replica"]
    for sent, seq, replica, ack in writes:
        result.ack_ms.append(ack * 1000)
        worst = 0.0
        for index in range(result.streams):
            got = sorted(per_stream.get(index, []))
            pos = bisect_left(got, (seq, -1.0))
            if pos == len(got):
                result.missing += 1
                continue
            delay = (got[pos][1] - sent) * 1000
            result.delays_ms.append(delay)
            (result.local_ms if replica_of[index] == replica else result.remote_ms).append(delay)
            worst = max(worst, delay)
        result.all_ms.append(worst)
    print(f"  {result.name}: {result.opened}/{result.streams} streams, {len(writes)} writes, "
          f"p50 {median(result.delays_ms):.1f} ms, p99 {percentile(result.delays_ms, 99):.1f} ms"
          f", missing {result.missing}, server CPU {result.server_cpu:.2f}; "
          f"before: {result.before}", flush=True)
    return result


# -- one database -----------------------------------------------------------------------


@dataclass
class DbRun:
    db: str
    replicas: int
    phases: dict[str, Phase] = field(default_factory=dict)
    fanouts: dict[str, Fanout] = field(default_factory=dict)
    note: str = ""


def bench_db(kind: str, db: str, replicas: int, workdir: Path, duration: float,
             clients: int, streams: int, writes: int, whatif: str = "") -> DbRun:
    run = DbRun(kind, replicas, note=f"what-if: {whatif}" if whatif else "")
    names = ["bench-writer"] + [f"agent{i:02d}" for i in range(clients)]
    print(f"{kind}: creating {len(names)} users ...", flush=True)
    tokens = create_users(db, names)
    servers = [start_server(db, workdir, f"{kind}-{i}", whatif) for i in range(replicas)]
    try:
        print(f"{kind}: {replicas} × csq serve at {', '.join(s.url for s in servers)}",
              flush=True)
        urls = [s.url for s in servers]
        agent_tokens = [tokens[n] for n in names[1:]]
        reads = seed(urls, agent_tokens[:1], 20)
        base = min(8.0, duration)
        run.phases["healthz"] = http_phase(
            Phase("GET /healthz, closed loop", "healthz", clients, 0, base),
            servers, agent_tokens, [], workdir)
        run.phases["read"] = http_phase(
            Phase("GET /v1/items/{id}, closed loop", "read", clients, 0, base),
            servers, agent_tokens, reads * clients, workdir)
        items = seed(urls, agent_tokens, 10)
        run.phases["max"] = http_phase(
            Phase("actions, closed loop", "actions", clients, 0, duration),
            servers, agent_tokens, items, workdir)
        items = seed(urls, agent_tokens, 10)
        run.phases["paced"] = http_phase(
            Phase(f"actions, paced at {TARGET_RATE:.0f}/s", "actions", clients, TARGET_RATE,
                  duration), servers, agent_tokens, items, workdir)
        writer_item = int(seed(urls[:1], [tokens["bench-writer"]], 1)[0][0]["id"])
        run.fanouts["one"] = fanout_phase(Fanout("SSE, 1 stream", 1, max(20, writes // 2)),
                                          servers, agent_tokens, tokens["bench-writer"],
                                          writer_item, workdir)
        run.fanouts["many"] = fanout_phase(Fanout(f"SSE, {streams} streams", streams, writes),
                                           servers, agent_tokens, tokens["bench-writer"],
                                           writer_item, workdir)
    finally:
        for s in servers:
            s.stop()
    return run


def sqlite_run(workdir: Path, **kw: Any) -> DbRun:
    db = f"sqlite+aiosqlite:///{workdir / 'csq.db'}"
    return bench_db("sqlite", db, 1, workdir, **kw)


def postgres_run(workdir: Path, **kw: Any) -> DbRun | str:
    try:
        from tests.support import postgres
    except ImportError as exc:
        return f"tests/support/postgres.py not importable: {exc}"
    cluster, why = postgres.start()
    if cluster is None:
        return why
    try:
        return bench_db("postgres", cluster.new_database(), 2, workdir, **kw)
    finally:
        cluster.stop()


# -- report -----------------------------------------------------------------------------


def _x(ours: float, base: float) -> str:
    if not base or base != base or ours != ours:
        return ""
    r = ours / base
    return f"{r:.2f}×"


def _cpu_ms(phase: Phase) -> float:
    """CPU the csq serve process(es) spent per answered request, in ms: a figure
    that other load on the machine disturbs far less than latency or rate."""
    return phase.server_cpu * 1000 / phase.per_s if phase.per_s else float("nan")


def report(run: DbRun, sqlite: DbRun | None = None) -> str:
    p, f = run.phases, run.fanouts
    h, rd, mx, pc = p["healthz"], p["read"], p["max"], p["paced"]
    one, many = f["one"], f["many"]
    rows = [
        Row(f"baseline: {h.name}", f"{h.per_s:,.0f} req/s", "", "", "", ""),
        Row(f"baseline: {rd.name}", f"{rd.per_s:,.0f} req/s", "", "", "", ""),
        Row(f"{mx.name}: throughput", f"{mx.per_s:,.0f} actions/s",
            f"{h.per_s:,.0f} healthz/s", _x(mx.per_s, h.per_s), f"≥ {TARGET_RATE:.0f}/s",
            verdict(mx.per_s, TARGET_RATE, lower_is_better=False)),
        Row(f"{mx.name}: p50 / p99", f"{mx.p50_ms:.0f} / {mx.p99_ms:.0f} ms",
            f"{h.p50_ms:.0f} / {h.p99_ms:.0f} ms", "", f"p99 < {TARGET_P99_MS:.0f} ms",
            verdict(mx.p99_ms, TARGET_P99_MS)),
        Row(f"{pc.name}: achieved", f"{pc.per_s:,.0f} actions/s", "", "",
            f"≥ {TARGET_RATE:.0f}/s", verdict(pc.per_s, TARGET_RATE * 0.98,
                                               lower_is_better=False)),
        Row(f"{pc.name}: p50 / p99", f"{pc.p50_ms:.0f} / {pc.p99_ms:.0f} ms", "", "",
            f"p99 < {TARGET_P99_MS:.0f} ms", verdict(pc.p99_ms, TARGET_P99_MS)),
        Row(f"{pc.name}: p99 from planned send", f"{pc.sched_p99_ms:.0f} ms", "", "",
            f"p99 < {TARGET_P99_MS:.0f} ms", verdict(pc.sched_p99_ms, TARGET_P99_MS)),
        Row(f"{many.name}: write → arrival p50 / p99",
            f"{median(many.delays_ms):.0f} / {percentile(many.delays_ms, 99):.0f} ms",
            f"{median(one.delays_ms):.0f} / {percentile(one.delays_ms, 99):.0f} ms (1 stream)",
            _x(percentile(many.delays_ms, 99), percentile(one.delays_ms, 99)),
            f"p99 < {TARGET_FANOUT_P99_MS:.0f} ms",
            verdict(percentile(many.delays_ms, 99), TARGET_FANOUT_P99_MS)),
        Row(f"{many.name}: until the last stream has it, p50 / p99",
            f"{median(many.all_ms):.0f} / {percentile(many.all_ms, 99):.0f} ms", "", "", "", ""),
        Row(f"{many.name}: the write's own response p50",
            f"{median(many.ack_ms):.0f} ms", "", "", "", ""),
        Row(f"{many.name}: streams open, deliveries missing",
            f"{many.opened}/{many.streams}, {many.missing} missing", "", "", "", ""),
    ]
    rows.append(Row("server CPU per request: healthz / item read / action",
                    f"{_cpu_ms(h):.1f} / {_cpu_ms(rd):.1f} / {_cpu_ms(mx):.1f} ms", "", "",
                    "(300/s on 1 core = 3.3 ms)", ""))
    if run.replicas > 1:
        rows.append(Row(f"{many.name}: same replica / other replica p99",
                        f"{percentile(many.local_ms, 99):.0f} / "
                        f"{percentile(many.remote_ms, 99):.0f} ms", "", "", "", ""))
    if sqlite is not None:
        s = sqlite.phases
        rows.append(Row("vs SQLite: closed-loop actions/s", f"{mx.per_s:,.0f}",
                        f"{s['max'].per_s:,.0f} (SQLite)", _x(mx.per_s, s["max"].per_s), "", ""))
    cpu = " · ".join(f"{ph.name}: server {ph.server_cpu:.2f}, loadgen {ph.loadgen_cpu:.2f}, "
                     f"machine {ph.machine_busy * 100:.0f}% busy" for ph in (h, mx, pc))
    title = (f"server on {run.db} ({run.replicas} × csq serve), {mx.clients} clients; "
             "ratio = csq ÷ baseline" + (f" [{run.note}]" if run.note else ""))
    return table(title, rows) + f"\nCPU (cores): {cpu}\n" + (
        f"status codes, closed loop: {mx.statuses}; verbs: {mx.verbs}\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench server")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=float, default=15.0,
                        help="seconds of load per action phase (default 15)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--writes", type=int, default=60, help="writes timed for fan-out")
    parser.add_argument("--whatif", choices=["write-lock"], default="",
                        help="run csq serve under a bench/whatif.py patch (an experiment)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    print_machine()
    kw = {"duration": args.duration, "clients": args.clients, "streams": args.streams,
          "writes": args.writes, "whatif": args.whatif}
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="csq-bench-server-") as tmp:
        work = Path(tmp)
        if args.db in ("sqlite", "both"):
            (work / "sqlite").mkdir()
            runs["sqlite"] = sqlite_run(work / "sqlite", **kw)
        if args.db in ("postgres", "both"):
            (work / "postgres").mkdir()
            pg = postgres_run(work / "postgres", **kw)
            if isinstance(pg, str):
                print(f"\n!!! PostgreSQL benchmark SKIPPED: {pg}\n", flush=True)
            runs["postgres"] = pg
    print()
    sqlite = runs.get("sqlite")
    for name, run in runs.items():
        if isinstance(run, DbRun):
            print(report(run, sqlite if name != "sqlite" else None), flush=True)
    if args.json:
        from dataclasses import asdict

        args.json.write_text(json.dumps(
            {k: asdict(v) if isinstance(v, DbRun) else v for k, v in runs.items()}, indent=1))
    return 0
