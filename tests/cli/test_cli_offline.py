"""A day offline: 100 actions taken with the server stopped while other agents
kept changing some of the same items. After reconnecting each action is
applied (once) or shown to the agent as a conflict or a refusal; none is lost.
Reads meanwhile come from the cache and say how old it is."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from csq.store import Op, Outbox
from tests.cli.conftest import Machine, clean
from tests.support.client import CsqEnv, LiveServer, seed_async, server_side

pytestmark = pytest.mark.process


def outbox(env: CsqEnv, live: LiveServer) -> list[Op]:
    return Outbox(env.profile(live.url, "alice").outbox_path).all()


async def test_100_actions_offline_are_each_applied_once_or_shown_as_conflicts(
        live: LiveServer, machine: Machine) -> None:
    mine = [live.item("bob")["id"] for _ in range(10)]
    free = [live.item("bob")["id"] for _ in range(10)]
    for item_id in mine:
        live.act("alice", item_id, "claim")
    alice = machine(live)
    await seed_async(alice, live)
    live.kill()

    commands: list[list[str]] = []
    for item_id in mine:  # a note, the move, then three notes that depend on it
        commands.append(["do", str(item_id), "note", f"{item_id} before"])
        commands.append(["do", str(item_id), "transition", "pending_customer"])
        commands += [["do", str(item_id), "note", f"{item_id} after {n}"] for n in range(3)]
    for item_id in free:  # claim, then four notes
        commands.append(["do", str(item_id), "claim"])
        commands += [["do", str(item_id), "note", f"{item_id} mine {n}"] for n in range(4)]
    assert len(commands) == 100
    listing, *done, status = alice.run_many(["ls"], *commands, ["status", "--json"])

    # Offline: reads come from the cache and say how old it is; actions queue.
    assert "offline" in clean(listing).err and "showing the cache from" in listing.err
    assert all(str(i) in listing.out for i in mine + free)
    for run in done:
        assert clean(run).out.startswith("queued: "), str(run)  # acknowledged to the agent
    queued = outbox(alice, live)
    assert len(queued) == 100 and all(o.state == "pending" for o in queued)
    assert json.loads(clean(status).out)["pending"] == 100

    # Meanwhile, on the server, other agents work on some of the same items.
    async with server_side(live) as others:
        for item_id in mine[:3]:  # a new version: alice's moves there are stale
            assert (await others.act("lee", await others.get("lee", item_id), "tag",
                                     add=["escalated-by-phone"])).status_code == 200
        assert (await others.act("lee", await others.get("lee", mine[3]), "assign", to="bob",
                                 note="bob takes it")).status_code == 200
        assert (await others.act("bob", mine[4], "note", body="bob was here")).status_code == 200
        for item_id in free[:2]:  # bob claims first
            assert (await others.act("bob", await others.get("bob", item_id),
                                     "claim")).status_code == 200

    live.start()
    first, listed, table = alice.run_many(["sync"], ["conflicts", "--json"], ["conflicts"])
    assert "5 conflicts, 1 failed" in clean(first, rc=1).out  # 1: the agent must decide
    left = {o.op_id: o for o in outbox(alice, live)}
    sent = {o.op_id for o in queued} - set(left)
    per_key = live.events_per_key()
    for key in sent:
        assert per_key.get(key, (0, 0))[1] == 1, key  # applied, in one transaction
    for key in left:
        assert key not in per_key  # not applied, still here
    states = Counter(o.state for o in left.values())
    assert states == {"conflict": 5, "failed": 1, "pending": 17}
    conflicts = {o.item_id: o for o in left.values() if o.state == "conflict"}
    assert set(conflicts) == set(mine[:3]) | set(free[:2])
    failed = next(o for o in left.values() if o.state == "failed")
    assert (failed.item_id, failed.verb, failed.error_type) == (mine[3], "transition",
                                                                  "not-owner")
    for op in left.values():  # every waiting op sits behind a conflict on its item
        assert op.state != "pending" or op.item_id in conflicts
    assert {o["op_id"] for o in json.loads(clean(listed).out)} == {
        o.op_id for o in left.values() if o.state != "pending"}
    assert all(o.op_id[:8] in clean(table).out for o in conflicts.values())
    assert failed.op_id[:8] in table.out

    # The agent decides, one by one: re-apply two, discard three.
    again, dropped, refused, dropped_too, second, behind, last_drop, third = alice.run_many(
        ["conflicts", "--reapply", conflicts[mine[0]].op_id[:8]],
        ["conflicts", "--discard", conflicts[mine[1]].op_id[:8]],
        ["conflicts", "--reapply", conflicts[free[0]].op_id[:8]],
        ["conflicts", "--discard", conflicts[free[1]].op_id[:8]],
        ["sync"],
        ["do", str(mine[2]), "note", "behind the conflict"],
        ["conflicts", "--discard", conflicts[mine[2]].op_id[:8]],
        ["sync"])
    assert f"re-applied transition on #{mine[0]}" in clean(again).out
    assert f"discarded transition on #{mine[1]}" in clean(dropped).out
    assert "refused by the server" in clean(refused, rc=1).err  # bob owns it by now
    assert "bob" in refused.err
    clean(dropped_too)
    assert "3 pending, 1 conflicts, 2 failed" in clean(second).out  # mine[2]: undecided
    assert clean(behind, rc=1).out.startswith("queued: note")  # kept, and the agent is told
    assert "waits behind a conflict" in behind.out and "csq conflicts" in behind.err
    clean(last_drop)
    assert "0 pending, 0 conflicts, 2 failed" in clean(third).out

    # The books: every note alice wrote is on the server exactly once.
    notes = live.note_bodies()
    written = [c[3] for c in commands if c[2] == "note"] + ["behind the conflict"]
    assert all(notes[body] == 1 for body in written), [b for b in written if notes[b] != 1]
    assert live.get("alice", mine[0])["status"] == "pending_customer"  # re-applied
    assert live.get("alice", mine[1])["status"] == "open"  # discarded
    assert live.get("alice", mine[5])["status"] == "pending_customer"
    assert live.get("alice", free[5])["owner"] == "alice"
    assert {o.state for o in outbox(alice, live)} == {"failed"}
