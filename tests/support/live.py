"""A real csq server inside the test's event loop: uvicorn on a loopback port,
so the app under test talks real HTTP and a real SSE stream to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from csq.server.app import create_app
from csq.server.config import ServerSettings
from csq.server.run import bind
from tests.support.api import Api, Clock, make_users


@dataclass
class LiveServer:
    url: str
    api: Api  # in-process client to the same app, for setting up and checking


@asynccontextmanager
async def live_server(db: str, **settings: object) -> AsyncIterator[LiveServer]:
    tokens = await make_users(db)
    clock = Clock()
    app = create_app(ServerSettings(db=db, heartbeat_s=1.0, **settings), clock=clock)  # type: ignore[arg-type]
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    api = Api(app, db, tokens, clock)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", api)
    finally:
        for client in api.clients.values():
            await client.aclose()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
