"""The demo: seeded data that looks like a real centre's (every status of every
kind, Chinese and English customers, every tier and flag, SLA clocks in every
state), contact details masked on the feed, no second seeding, a simulator
that moves the queue without errors and stops when cancelled, and `csq serve
--demo` / `csq demo` as real processes that stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from csq.domain.kinds import CATEGORIES, Kind
from csq.domain.lifecycle import statuses
from csq.domain.priority import Tier
from csq.domain.records import Customer, Item
from csq.domain.sla import SlaState, sla_state
from csq.server import models
from csq.server.app import create_app
from csq.server.config import ServerSettings
from csq.server.demo import scenarios, start_demo
from csq.server.demo.plan import TRANSIENT
from csq.server.demo.seed import seed
from csq.server.demo.simulate import KEEP_UNCLAIMED, Simulator
from csq.server.demo.staff import ROSTER, Staff
from tests.support.api import Api, running_api
from tests.support.process import ROOT, environ, start

in_module_loop = pytest.mark.asyncio(loop_scope="module")
MASKED_PHONE = re.compile(r"^1\d\d\*{4}\d{4}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
FLAGS = ("vip", "member", "key_account", "special_care", "watch")


@dataclass
class Seeded:
    api: Api
    url: str
    tokens: dict[str, str]
    seconds: float

    async def items(self) -> list[Item]:
        async with self.api.app.state.service.sessions() as session:
            docs = (await session.execute(select(models.Item.doc))).scalars().all()
        return [Item.model_validate(d) for d in docs]

    async def customers(self) -> list[Customer]:
        async with self.api.app.state.service.sessions() as session:
            docs = (await session.execute(select(models.Customer.doc))).scalars().all()
        return [Customer.model_validate(d) for d in docs]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    """One seeded database for the module, at the test clock's fixed `now`."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo') / 'csq.db'}"
    async with running_api(url) as api:
        started = time.perf_counter()
        tokens = await seed(api.app, 7, say=lambda _: None)
        seconds = time.perf_counter() - started
        api.tokens.update(tokens)
        yield Seeded(api, url, tokens, seconds)


# -- the seeded data --------------------------------------------------------------------------

@in_module_loop
async def test_seed_returns_a_token_for_every_demo_user(seeded: Seeded) -> None:
    assert set(seeded.tokens) == {m.username for m in ROSTER}
    for member in ROSTER:
        me = (await seeded.api.client(member.username).get("/v1/me")).json()
        assert (me["username"], me["role"]) == (member.username, member.role.value)
    print(f"seeding took {seeded.seconds:.2f} s")


@in_module_loop
async def test_the_walls_depth_chart_shows_the_seeded_hours_not_an_empty_past(
        seeded: Seeded) -> None:
    # The server drew the chart's past at start, from an empty database; the seed
    # wrote ten days with past times: the last six hours must show them.
    depth = list(seeded.api.app.state.metrics.depth)
    assert len(depth) >= 72 - 1  # six hours of five-minute points
    assert min(depth[:12]) > 0  # the oldest hour already had items waiting
    assert len(set(depth)) > 3  # and the queue moved through those hours


@in_module_loop
async def test_seed_reaches_every_status_of_every_kind_through_real_actions(
        seeded: Seeded) -> None:
    items = await seeded.items()
    assert len(items) >= 300
    resting = Counter((i.kind, i.status) for i in items)
    passed = {(i.kind, e.data["to"]) for i in items for e in i.timeline if e.type == "transition"}
    for kind in Kind:
        for status in statuses(kind):
            if status in TRANSIENT.get(kind, frozenset()):
                assert (kind, status) in passed, f"no {kind} ever went through {status}"
            else:
                assert resting[(kind, status)] >= 3, f"too few {kind} in {status}"
        categories = {i.category for i in items if i.kind == kind}
        assert categories == set(CATEGORIES[kind])
    # The side effects are the service's own: complaint replies made callbacks,
    # claims set first owners, unhappy callbacks reopened their complaints.
    by_id = {i.id: i for i in items}
    spawned = [i for i in items if i.parent_id is not None]
    assert len(spawned) >= 30
    assert all(by_id[c.parent_id].customer_id == c.customer_id for c in spawned
               if c.parent_id is not None)
    for complaint in (i for i in items if i.kind == Kind.COMPLAINT
                      and i.status in ("callback_pending", "reopened")):
        assert any(c.parent_id == complaint.id for c in spawned), complaint.id
    reopened = [i for i in items if i.status == "reopened"]
    assert all(i.timeline[-1].type == "transition" and "unsatisfied" in (i.timeline[-1].body or "")
               for i in reopened)
    owned = [i for i in items if i.owner is not None]
    assert all(i.first_owner is not None for i in owned)
    assert any(i.first_owner != i.owner for i in owned)  # handed over at a shift change
    assert any(i.escalation is not None for i in items)


