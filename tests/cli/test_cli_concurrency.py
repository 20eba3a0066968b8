"""Two (or five) csq processes on one profile: the app open in one terminal and
`csq do` in others. Appends from all of them at once lose nothing; a reader is
never blocked by the writer; a lock left by a killed process is taken over."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from csq.store import Outbox
from tests.cli.conftest import Machine, clean
from tests.support.client import LiveServer, seed

pytestmark = pytest.mark.process

def test_five_processes_doing_twenty_notes_each_at_once_lose_nothing(
        shared: LiveServer, machine: Machine) -> None:
    items = [shared.item("bob")["id"] for _ in range(2)]
    alice = machine(shared)
    seed(alice, shared)
    batches = [[["do", str(items[n % 2]), "note", f"p{p}-{n:02}"] for n in range(20)]
               for p in range(5)]
    running = [alice.start_many(*batch) for batch in batches]  # all five at once
    acknowledged = []
    for proc, batch in zip(running, batches, strict=True):
        for run in alice.results(proc, tuple(batch)):
            assert clean(run).out.startswith(("done: ", "queued: ")), str(run)
            acknowledged.append(run)
    assert len(acknowledged) == 100

    clean(alice.run("sync"))  # whatever a busy sender left queued goes now
    assert Outbox(alice.profile(shared.url, "alice").outbox_path).all() == []
    notes = shared.note_bodies()
    for p in range(5):
        for n in range(20):
            assert notes[f"p{p}-{n:02}"] == 1, f"p{p}-{n:02}"
    for item_id in items:  # each process's own notes keep their order on each item
        bodies = [e["body"] for e in shared.get("alice", item_id)["timeline"]
                  if e["type"] == "note"]
        for p in range(5):
            mine = [b for b in bodies if b.startswith(f"p{p}-")]
            assert mine == sorted(mine)


APP = """
import asyncio, sys
from csq.commands.session import open_session

async def main():
    async with open_session(sync=False) as session:  # what the app holds while it runs
        assert session.cache.writable
        print("syncing", flush=True)
        await session.engine.run()

asyncio.run(main())
"""


def test_readers_and_do_work_while_the_app_holds_the_cache_and_its_lock_dies_with_it(
        shared: LiveServer, machine: Machine) -> None:
    cached = shared.item("bob")["id"]
    alice = machine(shared)
    seed(alice, shared)
    app = alice.popen([sys.executable, "-c", APP], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
    try:
        assert app.stdout is not None and app.stdout.readline() == "syncing\n"
        listing, sync, done, busy = alice.run_many(
            ["ls"], ["sync"], ["do", str(cached), "note", "from another terminal"],
            ["do", "999999", "claim"])
        assert str(cached) in clean(listing).out
        assert "showing the cache from" in listing.err
        assert "another csq is syncing" in clean(sync, rc=1).err
        assert clean(done).out.startswith(("done: note", "queued: note"))
        if done.out.startswith("done"):  # what the server says, not the stale cache
            assert "now new" in done.out
        assert "another csq is writing the cache" in clean(busy, rc=1).err  # cannot look
        deadline = time.monotonic() + 15  # the app sends what `csq do` queued, if it did
        while shared.note_bodies()["from another terminal"] == 0:
            assert time.monotonic() < deadline, "the note never reached the server"
            time.sleep(0.1)
        app.send_signal(signal.SIGKILL)  # the app dies holding the writer lock
        app.wait(10)
        _, err = app.communicate()
        assert "Traceback" not in err, err
    finally:
        app.kill()
        app.wait(10)
    after = clean(alice.run("sync"))  # the kernel let go of the lock with the process
    assert after.out.startswith("synced to seq")
    assert shared.note_bodies()["from another terminal"] == 1
