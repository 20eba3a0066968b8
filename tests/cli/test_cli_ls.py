"""`csq ls` lists the queue the app shows: the same order (breached, priority,
tier, time left), finished items only with --all, and each filter as named."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Machine, clean
from tests.support.client import LiveServer, seed

pytestmark = pytest.mark.process


def ids(run: object) -> list[int]:
    return [row["id"] for row in json.loads(clean(run).out)]  # type: ignore[arg-type]


def test_ls_lists_in_queue_order_and_filters_as_asked(
        shared: LiveServer, machine: Machine) -> None:
    low = shared.item("bob", priority="P3")["id"]
    complaint = shared.item("bob", kind="complaint", category="service",
                            subject="客服态度恶劣")["id"]
    urgent = shared.item("bob", priority="P1")["id"]
    shared.act("alice", urgent, "claim")
    done = shared.item("bob", priority="P1")["id"]
    shared.act("alice", done, "claim")
    shared.act("alice", done, "transition", to="resolved")
    shared.act("alice", done, "transition", to="closed")
    alice = machine(shared)
    seed(alice, shared)

    listed, everything, complaints, mine, table = alice.run_many(
        ["ls", "--json"], ["ls", "--all", "--json"], ["ls", "--kind", "complaint", "--json"],
        ["ls", "--mine", "--json"], ["ls"])
    assert ids(listed) == [urgent, complaint, low]  # P1, then the complaint's P2, then P3
    assert done in ids(everything) and set(ids(everything)) == {urgent, complaint, low, done}
    assert ids(complaints) == [complaint]
    assert ids(mine) == [urgent]
    shown = json.loads(listed.out)[0]
    assert shown["timeline"] and shown["pending"] is False  # whole records in --json
    lines = clean(table).out.splitlines()
    assert lines[0].split()[:3] == ["ID", "KIND", "PRI"] and "客服态度恶劣" in table.out
    assert [int(line.split()[0]) for line in lines[1:4]] == [urgent, complaint, low]
