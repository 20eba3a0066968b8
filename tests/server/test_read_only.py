"""Promise 3: a read-only (supervisor) token cannot change anything, whatever
the client sends.

Every mutating route comes from the app's own OpenAPI schema, so a route added
later is covered without editing this file. Each gets, with the supervisor's
token: a valid request (the same one then succeeds for an agent), malformed
JSON, an empty body and a body over the 64 KiB cap, sent with and without a
Content-Length. Every answer is 403 problem+json, and a dump of the whole
database (seq counter, events, idempotency records, tokens…) is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from csq.api import PROBLEM_BASE
from csq.server.gate import PUBLIC
from csq.server.problems import MEDIA_TYPE
from tests.support.api import Api
from tests.support.dbdump import assert_unchanged, dump
from tests.support.openapi import MUTATING, fill, ids, operations, schema

WRITES = [(m, p) for m, p in operations(*MUTATING) if p not in PUBLIC]
READS = [(m, p) for m, p in operations("GET") if p not in PUBLIC]
CAP = 64 * 1024


@dataclass
class World:
    customer: int
    owned: int  # claimed by alice
    fresh: int  # new, unclaimed

    @property
    def params(self) -> dict[str, int | str]:
        return {"item_id": self.fresh, "customer_id": self.customer, "name": "weekly"}


async def _world(api: Api) -> World:
    customer = await api.customer()
    owned = await api.item(customer_id=customer["id"])
    r = await api.act("alice", owned, "claim")
    assert r.status_code == 200, r.text
    fresh = await api.item(customer_id=customer["id"], subject="账单有误 wrong bill")
    return World(customer["id"], owned["id"], fresh["id"])


# A request that an agent may really make on each route, so that the 403 is
# shown to be about the token and not about the request. A route not listed
# here is still checked with every malformed body, just not with a valid one.
Valid = Callable[[World], tuple[dict[str, Any], dict[str, str]]]
VALID: dict[tuple[str, str], Valid] = {
    ("POST", "/v1/items"): lambda w: ({"kind": "ticket", "category": "repair",
                                       "subject": "停电了 power cut", "customer_id": w.customer},
                                      {}),
    ("POST", "/v1/items/{item_id}/actions"): lambda w: ({"action": "claim"}, {"If-Match": '"1"'}),
    ("POST", "/v1/customers"): lambda w: ({"name": "王芳", "phone": "13900001111"}, {}),
    ("POST", "/v1/customers/{customer_id}/reveal"): lambda w: ({"item_id": w.owned}, {}),
    ("POST", "/v1/presence"): lambda w: ({"item_id": w.owned, "state": "composing"}, {}),
    ("POST", "/v1/handovers"): lambda w: ({"note": "交接: 客户待回电"}, {}),
}


async def _chunks(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def _bodies(valid: bytes) -> list[tuple[str, Any, dict[str, str]]]:
    """(label, content, extra headers) of every body the supervisor tries."""
    oversized = b'{"name": "' + b"x" * (CAP + 10) + b'"}'
    return [
        ("valid", valid, {}),
        ("valid with a method override", valid, {"X-HTTP-Method-Override": "GET"}),
        ("malformed JSON", b'{"action": "claim",', {}),
        ("empty", b"", {}),
        ("over 64 KiB with Content-Length", oversized, {}),
        ("over 64 KiB chunked", _chunks(oversized), {}),
    ]


def _assert_read_only(r: httpx.Response, what: str) -> None:
    assert r.status_code == 403, f"{what}: {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith(MEDIA_TYPE), what
    assert r.json()["type"] == PROBLEM_BASE + "read-only", f"{what}: {r.text[:300]}"


async def _send(api: Api, user: str, method: str, url: str, content: Any,
                headers: dict[str, str]) -> httpx.Response:
    h = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json", **headers}
    return await api.client(user).request(method, url, content=content, headers=h)


@pytest.mark.parametrize(("method", "path"), WRITES, ids=ids(WRITES))
async def test_supervisor_token_cannot_write_through_any_mutating_route(
        api: Api, method: str, path: str) -> None:
    world = await _world(api)
    url = fill(path, world.params)
    body, headers = VALID.get((method, path), lambda w: ({}, {}))(world)
    valid = json.dumps(body, ensure_ascii=False).encode()
    engine = api.app.state.engine
    before = await dump(engine)
    for label, content, extra in _bodies(valid):
        r = await _send(api, "sue", method, url, content, {**headers, **extra})
        _assert_read_only(r, f"{method} {url} with a {label} body")
        assert_unchanged(before, await dump(engine), f"{method} {url} with a {label} body")
    if (method, path) in VALID:  # the same request is a real one: an agent may make it
        r = await _send(api, "alice", method, url, valid, headers)
        assert r.status_code < 300, f"control request by an agent failed: {r.text[:300]}"


async def test_supervisor_token_cannot_write_with_undocumented_methods_or_paths(
        api: Api) -> None:
    world = await _world(api)
    engine = api.app.state.engine
    before = await dump(engine)
    documented = schema()["paths"]
    tried = []
    for path, ops in documented.items():
        if path in PUBLIC:
            continue
        for method in MUTATING:
            if method.lower() not in ops:
                tried.append((method, fill(path, world.params)))
    tried += [("POST", "/v1/nothing-here"), ("DELETE", f"/v1/items/{world.owned}/timeline"),
              ("PUT", "/v1/seq"), ("POST", "/v1/items/")]
    for method, url in tried:
        r = await _send(api, "sue", method, url, b'{"status": "closed"}', {"If-Match": '"1"'})
        _assert_read_only(r, f"{method} {url}")
    assert_unchanged(before, await dump(engine), "undocumented writes")


async def _stream_briefly(api: Api, user: str, query: str, *, events: int = 1,
                          timeout: float = 5.0) -> tuple[int, bytes]:
    """Open GET /v1/events straight on the ASGI app (httpx's ASGI transport
    waits for a body that never ends), read until `events` data events have
    arrived, then hang up."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/v1/events", "raw_path": b"/v1/events",
        "query_string": query.encode(), "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("csq.test", 80),
        "headers": [(b"host", b"csq.test"), (b"accept", b"text/event-stream"),
                    (b"authorization", f"Bearer {api.tokens[user]}".encode())],
    }
    hung_up = asyncio.Event()
    enough = asyncio.Event()
    status = 0
    body = bytearray()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if body.count(b"\ndata:") >= events or not message.get("more_body"):
                enough.set()

    app: Any = api.app  # a plain ASGI call; FastAPI's signature wants Starlette's types
    task = asyncio.create_task(app(scope, receive, send))
    try:
        await asyncio.wait_for(enough.wait(), timeout)
    finally:
        hung_up.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), 1.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return status, bytes(body)


async def test_supervisor_reads_change_nothing(api: Api) -> None:
    world = await _world(api)
    await api.act("bob", world.fresh, "note", body="客户来电催促")
    engine = api.app.state.engine
    before = await dump(engine)
    sue = api.client("sue")
    for method, path in READS:
        url = fill(path, world.params)
        if path == "/v1/events":
            status, raw = await _stream_briefly(api, "sue", "after=0")
            assert status == 200 and b"event: change" in raw, raw[:300]
        else:
            r = await sue.get(url)
            assert r.status_code == 200, f"{method} {url}: {r.text[:300]}"
    for url, params in (("/v1/items", {"owner": "alice"}), ("/v1/items", {"kind": "ticket"}),
                        ("/v1/changes", {"after": 0, "limit": 1}),
                        ("/v1/changes", {"after": 10**6})):
        r = await sue.get(url, params=params)
        assert r.status_code == 200, r.text
    r = await sue.get(f"/v1/items/{world.owned}")
    again = await sue.get(f"/v1/items/{world.owned}",
                          headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert_unchanged(before, await dump(engine), "a supervisor's reads")
