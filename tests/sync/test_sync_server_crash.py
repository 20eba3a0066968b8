"""Promises 1 and 2 against a real `csq serve`: the server is SIGKILLed in the
middle of a flush of 200 queued actions, twice, and restarted on the same
database. Every action must end up applied exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from csq.domain.engine import Actor
from csq.domain.roles import Role
from csq.store import Cache, Op, Profile
from csq.sync import SyncEngine, SyncError, make_http
from tests.support.client import LiveServer

pytestmark = pytest.mark.process

EVENTS_PER_ACTION = {"claim": 2, "note": 1, "transition": 1}  # claim also opens the ticket


@pytest.fixture
async def alice(live: LiveServer, tmp_path: Path) -> AsyncIterator[SyncEngine]:
    profile = Profile.for_user(live.url, "alice", root=tmp_path / "profiles")
    cache = Cache(profile.cache_dir).open(write=True)
    http = make_http(live.url, live.tokens["alice"], timeout=5)
    yield SyncEngine(profile, http, Actor("alice", "Alice", Role.AGENT), cache=cache)
    await http.aclose()
    cache.close()


def applied(live: LiveServer) -> int:
    """Actions of alice's the server has committed so far."""
    return int(live.query("SELECT COUNT(DISTINCT idempotency_key) FROM events "
                          "WHERE actor = 'alice'")[0][0])


async def test_server_sigkilled_twice_mid_flush_of_200_actions_applies_each_exactly_once(
        live: LiveServer, alice: SyncEngine) -> None:
    items = [live.item("bob")["id"] for _ in range(10)]
    await alice.pull()
    live.kill()

    ops: list[Op] = []  # 200 actions queued offline: claim, 18 notes, a transition per item
    ops += [alice.submit(i, {"action": "claim"}) for i in items]
    ops += [alice.submit(items[n % 10], {"action": "note", "body": f"note {n:03}"})
            for n in range(180)]
    ops += [alice.submit(i, {"action": "transition", "to": "pending_customer"}) for i in items]
    assert len(ops) == 200 and len(alice.outbox.all()) == 200
    with pytest.raises(SyncError):
        await alice.flush()

    live.start()
    for kill_at in (60, 130):
        flushing = asyncio.create_task(alice.flush())
        while applied(live) < kill_at and not flushing.done():
            await asyncio.sleep(0.002)
        assert not flushing.done(), "the flush finished before the server could be killed"
        live.kill()
        with pytest.raises(SyncError):
            await flushing
        left = len(alice.outbox.all())
        assert 0 < left <= 200 - kill_at + 1
        live.start()

    report = await alice.sync_once()
    assert report.conflicts == [] and report.failed == []
    assert alice.outbox.all() == []

    per_key = live.events_per_key()
    for op in ops:  # one transaction per action, with all its events, never a second
        assert per_key.get(op.op_id) == (EVENTS_PER_ACTION[op.verb], 1), (op.verb, op.op_id)
    assert applied(live) == 200
    for n, item_id in enumerate(items):
        server = live.get("alice", item_id)
        notes = [e["body"] for e in server["timeline"] if e["type"] == "note"]
        assert notes == [f"note {k:03}" for k in range(n, 180, 10)]
        assert (server["owner"], server["status"]) == ("alice", "pending_customer")
        cached = alice.cache.item(item_id)
        assert cached is not None and cached["version"] == server["version"]
