"""Promises 1 and 2 against crashes of the client: `csq do` and `csq sync`
SIGKILLed at random moments, 60 times (see crash_driver.py). Afterwards the
cache always opens, and every acknowledged action is in the outbox or on the
server; after one clean `csq sync`, each is on the server exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from csq.store import Outbox
from tests.cli.conftest import Machine, clean
from tests.support.client import ROOT, LiveServer, seed

pytestmark = pytest.mark.process

RUNS = 60


def test_sigkilled_client_never_loses_or_doubles_an_acknowledged_action(
        live: LiveServer, machine: Machine, tmp_path: Path) -> None:
    items = [live.item("bob")["id"] for _ in range(3)]
    alice = machine(live)
    seed(alice, live)
    work = tmp_path / "crashes"
    work.mkdir()
    config = work / "config.json"
    config.write_text(json.dumps({"workdir": str(work), "server_db": str(live.db_path),
                                  "items": items, "runs": RUNS, "seed": 20261123}))
    driver = subprocess.run([sys.executable, "-m", "tests.cli.crash_driver", str(config)],
                            env=alice.env(), cwd=ROOT, capture_output=True, text=True,
                            timeout=180)
    assert driver.returncode == 0, driver.stderr

    results = [json.loads(line) for line in (work / "results.jsonl").read_text().splitlines()]
    assert len(results) == RUNS
    for r in results:
        assert r["problems"] == [], r
        assert "Traceback" not in r["stderr"], r
        assert r["killed"] or r["rc"] == 0, r
    assert not results[0]["killed"] and not results[1]["killed"]  # the timing runs
    killed = [r for r in results if r["killed"]]
    assert len(killed) >= RUNS // 3, "too few runs were killed mid-way to mean anything"
    assert any("done:" in r["stdout"] for r in results if r["mode"] == "do")
    # Some kills should fall between the server's answer and the outbox's ack (the
    # window that would double an action without idempotency keys); report how many.
    print(f"runs killed: {len(killed)}; kills with an applied op still queued: "
          f"{sum(r['in_flight'] > 0 for r in results)}")

    clean(alice.run("sync"))
    assert Outbox(alice.profile(live.url, "alice").outbox_path).all() == []
    acknowledged = json.loads((work / "acknowledged.json").read_text())
    applied = live.note_bodies()
    for body in acknowledged["notes"]:
        assert applied[body] == 1, body
    assert max(applied.values()) == 1, applied.most_common(3)  # none twice, acked or not
    per_key = live.events_per_key()
    for key in acknowledged["keys"]:
        assert per_key.get(key) == (1, 1), key
    assert all(seqs == 1 for _, seqs in per_key.values())
    tags = {t for i in items for t in live.get("alice", i)["tags"]}
    assert {f"t{r['run']}" for r in results if r["mode"] == "sync"} <= tags
