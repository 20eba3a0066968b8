"""The sync engine against the real server app: in-process (httpx.ASGITransport,
behind a switch that can take the network away) and as a real `csq serve`."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from csq.domain.engine import Actor
from csq.store import Cache, Profile
from csq.sync import SyncEngine, make_http
from tests.support.api import USERS, Api
from tests.support.client import LiveServer, live_server

BASE_URL = "http://csq.test"


class Network(httpx.AsyncBaseTransport):
    """The real app behind a switch. `online = False`: every request fails to
    connect. `cut_after(n)`: n more action POSTs get through, then the link drops.
    `lose_answers`: requests reach the server, their answers never come back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.online = True
        self.lose_answers = False
        self.actions_left: int | None = None
        self.actions_seen = 0

    def cut_after(self, actions: int) -> None:
        self.actions_left = actions

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        is_action = request.method == "POST" and request.url.path.endswith("/actions")
        if is_action and self.actions_left is not None:
            if self.actions_left == 0:
                self.online = False
                self.actions_left = None
            else:
                self.actions_left -= 1
        if not self.online:
            raise httpx.ConnectError("network is down", request=request)
        response = await self.inner.handle_async_request(request)
        if is_action:
            self.actions_seen += 1
        if self.lose_answers:
            await response.aread()
            raise httpx.ReadError("connection reset before the answer", request=request)
        return response


class Client:
    """One user's SyncEngine, its cache and its network switch."""

    def __init__(self, engine: SyncEngine, net: Network) -> None:
        self.engine = engine
        self.net = net


MakeClient = Callable[[str], Client]


@pytest.fixture
async def clients(sqlite_api: Api, tmp_path: Path) -> AsyncIterator[MakeClient]:
    made: list[tuple[httpx.AsyncClient, Cache]] = []

    def make(user: str) -> Client:
        net = Network(httpx.ASGITransport(app=sqlite_api.app))
        http = make_http(BASE_URL, sqlite_api.tokens[user], transport=net)
        profile = Profile.for_user(BASE_URL, user, root=tmp_path / "profiles" / user)
        cache = Cache(profile.cache_dir).open(write=True)
        role, name = USERS[user]
        made.append((http, cache))
        return Client(SyncEngine(profile, http, Actor(user, name, role), cache=cache), net)

    yield make
    for http, cache in made:
        await http.aclose()
        cache.close()


def server_rows(api: Api, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the in-process server's SQLite database directly."""
    path = api.db.split(":///", 1)[1]
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "server") as server:
        yield server
