"""The sync engine against the real server app, in-process: pull, submit, flush,
the local view, conflicts, refusals, and rebasing on acknowledgement.

Promises 1 and 2 (DESIGN.md §4): nothing acknowledged is lost, nothing is
applied twice, however the network behaves."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from csq.domain.errors import DomainError
from csq.store import Op, Outbox
from csq.sync import Unreachable
from tests.support.api import Api
from tests.sync.conftest import Client, MakeClient, server_rows


async def claimed(api: Api, alice: Client) -> dict:
    """A ticket alice has claimed, synced into her cache."""
    item = await api.item("bob")
    r = await api.act("alice", item, "claim")
    assert r.status_code == 200, r.text
    await alice.engine.pull()
    return dict(r.json()["item"])


def pending(client: Client) -> list[str]:
    return [o.verb for o in client.engine.outbox.all() if o.state == "pending"]


async def test_pull_fills_the_cache_with_masked_records_and_moves_the_cursor(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await sqlite_api.item("bob")
    alice = clients("alice")
    assert await alice.engine.pull() == 2  # the item and its customer
    snap = alice.engine.cache.snapshot()
    assert snap.items[item["id"]]["version"] == 1
    assert snap.customers[item["customer_id"]]["phone"] == "138****5678"
    assert snap.cursor == item["seq"] and snap.synced_at is not None
    assert await alice.engine.pull() == 0
    assert alice.engine.cache.cursor == snap.cursor


async def test_an_action_taken_offline_is_durable_shown_locally_then_sent_once(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await sqlite_api.item("bob")
    alice = clients("alice")
    await alice.engine.pull()
    alice.net.online = False

    op = alice.engine.submit(item["id"], {"action": "claim"})

    # durable: another process opening the same file sees it
    assert [o.op_id for o in Outbox(alice.engine.profile.outbox_path).all()] == [op.op_id]
    local = alice.engine.local_item(item["id"])
    assert local is not None and (local.owner, local.status) == ("alice", "open")
    assert local.timeline[-1].seq == 0  # drawn as pending
    assert alice.engine.cache.item(item["id"])["owner"] is None  # the cache is server state
    assert alice.engine.status.pending == 1
    with pytest.raises(Unreachable):
        await alice.engine.flush()
    assert pending(alice) == ["claim"]

    alice.net.online = True
    report = await alice.engine.flush()
    assert [o.op_id for o in report.sent] == [op.op_id]
    assert alice.engine.outbox.all() == []
    server = await sqlite_api.get("alice", item["id"])
    assert (server["owner"], server["version"]) == ("alice", 2)
    assert alice.engine.cache.item(item["id"])["version"] == 2
    assert server_rows(sqlite_api, "SELECT COUNT(DISTINCT seq) FROM events "
                       "WHERE idempotency_key = ?", op.op_id) == [(1,)]


async def test_a_lost_answer_is_retried_with_the_same_key_and_applied_once(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await claimed(sqlite_api, alice := clients("alice"))
    ops = [alice.engine.submit(item["id"], {"action": "note", "body": f"lost answer {i}"})
           for i in range(3)]
    ops.append(alice.engine.submit(item["id"], {"action": "transition",
                                                "to": "pending_customer"}))
    alice.net.lose_answers = True
    for _ in range(3):  # every try reaches the server; no answer ever comes back
        with pytest.raises(Unreachable):
            await alice.engine.flush()
    assert pending(alice) == ["note", "note", "note", "transition"]

    alice.net.lose_answers = False
    while pending(alice):
        await alice.engine.flush()
    for op in ops:
        assert server_rows(sqlite_api, "SELECT COUNT(*), COUNT(DISTINCT seq) FROM events "
                           "WHERE idempotency_key = ?", op.op_id) == [(1, 1)], op.verb
    server = await sqlite_api.get("alice", item["id"])
    bodies = [e["body"] for e in server["timeline"] if e["type"] == "note"]
    assert bodies == ["lost answer 0", "lost answer 1", "lost answer 2"]
    assert server["status"] == "pending_customer"


async def test_later_ops_of_an_item_are_rebased_on_the_version_each_ack_produced(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await sqlite_api.item("bob")
    alice = clients("alice")
    await alice.engine.pull()
    alice.net.online = False
    alice.engine.submit(item["id"], {"action": "claim"})
    alice.engine.submit(item["id"], {"action": "note", "body": "先登记"})
    alice.engine.submit(item["id"], {"action": "transition", "to": "pending_customer"})
    alice.engine.submit(item["id"], {"action": "tag", "add": ["vip-follow"]})
    assert [o.base_version for o in alice.engine.outbox.all()] == [1, 1, 1, 1]

    alice.net.online = True
    alice.net.cut_after(1)  # the claim gets through, then the link drops
    with pytest.raises(Unreachable):
        await alice.engine.flush()
    left = alice.engine.outbox.all()
    assert [(o.verb, o.base_version) for o in left] == [
        ("note", 2), ("transition", 2), ("tag", 2)]

    alice.net.online = True
    report = await alice.engine.flush()
    assert [o.verb for o in report.sent] == ["note", "transition", "tag"]
    assert report.conflicts == [] and report.failed == []
    server = await sqlite_api.get("alice", item["id"])
    assert (server["status"], server["tags"], server["version"]) == (
        "pending_customer", ["vip-follow"], 4)
    assert alice.engine.outbox.all() == []


async def test_the_local_view_is_server_state_with_pending_ops_on_top(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await claimed(sqlite_api, alice := clients("alice"))
    alice.engine.submit(item["id"], {"action": "note", "body": "mine, not yet sent"})
    alice.engine.submit(item["id"], {"action": "transition", "to": "pending_customer"})
    r = await sqlite_api.act("bob", item["id"], "note", body="theirs, on the server")
    assert r.status_code == 200, r.text
    await alice.engine.pull()

    cached = alice.engine.cache.item(item["id"])
    assert cached["status"] == "open"
    assert [e["body"] for e in cached["timeline"] if e["type"] == "note"] == [
        "theirs, on the server"]
    local = alice.engine.local_item(item["id"])
    assert local is not None and local.status == "pending_customer"
    notes = [(e.body, e.seq > 0) for e in local.timeline if e.type == "note"]
    assert notes == [("theirs, on the server", True), ("mine, not yet sent", False)]
    assert set(alice.engine.view_overrides()) == {item["id"]}


async def test_the_rules_refuse_before_anything_is_queued(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await sqlite_api.item("bob")
    alice = clients("alice")
    await alice.engine.pull()
    with pytest.raises(DomainError):  # owner-only, and alice does not own it
        alice.engine.submit(item["id"], {"action": "transition", "to": "resolved"})
    with pytest.raises(ValidationError):
        alice.engine.submit(item["id"], {"action": "note", "body": ""})
    with pytest.raises(ValidationError):
        alice.engine.submit(item["id"], {"action": "fly"})
    assert alice.engine.outbox.all() == []


async def test_a_change_by_another_agent_is_a_conflict_that_reapply_resolves(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await claimed(sqlite_api, alice := clients("alice"))
    other = await sqlite_api.item("bob")
    await alice.engine.pull()
    alice.net.online = False
    move = alice.engine.submit(item["id"], {"action": "transition", "to": "pending_customer"})
    after = alice.engine.submit(item["id"], {"action": "note", "body": "等客户回电"})
    elsewhere = alice.engine.submit(other["id"], {"action": "note", "body": "another item"})
    r = await sqlite_api.act("lee", item["id"], "tag", version=2, add=["urgent"])
    assert r.status_code == 200, r.text  # lee moved the item to version 3 meanwhile

    alice.net.online = True
    report = await alice.engine.flush()
    assert [o.op_id for o in report.conflicts] == [move.op_id]
    assert [o.op_id for o in report.sent] == [elsewhere.op_id]  # other items are not held up
    conflict = alice.engine.outbox.get(move.op_id)
    assert conflict is not None and conflict.state == "conflict"
    assert conflict.error_type == "stale" and conflict.server_item is not None
    assert conflict.server_item["version"] == 3 and conflict.server_item["tags"] == ["urgent"]
    blocked = alice.engine.outbox.get(after.op_id)
    assert blocked is not None and blocked.state == "pending"  # waits behind the conflict
    assert alice.engine.status.conflicts == 1 and alice.engine.status.pending == 1
    assert alice.engine.cache.item(item["id"])["version"] == 3  # the server's version is kept
    local = alice.engine.local_item(item["id"])
    assert local is not None and local.status == "open"  # the conflicted move is not drawn

    reapplied = alice.engine.reapply(move.op_id)
    assert reapplied is not None and reapplied.op_id != move.op_id  # a new request, a new key
    assert reapplied.base_version == 3
    report = await alice.engine.flush()
    assert [o.verb for o in report.sent] == ["transition", "note"]
    server = await sqlite_api.get("alice", item["id"])
    assert (server["status"], server["tags"], server["version"]) == (
        "pending_customer", ["urgent"], 4)
    assert server["timeline"][-1]["body"] == "等客户回电"
    assert alice.engine.outbox.all() == []
    assert server_rows(sqlite_api, "SELECT COUNT(*) FROM events WHERE idempotency_key = ?",
                       move.op_id) == [(0,)]


async def test_a_note_sent_first_does_not_smuggle_a_later_move_past_a_conflict(
        sqlite_api: Api, clients: MakeClient) -> None:
    """A note needs no If-Match, so its answer carries the item as it is now, other
    agents' changes included: the move queued after it must still meet them."""
    item = await claimed(sqlite_api, alice := clients("alice"))
    alice.net.online = False
    alice.engine.submit(item["id"], {"action": "note", "body": "calling the customer"})
    move = alice.engine.submit(item["id"], {"action": "transition", "to": "resolved"})
    r = await sqlite_api.act("lee", item["id"], "transition", version=2,
                             to="pending_customer")
    assert r.status_code == 200, r.text

    alice.net.online = True
    report = await alice.engine.flush()
    assert [o.verb for o in report.sent] == ["note"]
    assert [o.op_id for o in report.conflicts] == [move.op_id]
    assert (await sqlite_api.get("alice", item["id"]))["status"] == "pending_customer"


