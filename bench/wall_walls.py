"""The walls half of `python -m bench wall`: N supervisors' walls on a real
`csq serve`, a probe that changes a figure they show, and the lag until each
wall has it.

A wall is what the app's wall holds: the SSE stream (GET /v1/events) as a
supervisor, taking `event: metrics` pushes, plus GET /v1/metrics/live when no
push came for 5 s (csq/sync/engine.py). The probe (an agent of its own)
creates a ticket and claims it, every `probe_every` s: its open load on the
wall then reads k after the k-th claim. Lag = the first `metrics` event on a
wall whose agents list shows the probe at >= k, minus the moment the claim's
response arrived (both time.monotonic()).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.loadgen import _STATUS


@dataclass
class WallRun:
    lags: list[float] = field(default_factory=list)  # seconds, one per (probe, wall)
    missed: int = 0  # probes a wall never showed before the phase ended
    pushes: int = 0
    polls: int = 0
    probes: int = 0
    streams_open: int = 0


METRICS = b"event: metrics\n"


class _WallStream(asyncio.Protocol):
    """A wall's SSE stream read as bytes, parsing only its `event: metrics` frames.

    Every wall also receives every change batch (full items, ~300 a second at the
    target load). A real wall pays for them on its own machine; twenty of them
    split into lines by httpx in this one process took most of a core of the two
    the server is measured on, so the server lost the load and the walls fell
    behind their own streams (4 Dec 2026: lag p99 8.9 s at 20 walls). Searching
    the bytes for the metrics marker costs next to nothing.
    """

    def __init__(self, request: bytes, take: Callable[[dict[str, Any]], None]) -> None:
        self.request = request
        self.take = take
        self.buf = b""
        self.status = 0
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        if not self.status and (m := _STATUS.match(buf)):
            self.status = int(m.group(1))
        while (at := buf.find(METRICS)) >= 0:
            end = buf.find(b"\n", at + len(METRICS))  # the end of its data line
            if end < 0:
                buf = buf[at:]  # the rest of that frame is still on its way
                break
            line = buf[at + len(METRICS):end]
            if line.startswith(b"data: "):
                self.take(json.loads(line[6:]))
            buf = buf[end + 1:]
        else:  # no marker: keep only what could be the start of one
            buf = buf[-len(METRICS):]
        self.buf = buf

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


async def _wall(url: str, token: str, seen: list[tuple[float, int]], run: WallRun,
                probe: str, stop: asyncio.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=None) as client:
        last_metrics = time.monotonic()

        def take(figures: dict[str, Any]) -> None:
            nonlocal last_metrics
            last_metrics = time.monotonic()
            load = next((a["open_items"] for a in figures.get("agents", [])
                         if a["username"] == probe), 0)
            seen.append((last_metrics, int(load)))

        def pushed(figures: dict[str, Any]) -> None:
            run.pushes += 1
            take(figures)

        async def poll() -> None:  # the engine's gap filler
            while not stop.is_set():
                await asyncio.sleep(1.0)
                if time.monotonic() - last_metrics > 5.0:
                    r = await client.get("/v1/metrics/live")
                    run.polls += 1
                    if r.status_code == 200:
                        take(r.json())

        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        request = (f"GET /v1/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n"
                   "User-Agent: csq-bench-wall\r\n\r\n").encode()
        stream = _WallStream(request, pushed)
        transport, _ = await asyncio.get_running_loop().create_connection(
            lambda: stream, host, port)
        poller = asyncio.create_task(poll())
        try:
            await asyncio.sleep(1.0)
            run.streams_open += stream.status == 200
            stop_waiting = asyncio.create_task(stop.wait())
            await asyncio.wait([stream.closed, stop_waiting],
                               return_when=asyncio.FIRST_COMPLETED)
            stop_waiting.cancel()
        finally:
            poller.cancel()
            transport.close()


async def _probe(url: str, token: str, customer: int, every: float, duration: float,
                 marks: list[tuple[float, int]]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as c:
        end = time.monotonic() + duration
        k = 0
        while time.monotonic() < end:
            r = await c.post("/v1/items", headers={"Idempotency-Key": str(uuid.uuid4())},
                             json={"kind": "ticket", "category": "repair", "channel": "phone",
                                   "subject": f"wall probe {k}", "customer_id": customer})
            item = r.json()
            r = await c.post(f"/v1/items/{item['id']}/actions", json={"action": "claim"},
                             headers={"Idempotency-Key": str(uuid.uuid4()),
                                      "If-Match": f'"{item["version"]}"'})
            if r.status_code == 200:
                k += 1
                marks.append((time.monotonic(), k))
            await asyncio.sleep(every)


async def run_walls(url: str, supervisor: str, probe: str, probe_token: str, customer: int,
                    walls: int, duration: float, probe_every: float = 0.5) -> WallRun:
    run = WallRun()
    stop = asyncio.Event()
    seen: list[list[tuple[float, int]]] = [[] for _ in range(walls)]
    tasks = [asyncio.create_task(_wall(url, supervisor, seen[n], run, probe, stop))
             for n in range(walls)]
    await asyncio.sleep(2.0)  # streams open and take the first push
    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 headers={"Authorization": f"Bearer {supervisor}"}) as c:
        figures = (await c.get("/v1/metrics/live")).json()
    base = next((int(a["open_items"]) for a in figures["agents"] if a["username"] == probe), 0)
    marks: list[tuple[float, int]] = []
    await _probe(url, probe_token, customer, probe_every, duration, marks)
    marks = [(at, base + k) for at, k in marks]  # the probe's load left by earlier phases
    await asyncio.sleep(3.0)  # let the last probes arrive
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    run.probes = len(marks)
    for at, k in marks:
        for wall_seen in seen:
            arrival = next((t for t, load in wall_seen if load >= k and t >= at - 5), None)
            if arrival is None:
                run.missed += 1
            else:
                run.lags.append(max(0.0, arrival - at))
    return run
