"""Talking to a real `csq serve` process over the network: an httpx client per
user and an SSE reader (httpx-sse) that timestamps every event as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse


class Client:
    """One user on one server."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=15,
                                      headers={"Authorization": f"Bearer {token}"})

    async def aclose(self) -> None:
        await self.http.aclose()

    async def post(self, path: str, body: Any, *, key: str | None = None,
                   version: int | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        return await self.http.post(path, json=body, headers=headers)

    async def customer(self) -> dict[str, Any]:
        r = await self.post("/v1/customers", {"name": "张伟", "phone": "13812345678",
                                               "email": "zhang.wei@example.com"})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def item(self, customer_id: int | None = None) -> dict[str, Any]:
        if customer_id is None:
            customer_id = (await self.customer())["id"]
        r = await self.post("/v1/items", {"customer_id": customer_id, "kind": "ticket",
                                          "category": "repair", "channel": "phone",
                                          "subject": "停电了 power cut"})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def act(self, item_id: int, action: str, *, key: str | None = None,
                  version: int | None = None, **payload: Any) -> httpx.Response:
        return await self.post(f"/v1/items/{item_id}/actions", {"action": action, **payload},
                               key=key, version=version)

    async def presence(self, item_id: int, state: str) -> httpx.Response:
        return await self.post("/v1/presence", {"item_id": item_id, "state": state})

    async def get_item(self, item_id: int) -> dict[str, Any]:
        r = await self.http.get(f"/v1/items/{item_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())


@dataclass
class Arrival:
    at: float  # time.monotonic() when the event was parsed
    sse: ServerSentEvent

    @property
    def data(self) -> Any:
        return json.loads(self.sse.data)


class Stream:
    """Events of one open GET /v1/events, read by a background task into a queue,
    so a test can wait with a timeout without tearing the stream down."""

    def __init__(self) -> None:
        self.arrivals: asyncio.Queue[Arrival | None] = asyncio.Queue()
        self.error: Exception | None = None  # why the stream broke, if it did

    async def next(self, kind: str = "change", timeout: float = 5.0) -> Arrival:
        """The next event of this kind (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                arrival = await self.arrivals.get()
                if arrival is None:
                    self.arrivals.put_nowait(None)  # stays ended for the next caller
                    raise AssertionError("the event stream ended")
                if arrival.sse.event == kind:
                    return arrival

    async def quiet(self, kind: str = "change", for_s: float = 0.5) -> None:
        """Assert that no event of this kind arrives for `for_s` seconds."""
        with contextlib.suppress(TimeoutError):
            arrival = await self.next(kind, timeout=for_s)
            raise AssertionError(f"unexpected {kind} event: id={arrival.sse.id} "
                                 f"{arrival.sse.data[:200]}")


@asynccontextmanager
async def event_stream(client: Client, last_event_id: str | None = None) -> AsyncIterator[Stream]:
    """Open the stream and wait for its opening block, so the server has subscribed
    (and fixed the cursor) before the caller writes anything."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    stream = Stream()
    async with aconnect_sse(client.http, "GET", "/v1/events", headers=headers,
                            timeout=httpx.Timeout(15, read=30)) as source:
        assert source.response.status_code == 200, await source.response.aread()

        async def pump() -> None:
            try:
                async for sse in source.aiter_sse():
                    stream.arrivals.put_nowait(Arrival(time.monotonic(), sse))
            except Exception as exc:
                stream.error = exc
            finally:
                stream.arrivals.put_nowait(None)

        task = asyncio.create_task(pump())
        try:
            opening = await stream.next("message", timeout=10)
            assert opening.sse.retry == 2000, opening.sse
            yield stream
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