async def test_discarding_a_conflict_drops_only_it_and_frees_the_item(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await claimed(sqlite_api, alice := clients("alice"))
    alice.net.online = False
    move = alice.engine.submit(item["id"], {"action": "transition", "to": "resolved"})
    alice.engine.submit(item["id"], {"action": "note", "body": "kept"})
    r = await sqlite_api.act("alice", item["id"], "transition", version=2,
                             to="pending_customer")  # alice, from another terminal
    assert r.status_code == 200, r.text
    alice.net.online = True
    report = await alice.engine.flush()
    assert [o.op_id for o in report.conflicts] == [move.op_id]

    dropped = alice.engine.discard(move.op_id)
    assert dropped is not None and dropped.op_id == move.op_id
    report = await alice.engine.flush()
    assert [o.verb for o in report.sent] == ["note"]
    server = await sqlite_api.get("alice", item["id"])
    assert server["status"] == "pending_customer"
    assert server["timeline"][-1]["body"] == "kept"
    assert alice.engine.outbox.all() == []


async def test_a_403_fails_the_op_rolls_back_its_view_and_blocks_nothing_else(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await claimed(sqlite_api, alice := clients("alice"))
    other = await sqlite_api.item("bob")
    await alice.engine.pull()
    alice.net.online = False
    move = alice.engine.submit(item["id"], {"action": "transition", "to": "pending_customer"})
    note = alice.engine.submit(other["id"], {"action": "note", "body": "still goes"})
    shown = alice.engine.local_item(item["id"])
    assert shown is not None and shown.status == "pending_customer"  # optimistic
    r = await sqlite_api.act("lee", item["id"], "assign", version=2, to="bob",
                             note="bob takes over")
    assert r.status_code == 200, r.text

    alice.net.online = True
    report = await alice.engine.flush()
    assert [o.op_id for o in report.failed] == [move.op_id]
    assert [o.op_id for o in report.sent] == [note.op_id]
    failed = alice.engine.outbox.get(move.op_id)
    assert failed is not None and failed.state == "failed"
    assert failed.error_type == "not-owner" and "bob" in (failed.error or "")
    assert alice.engine.status.failed == 1 and alice.engine.status.pending == 0
    local = alice.engine.local_item(item["id"])
    assert local is not None and local.status == "open"  # rolled back
    await alice.engine.pull()
    local = alice.engine.local_item(item["id"])
    assert local is not None and (local.owner, local.status) == ("bob", "open")
    # kept with its reason until the agent decides; flushing again does not resend it
    report = await alice.engine.flush()
    assert report.sent == report.failed == []
    assert alice.engine.outbox.get(move.op_id) is not None


async def test_a_422_fails_the_op_with_the_servers_reason_and_later_ops_still_go(
        sqlite_api: Api, clients: MakeClient) -> None:
    item = await sqlite_api.item("bob")
    lee = clients("lee")
    await lee.engine.pull()
    bad = lee.engine.submit(item["id"], {"action": "assign", "to": "nobody",
                                         "note": "to a user who does not exist"})
    good = lee.engine.submit(item["id"], {"action": "note", "body": "after the refusal"})
    report = await lee.engine.flush()
    assert [o.op_id for o in report.failed] == [bad.op_id]
    assert [o.op_id for o in report.sent] == [good.op_id]
    failed = lee.engine.outbox.get(bad.op_id)
    assert failed is not None and failed.error_type == "unknown-assignee"
    assert "nobody" in (failed.error or "")
    server = await sqlite_api.get("lee", item["id"])
    assert server["owner"] is None and server["timeline"][-1]["body"] == "after the refusal"
    local = lee.engine.local_item(item["id"])
    assert local is not None and local.owner is None


async def test_an_item_created_offline_shows_provisionally_then_gets_its_server_id(
        sqlite_api: Api, clients: MakeClient) -> None:
    customer = await sqlite_api.customer("bob")
    alice = clients("alice")
    await alice.engine.pull()
    alice.net.online = False
    op = alice.engine.submit_new_item({"kind": "ticket", "category": "repair",
                                       "subject": "离线新建", "customer_id": customer["id"]})
    overrides = alice.engine.view_overrides()
    assert [(i, v.subject) for i, v in overrides.items()] == [(-op.order, "离线新建")]

    alice.net.online = True
    report = await alice.engine.flush()
    created = report.results[op.op_id]
    assert created["id"] > 0 and created["subject"] == "离线新建"
    assert alice.engine.outbox.all() == [] and alice.engine.view_overrides() == {}
    assert alice.engine.cache.item(created["id"]) is not None
    report = await alice.engine.flush()  # nothing left: no second item
    assert server_rows(sqlite_api, "SELECT COUNT(DISTINCT item_id), COUNT(DISTINCT seq) "
                       "FROM events WHERE idempotency_key = ?", op.op_id) == [(1, 1)]


async def test_a_supervisor_client_changes_nothing_even_past_its_own_rules(
        sqlite_api: Api, clients: MakeClient) -> None:
    """Promise 3: the client refuses first, and an op forced into the outbox anyway
    (a modified client, a hand-edited file) is refused by the server and kept."""
    item = await sqlite_api.item("bob")
    sue = clients("sue")
    await sue.engine.pull()
    with pytest.raises(DomainError):
        sue.engine.submit(item["id"], {"action": "note", "body": "a supervisor's note"})
    forced = sue.engine.outbox.append(Op.new("action", {"action": "claim"},
                                             item_id=item["id"], base_version=1))
    report = await sue.engine.flush()
    assert [o.op_id for o in report.failed] == [forced.op_id]
    failed = sue.engine.outbox.get(forced.op_id)
    assert failed is not None and failed.error_type == "read-only"
    server = await sqlite_api.get("sue", item["id"])
    assert (server["owner"], server["version"]) == (None, 1)
