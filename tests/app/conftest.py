"""Fixtures for driving the terminal app with Textual's pilot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from csq.app import CsqApp
from csq.config import Login, UiConfig
from csq.domain.roles import Role
from csq.store import Profile
from csq.sync import make_http
from tests.support.api import USERS
from tests.support.live import LiveServer, live_server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(f"sqlite+aiosqlite:///{tmp_path / 'server.db'}") as live:
        yield live


def make_app(server: LiveServer, user: str, tmp_path: Path, *, lang: str = "en",
             ui: UiConfig | None = None) -> CsqApp:
    role, name = USERS[user]
    token = server.api.tokens[user]
    login = Login(server=server.url, username=user, name=name, role=Role(role), token=token)
    profile = Profile.for_user(server.url, user, root=tmp_path / "profiles")
    return CsqApp(login, make_http(server.url, token), ui or UiConfig(), profile=profile,
                  lang=lang, clock=lambda: server.api.clock.now)


async def wait_for(pilot: object, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition` holds (sync and stream are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)  # type: ignore[attr-defined]