@in_module_loop
async def test_seeded_timelines_are_spread_over_ten_days_and_in_order(seeded: Seeded) -> None:
    now = seeded.api.clock()
    items = await seeded.items()
    ages = [now - i.created_at for i in items]
    assert max(ages) <= timedelta(days=10, hours=1)
    assert min(ages) >= timedelta(0) and max(ages) >= timedelta(days=7)
    assert sum(age < timedelta(days=1) for age in ages) >= 20
    for item in items:
        times = [e.at for e in item.timeline]
        assert times == sorted(times), item.id
        assert times[-1] <= now and item.timeline[0].type == "created"


@in_module_loop
async def test_seeded_customers_are_chinese_and_english_with_every_tier_and_flag(
        seeded: Seeded) -> None:
    customers = await seeded.customers()
    assert len(customers) >= 100
    names = [c.name for c in customers]
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", n)) for n in names) >= 60
    assert sum(bool(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", n)) for n in names) >= 5
    assert {c.tier for c in customers} == set(Tier)
    for flag in FLAGS:
        assert any(getattr(c, flag) for c in customers), flag
    assert all(c.phone is not None and MOBILE.match(c.phone) for c in customers)
    assert len({c.phone for c in customers}) == len(customers)
    emails = [c.email for c in customers if c.email]
    assert len(emails) >= 50 and all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", e) for e in emails)


@in_module_loop
async def test_seeded_queue_has_breached_at_risk_and_healthy_clocks_now(seeded: Seeded) -> None:
    now = seeded.api.clock()
    policy = seeded.api.app.state.service.policy
    open_items = [i for i in await seeded.items() if i.status not in
                  ("closed", "completed", "waived")]
    states = Counter(sla_state(i, now, policy) for i in open_items)
    assert states[SlaState.BREACHED] >= 10
    assert states[SlaState.AT_RISK] >= 5
    assert states[SlaState.OK] >= 30
    assert sum(i.owner is None for i in open_items) >= KEEP_UNCLAIMED  # work for the human
    assert sum(i.owner == "wangli" for i in open_items) >= 5  # and some already theirs


@in_module_loop
async def test_changes_feed_masks_every_contact_detail(seeded: Seeded) -> None:
    client = seeded.api.client("chenjing")  # the supervisor reads everything
    after, pages, customers = 0, 0, []
    texts = []
    while True:
        r = await client.get("/v1/changes", params={"after": after, "limit": 200})
        assert r.status_code == 200, r.text
        page = r.json()
        texts.append(r.text)
        customers += page["customers"]
        after, pages = page["next"], pages + 1
        if page["end_of_stream"]:
            break
    assert len(customers) >= 100 and pages >= 2
    assert all(MASKED_PHONE.match(c["phone"]) for c in customers)
    assert all(c["email"] is None or re.fullmatch(r".\*\*\*@\S+", c["email"])
               for c in customers)
    whole = "".join(texts)
    for real in await seeded.customers():
        assert real.phone is not None and real.phone not in whole
        assert real.email is None or real.email not in whole


@in_module_loop
async def test_seeding_again_changes_nothing(seeded: Seeded) -> None:
    before_items, before_customers = len(await seeded.items()), len(await seeded.customers())
    said: list[str] = []
    assert await seed(seeded.api.app, 8, say=said.append) == {}
    assert "already holds" in said[0]
    assert len(await seeded.items()) == before_items
    assert len(await seeded.customers()) == before_customers


def test_every_kind_and_category_has_scenarios_in_both_languages() -> None:
    assert scenarios.missing_categories() == []
    for kind in Kind:
        langs = {s.lang for s in scenarios.SCENARIOS if s.kind == kind}
        assert langs == {"zh", "en"}
    zh = sum(s.lang == "zh" for s in scenarios.SCENARIOS)
    assert zh > 2 * (len(scenarios.SCENARIOS) - zh)  # mostly Chinese


# -- live traffic --------------------------------------------------------------------------

@in_module_loop
async def test_simulator_moves_the_queue_without_errors_and_spares_the_human(
        seeded: Seeded) -> None:
    service = seeded.api.app.state.service
    staff = await Staff.load(service.sessions, "test")
    before = {i.id: i for i in await seeded.items()}
    head = seeded.api.app.state.hub.head
    simulator = Simulator(service, staff, rate=500, seed=3)
    stats = await asyncio.wait_for(simulator.run(max_actions=120), timeout=120)
    assert stats.failed == 0, stats
    assert stats.ok >= 40, stats
    assert {"arrive", "claim", "work"} <= set(stats.moves), stats
    after = {i.id: i for i in await seeded.items()}
    assert seeded.api.app.state.hub.head > head
    assert len(after) > len(before)  # customers called in
    moved = [i for i in before if after[i].status != before[i].status]
    assert len(moved) >= 5
    assert all(after[i].version == before[i].version for i in before
               if before[i].owner == "wangli")  # the human's own items are theirs alone
    waiting = [i for i in after.values() if i.owner is None
               and i.status not in ("closed", "completed", "waived")]
    assert len(waiting) >= KEEP_UNCLAIMED


@in_module_loop
async def test_simulator_started_by_the_demo_stops_with_the_app(seeded: Seeded) -> None:
    """A second app on the same database: `start_demo` without a seed only simulates,
    and leaving the app's lifespan cancels the simulator before the database closes."""
    app = create_app(ServerSettings(db=seeded.url))
    said: list[str] = []
    async with app.router.lifespan_context(app):
        demo = await start_demo(app, seed=None, rate=200, say=said.append)
        assert demo.task is not None and demo.task in app.state.background_tasks
        head = app.state.hub.head
        for _ in range(200):
            await asyncio.sleep(0.05)
            if app.state.hub.head > head + 3:
                break
        assert app.state.hub.head > head
    assert demo.task.done() and demo.task.cancelled()
    assert demo.simulator is not None and demo.simulator.stats.failed == 0
    assert any("simulating" in line for line in said)


# -- real processes ---------------------------------------------------------------------------

TOKEN_LINE = re.compile(r"^\s+(agent|lead|supervisor|admin)\s+(\S+)\s+.*\s(csq_\S+)$", re.M)


@pytest.mark.process
def test_csq_serve_demo_prints_tokens_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'csq.db'}"
    server = start("--demo", "--simulate", "5", "--port", "0", "--db", db,
                   tmp=tmp_path, timeout=120)
    try:
        printed = server.out.read_text()
        tokens = {user: token for _, user, token in TOKEN_LINE.findall(printed)}
        assert set(tokens) == {m.username for m in ROSTER}, printed
        assert "csq login --server" in printed and "csq-demo" in printed
        with httpx.Client(base_url=server.url, timeout=10) as http:
            auth = {"Authorization": f"Bearer {tokens['chenjing']}"}
            first = http.get("/v1/changes", params={"after": 0, "limit": 1000}, headers=auth)
            assert first.status_code == 200, first.text
            assert len(first.json()["items"]) + len(first.json()["customers"]) > 0
            seq = http.get("/healthz").json()["seq"]
            deadline = time.monotonic() + 20
            while http.get("/healthz").json()["seq"] == seq and time.monotonic() < deadline:
                time.sleep(0.2)
            assert http.get("/healthz").json()["seq"] > seq  # the simulator is writing
        code, took = server.stop(signal.SIGINT, timeout=20)
        assert code == 0 and took < 10
        assert "Traceback" not in server.stderr() and "Error" not in server.stderr(), \
            server.stderr()
    finally:
        server.kill()


@pytest.mark.process
def test_csq_demo_runs_on_temporary_data_and_stops_on_sigterm(tmp_path: Path) -> None:
    out, err = tmp_path / "demo.out", tmp_path / "demo.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "csq", "demo", "--as", "supervisor",
                                 "--simulate", "5"], env=environ(), cwd=ROOT,
                                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while "stop " not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, err.read_text()
            time.sleep(0.1)
        printed = out.read_text()
        url = re.search(r"server\s+(http://\S+)", printed)
        token = re.search(r"token\s+(csq_\S+)", printed)
        data = re.search(r"data\s+(\S+)", printed)
        assert url and token and data, printed
        db_dir = Path(data.group(1))
        assert db_dir.is_dir()
        me = httpx.get(f"{url.group(1)}/v1/me", timeout=10,
                       headers={"Authorization": f"Bearer {token.group(1)}"})
        assert me.json()["role"] == "supervisor" and me.json()["username"] == "chenjing"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert not db_dir.exists()
        assert "Traceback" not in err.read_text(), err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

