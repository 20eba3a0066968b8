"""`csq serve --demo --simulate RATE`: a busy centre's data, and live traffic.

`demo_hook` is what `csq serve` runs once the server listens: it seeds a fresh
database (seed.py), prints who can log in, and starts the simulator
(simulate.py). Everything it starts is put on `app.state.background_tasks`,
which the app cancels at shutdown before it closes the database, so Ctrl-C
or SIGTERM stop the demo as cleanly as the bare server.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI

from csq.server.demo.seed import seed as seed_database
from csq.server.demo.simulate import SimStats, Simulator
from csq.server.demo.staff import DEMO_PASSWORD, ROSTER, Staff, human_for

log = logging.getLogger("csq.server.demo")
Say = Callable[[str], None]

__all__ = ["DEMO_PASSWORD", "Demo", "demo_hook", "seed_database", "start_demo"]


@dataclass
class Demo:
    """What the demo started in one app."""

    tokens: dict[str, str] = field(default_factory=dict)
    simulator: Simulator | None = None
    task: asyncio.Task[SimStats] | None = None


def demo_hook(seed: int | None, rate: float) -> Callable[[FastAPI], Awaitable[None]]:
    """The `after_start` hook for `csq serve --demo [--seed N] [--simulate RATE]`."""

    async def hook(app: FastAPI) -> None:
        await start_demo(app, seed=seed, rate=rate)

    return hook


async def start_demo(app: FastAPI, *, seed: int | None, rate: float, say: Say = print,
                     announce: bool = True) -> Demo:
    """Seed (when `seed` is given) and simulate (when `rate` > 0) in a running app.

    A failure is reported and the server goes on without the demo part that
    failed: a half-started demo is more use than a dead one.
    """
    demo = Demo()
    app.state.demo = demo
    tasks: list[asyncio.Task[object]] = app.state.background_tasks
    if seed is not None:
        seeding = asyncio.create_task(_seed(app, seed, say), name="csq-demo-seed")
        tasks.append(seeding)  # a stop during seeding cancels it before the db closes
        tokens = await seeding
        demo.tokens = tokens or {}
        if tokens and announce:
            _announce(tokens, getattr(app.state, "url", ""), say)
        elif tokens is not None and announce:  # seeded before: tokens are shown only once
            db = app.state.settings.db
            say(f"csq demo: for a token: csq admin token {human_for('agent').username} --db {db}")
    if rate > 0:
        service = app.state.service
        try:
            staff = await Staff.load(service.sessions, "csq-demo-simulator")
            demo.simulator = Simulator(service, staff, rate, seed=seed)
        except ValueError as exc:
            say(f"csq demo: no live traffic: {exc}")
            return demo
        demo.task = asyncio.create_task(demo.simulator.run(), name="csq-demo-simulator")
        tasks.append(demo.task)
        if announce:
            say(f"csq demo: simulating other agents and customers at {rate:g} actions/s")
    return demo


async def _seed(app: FastAPI, seed_value: int, say: Say) -> dict[str, str] | None:
    """The demo users' tokens; {} if the database had items already; None if it failed."""
    try:
        return await seed_database(app, seed_value, say=say)
    except Exception as exc:
        log.error("demo seeding failed", exc_info=True)
        say(f"csq demo: could not create the demo data: {exc}")
        return None


def _announce(tokens: dict[str, str], url: str, say: Say) -> None:
    """One line per demo user, then how to log in with a token or a password."""
    say(f'csq demo: demo users (password "{DEMO_PASSWORD}" for each):')
    for member in ROSTER:
        if member.username in tokens:
            say(f"  {member.role.value:<10} {member.username:<9} {_pad(member.name, 18)} "
                f"{tokens[member.username]}")
    agent = human_for("agent").username
    server = url or "http://HOST:PORT"
    say(f"csq demo: log in with  csq login --server {server} --token {tokens.get(agent, '<token>')}"
        f"   (or --user {agent} and the password)")


def _pad(text: str, width: int) -> str:
    """Left-justify in terminal columns: a Chinese character takes two."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 0)
