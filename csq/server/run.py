"""`csq serve`: run the API under uvicorn on a socket we bind ourselves, so
port 0 works and the real address can be printed for scripts and tests."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI

from csq.server.app import create_app
from csq.server.config import ServerSettings

Hook = Callable[[FastAPI], Awaitable[None]]


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def serve(settings: ServerSettings, *, after_start: Hook | None = None,
                announce: bool = True) -> None:
    app = create_app(settings)
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)

    async def started() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        if after_start is not None:
            await after_start(app)
        if announce:
            url_host = f"[{host}]" if ":" in host else host
            print(f"csq serve: listening on http://{url_host}:{port} (db {_safe(settings.db)})",
                  flush=True)

    task = asyncio.create_task(started())
    try:
        await server.serve(sockets=[sock])
    finally:
        task.cancel()


def _safe(url: str) -> str:
    """The database URL without its password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


def run(settings: ServerSettings, after_start: Hook | None = None) -> int:
    try:
        asyncio.run(serve(settings, after_start=after_start))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"csq serve: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    return 0
