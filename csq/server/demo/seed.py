"""Fill a fresh database with ten days of a busy centre's work.

`seed(app, seed)` creates the demo users (returning their tokens), a hundred
and twenty customers, and a few hundred items told through the real write
path (see driver.py and stories.py). It refuses to touch a database that
already holds items: a demo must never mix into real work.

Speed matters (it runs while `csq serve --demo` starts), so the stories are
told in batches of many per transaction; each batch's records share one seq,
which the changes feed handles like any other commit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from csq.api.lead import HandoverRequest
from csq.domain.kinds import Channel, Kind
from csq.domain.records import ItemDraft
from csq.domain.roles import Role
from csq.server import admin, handovers, repo
from csq.server.demo import people as people_mod
from csq.server.demo.driver import Driver, SettableClock
from csq.server.demo.people import Persona
from csq.server.demo.plan import Plan, make_plans
from csq.server.demo.staff import AGENTS, DEMO_PASSWORD, ROSTER, Staff
from csq.server.demo.stories import Story, tell
from csq.server.service import Service

BATCH = 60  # stories per transaction: few commits, yet no single huge one
CUSTOMERS = 120
CLIENT = "csq-demo-seed"


class SeedError(RuntimeError):
    """The seed's own action was refused: a bug in the demo, not bad input."""


async def seed(app: FastAPI, seed: int, *, say: Callable[[str], None] = print) -> dict[str, str]:
    """Seed a fresh database; return {username: token}, or {} if it holds items already."""
    live: Service = app.state.service
    existing = await live.db.read(repo.count_items)
    if existing:
        say(f"csq demo: the database already holds {existing} items; not seeding it again")
        return {}
    started = time.perf_counter()
    tokens = await _users(app)
    rng = random.Random(seed)
    now = live.clock()
    clock = SettableClock(now)
    service = Service(live.sessions, live.db, live.policy, app.state.hub, clock=clock)
    staff = await Staff.load(live.sessions, CLIENT)
    driver = Driver(service, clock, staff)
    crowd = people_mod.personas(rng, CUSTOMERS)
    customer_ids = await _customers(service, clock, staff, crowd, rng, seed)
    plans = make_plans(rng, now, live.policy, crowd)
    for start in range(0, len(plans), BATCH):
        batch = plans[start:start + BATCH]
        await _tell(service, driver, staff, batch, rng, crowd, customer_ids,
                    now=now, key=f"demo-seed-{seed}-{start // BATCH}")
    await _lead_work(service, driver, staff, customer_ids, now=now,
                     key=f"demo-seed-{seed}-lead")
    # The wall drew its depth chart's past when the server started, from an empty
    # database: draw it again from the ten days just written.
    await app.state.metrics.backfill(replace=True, now=now)
    total = await live.db.read(repo.count_items)
    say(f"csq demo: seeded {total} items for {len(crowd)} customers over the last 10 days "
        f"in {time.perf_counter() - started:.1f} s")
    return tokens


async def _users(app: FastAPI) -> dict[str, str]:
    """The roster's users with the demo password; an existing one just gets a new token."""
    tokens: dict[str, str] = {}
    for member in ROSTER:
        try:
            tokens[member.username] = await admin.create_user(
                app.state.engine, member.username, member.role, name=member.name,
                password=DEMO_PASSWORD)
        except admin.AdminError:
            tokens[member.username] = await admin.new_token(app.state.engine, member.username)
    return tokens


async def _write(service: Service, staff: Staff, key: str,
                 work: Callable[[Session, int], Any]) -> None:
    def run(session: Session, seq: int) -> tuple[int, dict[str, Any]]:
        work(session, seq)
        return 200, {"seeded": key}

    status, body = await service.write(staff.req(staff_lead(staff), key), run)
    if status >= 400:
        raise SeedError(f"demo seed step {key} was refused: {body.get('detail', body)}")


def staff_lead(staff: Staff) -> str:
    return next(m.username for m in ROSTER
                if m.role == Role.LEAD and m.username in staff.principals)


async def _customers(service: Service, clock: SettableClock, staff: Staff,
                     crowd: list[Persona], rng: random.Random, seed: int) -> list[int]:
    """Create the customers (long-standing ones: months to years old) and the watch list."""
    ids: list[int] = []
    now = clock.now
    key = f"demo-seed-{seed}-customers"
    lead = staff_lead(staff)

    def work(session: Session, seq: int) -> None:
        session.autoflush = False  # one flush at commit, not one per customer
        for persona in crowd:
            clock.now = now - timedelta(days=rng.uniform(30, 900))
            agent = rng.choice(AGENTS)
            customer = service.insert_customer(session, seq, staff.req(agent, key),
                                                     persona.draft)
            if persona.watch:
                _watch(session, seq, staff, lead, key, customer.id, now - timedelta(
                    days=rng.uniform(1, 25)), clock)
            ids.append(customer.id)

    await _write(service, staff, key, work)
    return ids


def _watch(session: Session, seq: int, staff: Staff, lead: str, key: str,
                 customer_id: int, at: datetime, clock: SettableClock) -> None:
    """A lead flags a customer with repeated claims (no service call for it exists yet)."""
    session.flush()
    customer = repo.load_customer(session, customer_id)
    assert customer is not None
    clock.now = at
    flagged = customer.model_copy(update={"watch": True, "version": customer.version + 1,
                                          "updated_at": at})
    repo.save_customer(session, flagged, seq)
    req = staff.req(lead, key)
    repo.append_events(session, seq, req.who, item_id=None, customer_id=customer_id,
                             client=CLIENT, key=key, extra_type="customer_watch",
                             diff={"watch": [False, True],
                                   "reason": "一个月内多次索赔,列入重点关注"})


async def _tell(service: Service, driver: Driver, staff: Staff, plans: list[Plan],
                rng: random.Random, crowd: list[Persona], customer_ids: list[int], *,
                now: datetime, key: str) -> None:

    def work(session: Session, seq: int) -> None:
        driver.begin(session, seq, key)
        for plan in plans:
            persona = crowd[plan.customer]
            story = Story(plan, driver, rng, now, service.policy,
                          customer_ids[plan.customer], persona.lang)
            tell(story)

    await _write(service, staff, key, work)


async def _lead_work(service: Service, driver: Driver, staff: Staff, customer_ids: list[int],
                     *, now: datetime, key: str) -> None:
    """What waits for a lead on the demo's first screen: two complaints about an
    agent (服务质量投诉; one follow-up already late) and a shift handed over
    that nobody has taken yet, so H, F and the wall's tiles show real work."""
    about = [("客服态度生硬, 没听完就挂断电话", "wangli", now - timedelta(days=2)),
             ("Agent promised a call back and never called", "lina", now - timedelta(hours=3))]

    def work(session: Session, seq: int) -> None:
        driver.begin(session, seq, key)
        for n, (subject, agent, at) in enumerate(about):
            driver.create("zhangwei", ItemDraft(
                kind=Kind.COMPLAINT, category="service", subject=subject,
                body="客户来电投诉接待的客服, 要求班长回复。", channel=Channel.PHONE,
                customer_id=customer_ids[n * 7 % len(customer_ids)], about_agent=agent), at)

    await _write(service, staff, key, work)
    driver.clock.now = now  # the handover is of the shift running now
    status, body = await handovers.create(
        service, staff.req("emily", f"{key}-handover"),
        HandoverRequest(note="两张停电报修在等供电所回复; 张女士的账单复核已承诺今天答复。"))
    if status >= 400:
        raise SeedError(f"demo seed step {key}-handover was refused: {body.get('detail', body)}")
