"""Where database work runs: each unit of work is a plain function of a sync
`Session`, and this module decides on which thread and through which driver.

Why not AsyncSession all the way: on SQLite every statement through
SQLAlchemy's async adapter costs ~0.4 ms of CPU (four thread hops through
aiosqlite and a greenlet switch each), against ~0.05 ms for the same statement
on a plain `sqlite3` connection.

Why not a thread either, for the short ones (`SqliteOnLoop`): an action's
whole transaction is ~0.3 ms of plain `sqlite3` with the pages in memory, and
almost all of it holds the GIL. On a thread it buys no parallelism, only a hop
each way and a GIL convoy: under load the event loop holds the GIL, and the
writer thread waits up to a switch interval (5 ms) to get it back after every
statement, so one serial writer spent ~2 ms of wall time per action (py-spy,
400 actions/s). So on a SQLite file the writes and the one-row reads run right
on the loop's thread, with no busy timeout: if another process holds the lock
(`csq admin`, a second server), SQLITE_BUSY sends the unit of work to the
threads below, which wait for it there. WAL checkpoints (fsync) run on a thread
too, never inside a commit on the loop. Writers stay serialised in the
process, and BEGIN IMMEDIATE takes the write lock up front.

`SqliteThreads`: the same work on threads of ours (one writer, a few readers),
for that fallback and for the long reads (change pages) that should not hold
the loop.

On PostgreSQL (and an in-memory SQLite, which a second engine could not see)
the same function runs through `AsyncSession.run_sync` on the app's async
engine: concurrency there is the database's business, and seq order stays
commit order through the `seq_counter` row lock, as it must across replicas.

Never put anything here that awaits: the work functions are synchronous by
design, so that one thread can run them start to finish.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from csq.server.db import JSON_CODEC, sqlite_path, sqlite_pragmas

T = TypeVar("T")
Work = Callable[[Session], T]

log = logging.getLogger("csq.server.transactions")
READER_THREADS = 2  # reads are one short statement or two; more threads only add contention
CHECKPOINT_EVERY = 200  # commits on the loop between WAL checkpoints (SQLite's own: 1000 pages)
CHECKPOINT_AFTER_S = 1.0  # ... or this long after the first commit not yet checkpointed


class Database(Protocol):
    """Runs a sync unit of work in a transaction: `write` commits it, `read` does not.
    `read_small` is for a read of a row or two (a token, an item): where it is
    cheaper, it runs without leaving the event loop's thread."""

    async def read(self, work: Work[T]) -> T: ...

    async def read_small(self, work: Work[T]) -> T: ...

    async def write(self, work: Work[T]) -> T: ...

    async def close(self) -> None: ...


class AsyncEngineDatabase:
    """Work runs through `AsyncSession.run_sync` on the app's async engine (PostgreSQL)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def read(self, work: Work[T]) -> T:
        async with self.sessions() as session:
            return await session.run_sync(work)

    read_small = read

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

    read_small = read

    async def write(self, work: Work[T]) -> T:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="csq-sqlite-writer")
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._run, self._writer_engine, work, True)

    async def checkpoint(self, path: str) -> None:
        """A passive WAL checkpoint (copies pages, fsyncs) on the writer thread."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="csq-sqlite-writer")
        await asyncio.get_running_loop().run_in_executor(self._writer, _checkpoint, path)

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


