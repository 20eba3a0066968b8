"""A real csq server inside the test's event loop: uvicorn on a loopback port,
so the app under test talks real HTTP and a real SSE stream to it. It can be
stopped and started again on the same port and database, to test offline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from csq.server.app import create_app
from csq.server.config import ServerSettings
from csq.server.run import bind
from tests.support.api import Api, Clock, make_users


class LiveServer:
    def __init__(self, db: str, tokens: dict[str, str], settings: dict[str, Any]) -> None:
        self.db = db
        self.clock = Clock()
        self.settings = settings
        self.sock = bind("127.0.0.1", 0)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = tokens
        self.app: FastAPI = self._new_app()
        self.api = Api(self.app, db, tokens, self.clock)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def _new_app(self) -> FastAPI:
        return create_app(ServerSettings(db=self.db, heartbeat_s=1.0, **self.settings),
                          clock=self.clock)

    async def start(self) -> None:
        if self.sock.fileno() == -1:  # closed by a previous stop: bind the same port again
            self.sock = bind("127.0.0.1", self.port)
        server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on",
                                               timeout_graceful_shutdown=1))
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[self.sock]))
        while not server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop answering: the port refuses connections, open streams are cut."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True
        # A dead process closes its sockets; an in-loop server must be told to.
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._task, 10)
        self.sock.close()
        self._server = self._task = None


@asynccontextmanager
async def live_server(db: str, **settings: Any) -> AsyncIterator[LiveServer]:
    tokens = await make_users(db)
    live = LiveServer(db, tokens, settings)
    await live.start()
    try:
        yield live
    finally:
        for client in live.api.clients.values():
            await client.aclose()
        await live.stop()
