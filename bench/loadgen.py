"""The load generator, run as its own process so that it is measured apart
from the server it loads (on a 2-core machine they still share the CPU).

    python -m bench.loadgen http CONFIG.json     -> JSON results on stdout
    python -m bench.loadgen streams CONFIG.json  -> "READY" line, then JSON
                                                    results once stdin closes

`http`: N clients, each with its own httpx.AsyncClient (one connection) and
token, either closed-loop (next request as soon as the last answered) or paced
(open-loop at a fixed rate per client; latency is also reported from the
scheduled send time, so a stalled server cannot hide its backlog).

`streams`: M Server-Sent-Event streams on raw asyncio sockets (as little
client work as possible between the bytes arriving and the clock being read),
recording for each `id:` line the moment its bytes were received.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import ssl
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

# -- HTTP load --------------------------------------------------------------------------


@dataclass
class ClientPlan:
    url: str
    token: str
    items: list[dict[str, Any]]  # id, version, status, claimed: as seeded


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # from the actual send
    scheduled: list[float] = field(default_factory=list)  # from the planned send (paced)
    statuses: Counter[str] = field(default_factory=Counter)
    verbs: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


class ItemState:
    """What one client knows of one item: its version and whether it holds it."""

    def __init__(self, seeded: dict[str, Any]) -> None:
        self.id = int(seeded["id"])
        self.version = int(seeded.get("version", 1))
        self.claimed = bool(seeded.get("claimed", False))
        self.status = str(seeded.get("status", "new"))


def _next_action(state: ItemState, rng: random.Random) -> tuple[dict[str, Any], bool]:
    """(body, needs If-Match): claim first, then 50% note, 10% reply, 40% transition."""
    if not state.claimed:
        return {"action": "claim"}, True
    pick = rng.random()
    if pick < 0.5:
        note = f"客户来电催促,已再次联系处理部门 {rng.randint(1, 9999)}"
        return {"action": "note", "body": note}, False
    if pick < 0.6:
        return {"action": "reply", "body": "您好,抢修人员已出发,预计两小时内到达。"}, False
    to = "pending_customer" if state.status == "open" else "open"
    return {"action": "transition", "to": to, "reason": "benchmark"}, True


async def _one_client(client: httpx.AsyncClient, items: list[dict[str, Any]], mode: str,
                      rate: float,
                      window: tuple[float, float], tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    t_start, t_end = window
    states = [ItemState(i) for i in items] or [ItemState({"id": 1})]
    begin = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0
    planned = begin + rng.random() * interval  # spread the clients' phases
    turn = 0
    while True:
        if interval:
            delay = planned - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        sent = time.monotonic()
        if sent >= t_end:
            return
        state = states[turn % len(states)]
        turn += 1
        verb = "get"
        try:
            if mode == "healthz":
                r = await client.get("/healthz")
            elif mode == "read":
                r = await client.get(f"/v1/items/{state.id}")
            else:
                body, match = _next_action(state, rng)
                verb = str(body["action"])
                h = {"Idempotency-Key": str(uuid.uuid4())}
                if match:
                    h["If-Match"] = f'"{state.version}"'
                r = await client.post(f"/v1/items/{state.id}/actions", json=body, headers=h)
                _learn(state, r, verb)
            status = str(r.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
            if len(tally.errors) < 20:
                tally.errors.append(f"{status}: {exc}")
        done = time.monotonic()
        if sent >= t_start:
            tally.latencies.append(done - sent)
            if interval:
                tally.scheduled.append(done - planned)
            tally.statuses[status] += 1
            tally.verbs[verb] += 1
        if interval:
            planned += interval


def _learn(state: ItemState, r: httpx.Response, verb: str) -> None:
    if r.status_code == 200:
        item = r.json()["item"]
        state.version = int(item["version"])
        state.status = str(item["status"])
        if verb == "claim":
            state.claimed = True
    elif r.status_code == 412:
        current = r.json().get("current") or {}
        state.version = int(current.get("version", state.version))
        state.status = str(current.get("status", state.status))
    elif r.status_code in (409, 422) and verb == "claim":
        state.claimed = True  # already ours: move on


async def run_http(config: dict[str, Any]) -> dict[str, Any]:
    plans = [ClientPlan(**c) for c in config["clients"]]
    rate = float(config.get("rate_per_client", 0.0))
    warmup, duration = float(config["warmup"]), float(config["duration"])
    # Plain HTTP on loopback: one shared TLS context instead of one CA load per client.
    tls = ssl.create_default_context()
    clients = [httpx.AsyncClient(base_url=p.url, timeout=30.0, verify=tls,
                                 limits=httpx.Limits(max_connections=1),
                                 headers={"Authorization": f"Bearer {p.token}",
                                          "User-Agent": "csq-bench"}) for p in plans]
    tally = Tally()
    cpu0 = os.times()
    now = time.monotonic()
    window = (now + warmup, now + warmup + duration)
    try:
        pairs = enumerate(zip(clients, plans, strict=True))
        await asyncio.gather(*(_one_client(c, p.items, config["mode"], rate, window, tally,
                                           seed=i) for i, (c, p) in pairs))
    finally:
        for c in clients:
            await c.aclose()
    cpu1 = os.times()
    return {
        "mode": config["mode"], "clients": len(plans), "rate_per_client": rate,
        "duration": duration, "latencies": tally.latencies, "scheduled": tally.scheduled,
        "statuses": dict(tally.statuses), "verbs": dict(tally.verbs), "errors": tally.errors,
        "cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "wall_s": time.monotonic() - now,
    }


# -- SSE streams ------------------------------------------------------------------------

_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")


class StreamProtocol(asyncio.Protocol):
    """One SSE stream: stamps every `id:` line with the time its bytes arrived."""

    def __init__(self, index: int, request: bytes, ready: asyncio.Event,
                 arrivals: list[tuple[int, int, float]]) -> None:
        self.index = index
        self.request = request
        self.ready = ready
        self.arrivals = arrivals
        self.buf = b""
        self.status = 0
        self.hello = False
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if line.startswith(b"id: "):
                self.arrivals.append((self.index, int(line[4:].strip()), now))
            elif not self.status:
                m = _STATUS.match(line)
                if m:
                    self.status = int(m.group(1))
            elif line.startswith(b": hello") and not self.hello:
                self.hello = True
                self.ready.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


def _factory(proto: StreamProtocol) -> Callable[[], StreamProtocol]:
    return lambda: proto


async def run_streams(config: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[int, int, float]] = []
    protocols: list[StreamProtocol] = []
    transports: list[asyncio.BaseTransport] = []
    for index, spec in enumerate(config["streams"]):
        parts = urlsplit(spec["url"])
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        request = (f"GET /v1/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Authorization: Bearer {spec['token']}\r\nAccept: text/event-stream\r\n"
                   "User-Agent: csq-bench\r\n\r\n").encode()
        ready = asyncio.Event()
        proto = StreamProtocol(index, request, ready, arrivals)
        transport, _ = await loop.create_connection(_factory(proto), host, port)
        protocols.append(proto)
        transports.append(transport)
    deadline = time.monotonic() + 60
    while not all(p.hello for p in protocols) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    opened = sum(p.hello for p in protocols)
    print(f"READY {opened}", flush=True)
    await asyncio.to_thread(sys.stdin.read)  # the orchestrator closes stdin to stop us
    for t in transports:
        t.close()
    return {"streams": len(protocols), "opened": opened,
            "statuses": dict(Counter(str(p.status) for p in protocols)),
            "replica": [spec.get("replica", 0) for spec in config["streams"]],
            "arrivals": arrivals}


def main(argv: list[str]) -> int:
    mode, path = argv[0], argv[1]
    with open(path) as fh:
        config = json.load(fh)
    if mode == "http":
        result = asyncio.run(run_http(config))
    elif mode == "streams":
        result = asyncio.run(run_streams(config))
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
