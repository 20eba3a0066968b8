"""The FastAPI application: wiring only. Rules live in csq.domain, writes in
service.py, fan-out in hub.py, the gate in gate.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from csq import __version__
from csq.api import ChangesPage, PresenceEvent
from csq.server import migrate, problems, repo
from csq.server.auth import LoginThrottle
from csq.server.config import ServerSettings
from csq.server.db import is_sqlite, make_engine, sessionmaker
from csq.server.gate import Gate
from csq.server.hub import Hub
from csq.server.metrics import LiveMetricsCache
from csq.server.routes import (
    agents,
    auth,
    changes,
    customers,
    events,
    handovers,
    items,
    metrics,
    presence,
    quality,
    reports,
)
from csq.server.service import Service
from csq.server.transactions import Database, open_database

log = logging.getLogger("csq.server")


def create_app(settings: ServerSettings, *,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    engine = make_engine(settings.db)
    sessions = sessionmaker(engine)
    db = open_database(settings.db, sessions)
    policy = settings.sla_policy()

    async def read_page(after: int, limit: int) -> ChangesPage:
        return await db.read(lambda session: repo.changes(session, after, limit))

    hub = Hub(read_page)
    service = Service(sessions, db, policy, hub, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate.upgrade(engine)
        hub.advance(await db.read_small(repo.head_seq))
        await service.purge_idempotency()
        tasks = app.state.background_tasks
        tasks.append(asyncio.create_task(app.state.metrics.publish()))
        if not is_sqlite(settings.db):
            await _listen(hub, settings.db)
            tasks.append(asyncio.create_task(_follow_head(hub, db)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await hub.close()
            await db.close()
            await engine.dispose()

    app = FastAPI(title="csq service API", version=__version__, lifespan=lifespan,
                  summary="Tickets, complaints and callbacks: the system of record for csq.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.db = db
    app.state.hub = hub
    app.state.service = service
    # Cancelled and awaited at shutdown, before the database closes; a `serve`
    # after_start hook (the demo's simulator) adds its own tasks here.
    app.state.background_tasks = []
    app.state.throttle = LoginThrottle()
    app.state.metrics = LiveMetricsCache(sessions, hub, policy)
    problems.install(app)
    for module in (auth, items, customers, changes, events, presence, metrics, reports,
                   handovers, quality, agents):
        app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"ok": True, "seq": hub.head, "streams": hub.streams})

    app.add_middleware(Gate, db=db, hub=hub, max_body=settings.max_body_bytes)
    return app


async def _listen(hub: Hub, url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    await hub.listen(dsn)
    one_at_a_time = asyncio.Lock()  # an asyncpg connection runs one query at a time

    async def publish(event: PresenceEvent) -> None:
        """Best effort, like presence itself: while the link is down (back within a
        second, see _follow_head) other replicas miss a blip, nobody gets a 500."""
        async with one_at_a_time:
            listener = hub._listener
            if listener is None or listener.is_closed():
                return
            try:
                await listener.execute("SELECT pg_notify('csq_presence', $1)",
                                       event.model_dump_json())
            except Exception:
                log.warning("could not share presence with other replicas", exc_info=True)

    hub.publish_presence = publish


async def _follow_head(hub: Hub, db: Database) -> None:
    """A safety net under LISTEN/NOTIFY: a dropped notification delays a stream
    by a second, never forever."""
    while True:
        await asyncio.sleep(1.0)
        try:
            if await hub.relisten():
                log.warning("the LISTEN link to the database was lost; listening again")
            hub.advance(await db.read_small(repo.head_seq))
        except Exception:  # a restarting database must not end the loop
            log.warning("could not read the head seq", exc_info=True)
