"""`csq serve`: run the API under uvicorn on a socket we bind ourselves, so
port 0 works and the real address can be printed for scripts and tests."""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from csq.server import migrate
from csq.server.app import create_app
from csq.server.config import ServerSettings
from csq.server.db import safe_url, why_unusable

Hook = Callable[[FastAPI], Awaitable[None]]


class _Server(uvicorn.Server):
    """Ends the event streams as soon as a stop is asked for: they never finish by
    themselves, so otherwise every stop would wait out the graceful timeout and
    then cancel them with a traceback."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app
        self._loop = asyncio.get_running_loop()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._loop.call_soon_threadsafe(self._app.state.hub.end_streams)


class DatabaseUnusable(Exception):
    """The database cannot be opened or upgraded: said in one line, not a traceback."""


class _Terminated(BaseException):
    """SIGTERM, which uvicorn re-raises after its graceful shutdown."""


def _terminated(_sig: int, _frame: FrameType | None) -> None:
    raise _Terminated


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say
    # they are TCP. Without it every keep-alive request waits ~40 ms (Nagle and
    # delayed ACK), as uvicorn's two writes per response meet the client's ACK timer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def serve(settings: ServerSettings, *, after_start: Hook | None = None,
                announce: bool = True) -> None:
    try:  # here rather than only in the lifespan, where uvicorn would print a traceback
        app = create_app(settings)
        await migrate.upgrade(app.state.engine)
    except (OSError, SQLAlchemyError) as exc:
        raise DatabaseUnusable(f"cannot open the database {safe_url(settings.db)}: "
                               f"{why_unusable(exc)}") from None
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                            timeout_graceful_shutdown=2)
    server = _Server(config, app)
    url_host = f"[{host}]" if ":" in host else host
    app.state.url = f"http://{url_host}:{port}"  # for after_start hooks (port 0 is resolved)

    async def started() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        if after_start is not None:
            await after_start(app)
        # Everything allocated so far (modules, routes, schemas, the demo's seed) lives
        # as long as the server: out of the collector's way, a full collection walks
        # only what requests allocate, instead of pausing every stream for it.
        gc.freeze()
        if announce:
            print(f"csq serve: listening on {app.state.url} (db {safe_url(settings.db)})",
                  flush=True)

    task = asyncio.create_task(started())
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        # Cancelled by an in-process owner (`csq demo`): stop as on Ctrl-C, so the
        # lifespan's shutdown runs and the database is closed before we return.
        app.state.hub.end_streams()
        server.should_exit = True
        await serving
        raise
    finally:
        task.cancel()


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (not on Windows): cheaper socket I/O and cheaper
    wake-ups from the database threads than asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(settings: ServerSettings, after_start: Hook | None = None) -> int:
    """Serve until SIGINT or SIGTERM; either is a normal stop (exit code 0)."""
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        with asyncio.Runner(loop_factory=_event_loop) as runner:
            runner.run(serve(settings, after_start=after_start))
    except (KeyboardInterrupt, _Terminated):
        pass
    except DatabaseUnusable as exc:
        print(f"csq serve: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"csq serve: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
