"""Where database work runs: each unit of work is a plain function of a sync
`Session`, and this module decides on which thread and through which driver.

Why not AsyncSession all the way: on SQLite every statement through
SQLAlchemy's async adapter costs ~0.4 ms of CPU (four thread hops through
aiosqlite and a greenlet switch each), against ~0.05 ms for the same statement
on a plain `sqlite3` connection. So on a SQLite file the whole transaction runs
synchronously on a thread of ours: one hop per transaction, not four per
statement. All writes of the process go through one writer thread, which also
serialises them here rather than in SQLite's busy handler (which sleeps up to
100 ms between retries while the lock sits free); the transaction starts with
BEGIN IMMEDIATE so it never has to upgrade a read lock.

On PostgreSQL (and an in-memory SQLite, which a second engine could not see)
the same function runs through `AsyncSession.run_sync` on the app's async
engine: concurrency there is the database's business, and seq order stays
commit order through the `seq_counter` row lock, as it must across replicas.

Never put anything here that awaits: the work functions are synchronous by
design, so that one thread can run them start to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from csq.server.db import JSON_CODEC, sqlite_path, sqlite_pragmas

T = TypeVar("T")
Work = Callable[[Session], T]

READER_THREADS = 2  # reads are one short statement or two; more threads only add contention


class Database(Protocol):
    """Runs a sync unit of work in a transaction: `write` commits it, `read` does not."""

    async def read(self, work: Work[T]) -> T: ...

    async def write(self, work: Work[T]) -> T: ...

    async def close(self) -> None: ...


class AsyncEngineDatabase:
    """Work runs through `AsyncSession.run_sync` on the app's async engine (PostgreSQL)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def read(self, work: Work[T]) -> T:
        async with self.sessions() as session:
            return await session.run_sync(work)

    async def write(self, work: Work[T]) -> T:
        async with self.sessions() as session, session.begin():
            return await session.run_sync(work)

    async def close(self) -> None:
        return None


class SqliteThreads:
    """Work runs on our own threads over plain `sqlite3`: one writer, a few readers."""

    def __init__(self, path: str) -> None:
        self._writer_engine = _sqlite_engine(path, begin="BEGIN IMMEDIATE", pool_size=1)
        self._reader_engine = _sqlite_engine(path, begin="BEGIN", pool_size=READER_THREADS)
        self._writer: ThreadPoolExecutor | None = None  # made on first use, again after close
        self._readers: ThreadPoolExecutor | None = None

    @property
    def engines(self) -> tuple[Engine, Engine]:
        """(writer, readers): for instrumentation, as bench/micro.py counts statements."""
        return self._writer_engine, self._reader_engine

    async def read(self, work: Work[T]) -> T:
        if self._readers is None:
            self._readers = ThreadPoolExecutor(READER_THREADS,
                                               thread_name_prefix="csq-sqlite-reader")
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, self._run, self._reader_engine, work, False)

    async def write(self, work: Work[T]) -> T:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="csq-sqlite-writer")
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._run, self._writer_engine, work, True)

    @staticmethod
    def _run(engine: Engine, work: Work[T], commit: bool) -> T:
        with Session(engine, expire_on_commit=False) as session:
            if not commit:
                return work(session)  # closing the session ends the read snapshot
            with session.begin():
                return work(session)

    async def close(self) -> None:
        """Finish what is running and let the connections go. Like an engine's pool,
        this opens again if used again (an app whose lifespan runs twice, in tests)."""
        pools = [p for p in (self._writer, self._readers) if p is not None]
        self._writer = self._readers = None
        loop = asyncio.get_running_loop()
        for pool in pools:
            await loop.run_in_executor(None, pool.shutdown)
        self._writer_engine.dispose()
        self._reader_engine.dispose()


def _sqlite_engine(path: str, *, begin: str, pool_size: int) -> Engine:
    engine = create_engine(f"sqlite:///{path}", pool_size=pool_size, max_overflow=0,
                           connect_args={"check_same_thread": False, "timeout": 30},
                           **JSON_CODEC)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _: Any) -> None:
        sqlite_pragmas(dbapi_conn)
        dbapi_conn.isolation_level = None  # we say BEGIN ourselves (see below)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def open_database(url: str, sessions: async_sessionmaker[AsyncSession]) -> Database:
    path = sqlite_path(url)
    if path:
        return SqliteThreads(path)
    return AsyncEngineDatabase(sessions)
