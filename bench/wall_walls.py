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
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class WallRun:
    lags: list[float] = field(default_factory=list)  # seconds, one per (probe, wall)
    missed: int = 0  # probes a wall never showed before the phase ended
    pushes: int = 0
    polls: int = 0
    probes: int = 0
    streams_open: int = 0


async def _wall(url: str, token: str, seen: list[tuple[float, int]], run: WallRun,
                probe: str, stop: asyncio.Event) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=None) as client:
        last_metrics = time.monotonic()

        def take(figures: dict[str, Any]) -> None:
            nonlocal last_metrics
            last_metrics = time.monotonic()
            load = next((a["open_items"] for a in figures.get("agents", [])
                         if a["username"] == probe), 0)
            seen.append((last_metrics, int(load)))

        async def poll() -> None:  # the engine's gap filler
            while not stop.is_set():
                await asyncio.sleep(1.0)
                if time.monotonic() - last_metrics > 5.0:
                    r = await client.get("/v1/metrics/live")
                    run.polls += 1
                    if r.status_code == 200:
                        take(r.json())

        poller = asyncio.create_task(poll())
        try:
            async with client.stream("GET", "/v1/events") as response:
                run.streams_open += response.status_code == 200
                event = ""
                async for line in response.aiter_lines():
                    if stop.is_set():
                        break
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "metrics":
                        run.pushes += 1
                        take(json.loads(line[6:]))
                    elif not line:
                        event = ""
        finally:
            poller.cancel()


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