class SqliteOnLoop:
    """SQLite file: writes and small reads on the loop's own thread (see the module
    docstring), anything that meets a lock, and the long reads, on `SqliteThreads`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.threads = SqliteThreads(path)
        # No busy timeout and no automatic checkpoint: the loop must never wait.
        self._writer_engine = _sqlite_engine(path, begin="BEGIN IMMEDIATE", pool_size=1,
                                             wait=False)
        self._reader_engine = _sqlite_engine(path, begin="BEGIN", pool_size=1, wait=False)
        self._on_threads = 0  # writes sent to the writer thread and not yet done
        self._uncheckpointed = 0
        self._first_uncheckpointed = 0.0
        self._checkpointing: asyncio.Task[None] | None = None
        self.checkpoints = 0  # done so far, for tests and instrumentation
        self._raw: sqlite3.Connection | None = None  # for read_row, made on first use

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine that runs work, for instrumentation (bench/micro.py)."""
        return (self._writer_engine, self._reader_engine, *self.threads.engines)

    async def read(self, work: Work[T]) -> T:
        return await self.threads.read(work)

    async def read_small(self, work: Work[T]) -> T:
        try:
            return SqliteThreads._run(self._reader_engine, work, False)
        except LOCK_ERRORS as exc:
            if not _busy(exc):
                raise
        return await self.threads.read(work)

    async def read_row(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One row of plain SQL (qmark style), straight on sqlite3, in autocommit: for
        the lookup every request makes (the Gate's token), where a Session and a
        pooled connection cost twenty times the query itself (~0.08 ms against 4 µs)."""
        if self._raw is None:
            self._raw = sqlite3.connect(self.path, isolation_level=None,
                                        check_same_thread=False)
            self._raw.execute("PRAGMA busy_timeout=0")
        try:
            row: tuple[Any, ...] | None = self._raw.execute(sql, params).fetchone()
            return row
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        return await self.threads.read(
            lambda session: _row(session.connection().exec_driver_sql(sql, params).first()))

    async def write(self, work: Work[T]) -> T:
        if not self._on_threads:  # else queue behind them: writes keep their order
            try:
                result = SqliteThreads._run(self._writer_engine, work, True)
            except LOCK_ERRORS as exc:
                if not _busy(exc):
                    raise
            else:
                self._committed()
                return result
        self._on_threads += 1
        try:
            return await self.threads.write(work)
        finally:
            self._on_threads -= 1

    def _committed(self) -> None:
        """Start a checkpoint on the writer thread once enough has been committed."""
        now = time.monotonic()
        if not self._uncheckpointed:
            self._first_uncheckpointed = now
        self._uncheckpointed += 1
        if self._checkpointing is not None or not (
                self._uncheckpointed >= CHECKPOINT_EVERY
                or now - self._first_uncheckpointed >= CHECKPOINT_AFTER_S):
            return
        self._uncheckpointed = 0
        self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            await self.threads.checkpoint(self.path)
            self.checkpoints += 1
        except Exception:  # a missed checkpoint only lets the WAL grow until the next
            log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            self._checkpointing = None

    async def close(self) -> None:
        if self._checkpointing is not None:
            await self._checkpointing
        await self.threads.close()
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        self._writer_engine.dispose()
        self._reader_engine.dispose()


# SQLAlchemy's, or sqlite3's own when BEGIN (said straight to sqlite3, see below) meets it
LOCK_ERRORS = (OperationalError, sqlite3.OperationalError)


def _busy(exc: Exception) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: someone else holds the lock; wait on a thread."""
    orig = exc.orig if isinstance(exc, OperationalError) else exc
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(orig) or "busy" in str(orig)


def _row(row: Any) -> tuple[Any, ...] | None:
    return None if row is None else tuple(row)


def _checkpoint(path: str) -> None:
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        con.close()


def _sqlite_engine(path: str, *, begin: str, pool_size: int, wait: bool = True) -> Engine:
    pool: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 0}
    if not wait:
        # The loop's own connection: one thread, one connection, kept. Every unit of
        # work ends its transaction itself (commit, or the Session's rollback), so the
        # pool's extra rollback on every check-in would only cost time.
        pool = {"poolclass": StaticPool, "pool_reset_on_return": None}
    engine = create_engine(f"sqlite:///{path}", **pool,
                           connect_args={"check_same_thread": False, "timeout": 30},
                           **JSON_CODEC)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _: Any) -> None:
        sqlite_pragmas(dbapi_conn)
        dbapi_conn.isolation_level = None  # we say BEGIN ourselves (see below)
        if not wait:
            dbapi_conn.execute("PRAGMA busy_timeout=0")
            dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Straight to sqlite3: exec_driver_sql costs more Python than the BEGIN itself.
        conn.connection.driver_connection.execute(begin)

    return engine


def open_database(url: str, sessions: async_sessionmaker[AsyncSession]) -> Database:
    path = sqlite_path(url)
    if path:
        return SqliteOnLoop(path)
    return AsyncEngineDatabase(sessions)
