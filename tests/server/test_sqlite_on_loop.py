"""SQLite work on the event loop's thread (transactions.SqliteOnLoop): it must
never make the loop wait for a lock another process holds, and must never lose
or reorder a write because it met one."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from csq.server import transactions
from csq.server.transactions import SqliteOnLoop

HOLD_S = 1.0
# Another process takes SQLite's write lock, says so, holds it, then commits a row.
LOCKER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
con.execute("BEGIN IMMEDIATE")
con.execute("INSERT INTO t (v) VALUES ('other process')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
"""


@pytest.fixture
def path(tmp_path: Path) -> str:
    file = str(tmp_path / "loop.db")
    con = sqlite3.connect(file, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    con.close()
    return file


def _insert(value: str) -> transactions.Work[int]:
    def work(session: Session) -> int:
        result = session.execute(text("INSERT INTO t (v) VALUES (:v) RETURNING id"), {"v": value})
        return int(result.scalar_one())
    return work


def _values(session: Session) -> list[str]:
    return [str(v) for v in session.execute(text("SELECT v FROM t ORDER BY id")).scalars()]


async def test_writes_and_small_reads_run_on_the_loop_without_a_thread(path: str) -> None:
    db = SqliteOnLoop(path)
    try:
        assert await db.write(_insert("a")) == 1
        assert await db.read_small(_values) == ["a"]
        assert await db.read(_values) == ["a"]  # the long-read path sees the same
        assert db.threads._writer is None  # no write needed the writer thread
    finally:
        await db.close()


@pytest.mark.process
async def test_a_lock_held_by_another_process_neither_blocks_the_loop_nor_loses_writes(
        path: str) -> None:
    db = SqliteOnLoop(path)
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, path, str(HOLD_S)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        first = asyncio.create_task(db.write(_insert("waited 1")))
        second = asyncio.create_task(db.write(_insert("waited 2")))
        # The loop keeps turning while both writes wait for the other process.
        ticks = 0
        while time.monotonic() - started < HOLD_S / 2:
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks >= 10 and not first.done() and not second.done()
        assert await db.read_small(_values) == []  # readers are never blocked (WAL)
        await asyncio.gather(first, second)
        assert time.monotonic() - started >= HOLD_S * 0.8
        assert await db.write(_insert("after")) > 0  # back on the loop once free
        assert await db.read_small(_values) == ["other process", "waited 1", "waited 2",
                                                "after"]
    finally:
        locker.wait(timeout=10)
        await db.close()


async def test_checkpoints_run_off_the_loop_after_enough_commits(
        path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transactions, "CHECKPOINT_EVERY", 5)
    db = SqliteOnLoop(path)
    try:
        for round_ in range(1, 4):
            for n in range(5):
                await db.write(_insert(f"{round_}.{n}"))
            for _ in range(250):  # the checkpoint runs on the writer thread
                if db.checkpoints >= round_:
                    break
                await asyncio.sleep(0.02)
            assert db.checkpoints == round_
        assert len(await db.read_small(_values)) == 15
        wal = Path(path + "-wal")
        assert not wal.exists() or wal.stat().st_size < 1 << 20
    finally:
        await db.close()



class _Locked:
    """A sqlite3 connection that meets SQLITE_BUSY: in WAL mode a reader meets it only
    in rare moments (recovery), which a test cannot bring about on demand."""

    def execute(self, *_: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    def close(self) -> None:
        pass


async def test_read_row_reads_on_the_loop_and_goes_to_a_thread_when_busy(path: str) -> None:
    """The Gate's token read: a row or None, on the loop; SQLITE_BUSY there sends it to
    a thread, which waits for the lock instead of failing the request."""
    db = SqliteOnLoop(path)
    try:
        await db.write(_insert("a"))
        assert await db.read_row("SELECT v FROM t WHERE id = ?", (1,)) == ("a",)
        assert await db.read_row("SELECT v FROM t WHERE id = ?", (99,)) is None
        raw, db._raw = db._raw, _Locked()  # type: ignore[assignment]
        assert await db.read_row("SELECT v FROM t WHERE id = ?", (1,)) == ("a",)
        assert await db.read_row("SELECT v FROM t WHERE id = ?", (99,)) is None
        assert db.threads._readers is not None  # it did go to a thread
        db._raw = raw
    finally:
        await db.close()
