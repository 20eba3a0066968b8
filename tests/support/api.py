"""An in-process csq server and clients for each role, for the API tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from csq.domain.roles import Role
from csq.server import admin
from csq.server.app import create_app
from csq.server.config import ServerSettings

USERS = {
    "alice": (Role.AGENT, "Alice Wang 王丽"),
    "bob": (Role.AGENT, "Bob Li 李博"),
    "lee": (Role.LEAD, "Lee Zhang 张磊"),
    "sue": (Role.SUPERVISOR, "Sue Chen 陈素"),
    "root": (Role.ADMIN, "Admin"),
}


class Clock:
    """A settable clock, so tests can move time without sleeping."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    app: FastAPI
    db: str
    tokens: dict[str, str]
    clock: Clock
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def client(self, user: str | None) -> httpx.AsyncClient:
        key = user or "-"
        if key not in self.clients:
            headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
            self.clients[key] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="http://csq.test",
                headers=headers, timeout=30)
        return self.clients[key]

    async def post(self, user: str, path: str, body: Any = None, *,
                   key: str | None = None, version: int | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        h = {"Idempotency-Key": key or str(uuid.uuid4())}
        if version is not None:
            h["If-Match"] = f'"{version}"'
        h.update(headers or {})
        return await self.client(user).post(path, json=body, headers=h)

    async def customer(self, user: str = "alice", **fields: Any) -> dict[str, Any]:
        body = {"name": "张伟", "phone": "13812345678", "email": "zhang.wei@example.com",
                **fields}
        r = await self.post(user, "/v1/customers", body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def item(self, user: str = "alice", **fields: Any) -> dict[str, Any]:
        if "customer_id" not in fields:
            fields["customer_id"] = (await self.customer(user))["id"]
        body = {"kind": "ticket", "category": "repair", "subject": "停电了 power cut",
                "channel": "phone", **fields}
        r = await self.post(user, "/v1/items", body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def act(self, user: str, item: dict[str, Any] | int, action: str,
                  version: int | None = None, **payload: Any) -> httpx.Response:
        item_id = item if isinstance(item, int) else item["id"]
        if version is None and not isinstance(item, int):
            version = item["version"]
        return await self.post(user, f"/v1/items/{item_id}/actions",
                               {"action": action, **payload}, version=version)

    async def get(self, user: str, item_id: int) -> dict[str, Any]:
        r = await self.client(user).get(f"/v1/items/{item_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())


async def make_users(db: str) -> dict[str, str]:
    from csq.server.db import make_engine

    engine = make_engine(db)
    try:
        return {name: await admin.create_user(engine, name, role, name=label,
                                              password=f"{name}-pass")
                for name, (role, label) in USERS.items()}
    finally:
        await engine.dispose()


@asynccontextmanager
async def running_api(db: str, **settings: Any) -> AsyncIterator[Api]:
    tokens = await make_users(db)
    clock = Clock()
    app = create_app(ServerSettings(db=db, **settings), clock=clock)
    api = Api(app, db, tokens, clock)
    async with app.router.lifespan_context(app):
        try:
            yield api
        finally:
            for c in api.clients.values():
                await c.aclose()
