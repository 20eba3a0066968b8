"""Promise 6 over HTTP: bad input gets a clear 4xx, problem+json with a csq
type and the culprit named in `field`, never a 500, and never a partial write.

Every refused request is bracketed by a dump of the whole database. The only
row a refusal may leave is its own idempotency record (a refusal inside the
write path is remembered so that a retry replays it, promise 2); everything
else, the seq counter and the audit events included, must be unchanged.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from csq.api import PROBLEM_BASE
from csq.domain.kinds import Kind
from csq.domain.lifecycle import user_transitions
from csq.server.problems import MEDIA_TYPE
from tests.support.api import Api
from tests.support.dbdump import Dump, assert_unchanged, dump
from tests.support.openapi import MUTATING, fill, ids, operations

CAP = 64 * 1024
WRITES = operations(*MUTATING)


@dataclass
class World:
    customer: int
    ticket: dict[str, Any]  # claimed by alice: open
    complaint: dict[str, Any]  # claimed by alice: registered

    @property
    def params(self) -> dict[str, int | str]:
        return {"item_id": self.ticket["id"], "customer_id": self.customer}


async def _world(api: Api) -> World:
    customer = (await api.customer())["id"]
    ticket = await api.item(customer_id=customer)
    r = await api.act("alice", ticket, "claim")
    assert r.status_code == 200, r.text
    complaint = await api.item(customer_id=customer, kind="complaint", category="service",
                               subject="服务态度差 rude staff")
    r = await api.act("alice", complaint, "claim")
    assert r.status_code == 200, r.text
    return World(customer, await api.get("alice", ticket["id"]), r.json()["item"])


def problem(r: httpx.Response, status: int, slug: str, field: str | None = None) -> dict[str, Any]:
    """The response is the problem it should be; returns its body."""
    what = f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:400]}"
    assert r.status_code == status, what
    assert r.headers["content-type"].startswith(MEDIA_TYPE), what
    body: dict[str, Any] = r.json()
    assert body["type"] == PROBLEM_BASE + slug, what
    assert body["status"] == status and body["title"] and body["detail"], what
    if field is not None:
        assert body.get("field") == field, what
    return body


class Guard:
    """Dumps the database around each refused request."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.before: Dump = {}

    async def __aenter__(self) -> Guard:
        self.before = await dump(self.api.app.state.engine)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        after = await dump(self.api.app.state.engine)
        old = self.before.pop("idempotency", [])
        new = after.pop("idempotency", [])
        assert_unchanged(self.before, after, "a refused request")
        added = [row for row in new if row not in old]
        assert len(added) <= 1 and all(row["status"] >= 400 for row in added), added
        assert all(row in new for row in old)


async def refused(api: Api, status: int, slug: str, field: str | None, method: str, url: str,
                  *, user: str | None = "alice", json_body: Any = None,
                  content: Any = None, headers: Mapping[str, str | bytes] | None = None,
                  params: dict[str, Any] | None = None) -> dict[str, Any]:
    h: dict[str, str | bytes] = {"Idempotency-Key": str(uuid.uuid4())} if method in MUTATING else {}
    h.update(headers or {})
    kwargs: dict[str, Any] = {"headers": h, "params": params}
    if content is not None:
        kwargs["content"] = content
        h.setdefault("Content-Type", "application/json")
    elif json_body is not None:
        kwargs["json"] = json_body
    async with Guard(api):
        r = await api.client(user).request(method, url, **kwargs)
        return problem(r, status, slug, field)


# -- malformed and oversized bodies --------------------------------------------------


MALFORMED = [
    ("truncated", b'{"name": "x"'),
    ("single quotes", b"{'name': 'x'}"),
    ("trailing comma", b'{"name": "x",}'),
    ("not UTF-8", b'{"name": "\xff\xfe"}'),
    ("nested too deep", b"[" * 30_000 + b"]" * 30_000),
    ("NaN", b'{"name": NaN'),
]


@pytest.mark.parametrize(("method", "path"), WRITES, ids=ids(WRITES))
async def test_malformed_json_is_400_on_every_write_route(sqlite_api: Api, method: str,
                                                          path: str) -> None:
    api = sqlite_api  # refused before the database is touched: one dialect is enough
    world = await _world(api)
    for _, raw in MALFORMED:
        await refused(api, 400, "malformed-json", None, method, fill(path, world.params),
                      content=raw)


async def _chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize(("method", "path"), WRITES, ids=ids(WRITES))
async def test_body_over_64_kib_is_413_with_or_without_content_length(
        sqlite_api: Api, method: str, path: str) -> None:
    api = sqlite_api  # refused by the gate before the database is touched
    world = await _world(api)
    url = fill(path, world.params)
    big = json.dumps({"action": "note", "name": "x", "body": "长" * (CAP // 3 + 10)}).encode()
    assert len(big) > CAP
    await refused(api, 413, "body-too-large", None, method, url, content=big)
    # No Content-Length: httpx sends a generator chunked; the gate counts as it reads.
    await refused(api, 413, "body-too-large", None, method, url, content=_chunks(big))
    # A Content-Length that claims too much is refused before anything is read.
    await refused(api, 413, "body-too-large", None, method, url, content=b"{}",
                  headers={"Content-Length": "9" * 30})
    await refused(api, 413, "body-too-large", None, method, url, content=b"{}",
                  headers={"Content-Length": "9" * 5000})  # more digits than int() takes


async def test_body_just_under_the_cap_is_parsed_not_refused(api: Api) -> None:
    world = await _world(api)
    body = {"action": "note", "body": "x" * 20_000}
    r = await api.post("alice", f"/v1/items/{world.ticket['id']}/actions", body)
    assert r.status_code == 200, r.text


# -- the body's fields ------------------------------------------------------------


def _cases(world: World) -> list[tuple[str, Any, str]]:
    """(path, body, the field the 422 must name) for unknown, mistyped, missing
    and over-long fields and NUL bytes."""
    cid = world.customer
    act = f"/v1/items/{world.ticket['id']}/actions"
    item = {"kind": "ticket", "category": "repair", "subject": "停电", "customer_id": cid}
    cust = {"name": "张伟"}
    long = "长" * 20_001
    return [
        # unknown fields
        ("/v1/customers", {**cust, "nickname": "伟哥"}, "nickname"),
        ("/v1/items", {**item, "colour": "red"}, "colour"),
        (act, {"action": "note", "body": "x", "colour": "red"}, "colour"),
        (act, {"action": "note", "body": "x", "note": "y"}, "note"),
        ("/v1/presence", {"item_id": 1, "state": "viewing", "mood": "busy"}, "mood"),
        ("/v1/auth/token", {"username": "alice", "password": "x", "otp": "1"}, "otp"),
        # wrong types
        ("/v1/customers", {"name": 5}, "name"),
        ("/v1/customers", {**cust, "vip": "maybe"}, "vip"),
        ("/v1/customers", {**cust, "tier": "Z"}, "tier"),
        # ... including what lax parsing would coerce: true is not item 1, "yes" not a flag
        ("/v1/customers", {**cust, "vip": 1}, "vip"),
        ("/v1/customers", {**cust, "member": "yes"}, "member"),
        ("/v1/items", {**item, "customer_id": str(cid)}, "customer_id"),
        ("/v1/items", {**item, "customer_id": float(cid)}, "customer_id"),
        ("/v1/items", {**item, "parent_id": True}, "parent_id"),
        ("/v1/presence", {"item_id": True, "state": "viewing"}, "item_id"),
        (f"/v1/customers/{cid}/reveal", {"item_id": str(world.ticket["id"])}, "item_id"),
        (act, {"action": "complete_callback", "outcome": "satisfied", "satisfaction": "5",
               "notes": "x"}, "satisfaction"),
        (act, {"action": "schedule_callback", "at": "2026-11-24T02:00:00Z",
               "customer_agreed": "yes"}, "customer_agreed"),
        ("/v1/items", {**item, "customer_id": "abc"}, "customer_id"),
        ("/v1/items", {**item, "kind": "rocket"}, "kind"),
        ("/v1/items", {**item, "tags": "not-a-list"}, "tags"),
        ("/v1/items", {**item, "due_at": "tomorrow"}, "due_at"),
        (act, {"action": "transition", "to": 5}, "to"),
        (act, {"action": "complete_callback", "outcome": "satisfied", "satisfaction": "lots",
               "notes": "x"}, "satisfaction"),
        (act, {"action": "complete_callback", "outcome": "satisfied", "satisfaction": 9,
               "notes": "x"}, "satisfaction"),
        (act, {"action": "promise", "at": "2026-11-23T12:00:00"}, "at"),  # no time zone
        (act, {"action": "fly"}, "action"),
        # missing required fields
        ("/v1/customers", {}, "name"),
        ("/v1/items", {"kind": "ticket", "category": "repair", "customer_id": cid}, "subject"),
        (act, {}, "action"),
        (act, {"action": "assign", "to": "bob"}, "note"),
        (act, {"action": "reply"}, "body"),
        (f"/v1/customers/{cid}/reveal", {}, "item_id"),
        # over the caps
        ("/v1/customers", {"name": "名" * 101}, "name"),
        ("/v1/customers", {**cust, "phone": "1" * 41}, "phone"),
        ("/v1/items", {**item, "subject": "题" * 201}, "subject"),
        ("/v1/items", {**item, "body": long}, "body"),
        ("/v1/items", {**item, "tags": ["t" * 41]}, "tags.0"),
        (act, {"action": "note", "body": long}, "body"),
        (act, {"action": "escalate", "to": "经理", "reason": long}, "reason"),
        # NUL bytes in text (PostgreSQL cannot even store them)
        ("/v1/customers", {"name": "张\x00伟"}, "name"),
        ("/v1/items", {**item, "subject": "停\x00电"}, "subject"),
        ("/v1/items", {**item, "body": "body\x00"}, "body"),
        (act, {"action": "note", "body": "\x00"}, "body"),
        (act, {"action": "reply", "body": "您好\x00"}, "body"),
        (act, {"action": "transition", "to": "resolved", "reason": "a\x00b"}, "reason"),
    ]


async def test_bad_fields_are_422_naming_the_field(api: Api) -> None:
    world = await _world(api)
    for path, body, field in _cases(world):
        got = await refused(api, 422, "validation", field, "POST", path, json_body=body,
                            headers={"If-Match": f'"{world.ticket["version"]}"'})
        assert field in got["detail"] and got["errors"], got


async def test_a_body_that_is_not_an_object_is_422(api: Api) -> None:
    world = await _world(api)
    for body in ([1, 2], "claim", 5, None):
        for path in ("/v1/customers", f"/v1/items/{world.ticket['id']}/actions"):
            await refused(api, 422, "validation", None, "POST", path,
                          content=json.dumps(body).encode())


# -- ids, cursors and query parameters ---------------------------------------------


async def test_unknown_ids_are_404_or_422_naming_the_field(api: Api) -> None:
    world = await _world(api)
    await refused(api, 404, "not-found", None, "GET", "/v1/items/999999")
    await refused(api, 404, "not-found", None, "GET", "/v1/customers/999999")
    await refused(api, 404, "not-found", None, "POST", "/v1/items/999999/actions",
                  json_body={"action": "note", "body": "x"})
    await refused(api, 404, "not-found", "item_id", "POST", "/v1/customers/999999/reveal",
                  json_body={"item_id": world.ticket["id"]})
    await refused(api, 404, "not-found", "item_id", "POST",
                  f"/v1/customers/{world.customer}/reveal", json_body={"item_id": 999999})
    item = {"kind": "ticket", "category": "repair", "subject": "停电"}
    await refused(api, 422, "unknown-customer", "customer_id", "POST", "/v1/items",
                  json_body={**item, "customer_id": 999999})
    await refused(api, 422, "unknown-parent", "parent_id", "POST", "/v1/items",
                  json_body={**item, "customer_id": world.customer, "parent_id": 999999})
    for bad in ("0", "-1", "abc", str(2**31), "1.5"):
        await refused(api, 422, "validation", "item_id", "GET", f"/v1/items/{bad}")
        await refused(api, 422, "validation", "customer_id", "GET", f"/v1/customers/{bad}")


@pytest.mark.parametrize(("url", "params", "field"), [
    ("/v1/changes", {"after": -1}, "after"),
    ("/v1/changes", {"after": "abc"}, "after"),
    ("/v1/changes", {"after": 2**63}, "after"),
    ("/v1/changes", {"after": "9" * 5000}, "after"),
    ("/v1/changes", {"limit": 0}, "limit"),
    ("/v1/changes", {"limit": 100_000}, "limit"),
    ("/v1/changes", {"limit": "ten"}, "limit"),
    ("/v1/events", {"after": -1}, "after"),
    ("/v1/events", {"after": "abc"}, "after"),
    ("/v1/items", {"limit": 0}, "limit"),
    ("/v1/items", {"offset": -1}, "offset"),
    ("/v1/items", {"kind": "rocket"}, "kind"),
    ("/v1/items", {"status": "s" * 33}, "status"),
], ids=lambda v: str(v)[:30])
async def test_bad_cursors_and_query_parameters_are_422_naming_them(
        sqlite_api: Api, url: str, params: dict[str, Any], field: str) -> None:
    await refused(sqlite_api, 422, "validation", field, "GET", url, params=params)


async def test_bad_last_event_id_is_a_clear_4xx(api: Api) -> None:
    for value in ("abc", "-1", "1.5", "²", str(2**63)):
        await refused(api, 400, "bad-cursor", "Last-Event-ID", "GET", "/v1/events",
                      headers={"Last-Event-ID": value.encode("latin-1")})
    await refused(api, 422, "validation", "Last-Event-ID", "GET", "/v1/events",
                  headers={"Last-Event-ID": "1" * 21})


# -- authentication and the write headers -------------------------------------------


async def test_missing_or_bad_authorization_is_401(api: Api) -> None:
    world = await _world(api)
    url = f"/v1/items/{world.ticket['id']}/actions"
    note = {"action": "note", "body": "x"}
    for method, path in (("GET", "/v1/items"), ("GET", "/v1/me"), ("POST", url)):
        r = await api.client(None).request(method, path,
                                           json=note if method == "POST" else None)
        assert problem(r, 401, "unauthenticated")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        for header, slug in (("Basic YWxpY2U6eA==", "unauthenticated"),
                             ("Bearer", "unauthenticated"), ("Bearer   ", "unauthenticated"),
                             ("Bearer csq_not-a-token", "bad-token"),
                             (f"Bearer {api.tokens['alice']}x", "bad-token"),
                             (f"Token {api.tokens['alice']}", "unauthenticated")):
            await refused(api, 401, slug, None, method, path, user=None,
                          json_body=note if method == "POST" else None,
                          headers={"Authorization": header})


async def test_writes_need_a_well_formed_idempotency_key(api: Api) -> None:
    world = await _world(api)
    url = f"/v1/items/{world.ticket['id']}/actions"
    async with Guard(api):
        r = await api.client("alice").post(url, json={"action": "note", "body": "x"})
        problem(r, 400, "idempotency-key-required", "Idempotency-Key")
    for key in ("has space", "k" * 201, "é".encode("latin-1")):
        await refused(api, 400, "bad-idempotency-key", "Idempotency-Key", "POST", url,
                      json_body={"action": "note", "body": "x"},
                      headers={"Idempotency-Key": key})


async def test_same_idempotency_key_with_a_different_body_is_422(api: Api) -> None:
    world = await _world(api)
    url = f"/v1/items/{world.ticket['id']}/actions"
    first = await api.post("alice", url, {"action": "note", "body": "第一次"}, key="k-1")
    assert first.status_code == 200, first.text
    for other in ({"action": "note", "body": "第二次"}, {"action": "reply", "body": "第一次"}):
        await refused(api, 422, "idempotency-key-reused", "Idempotency-Key", "POST", url,
                      json_body=other, headers={"Idempotency-Key": "k-1"})
    # Another route with the same key is a different request too.
    await refused(api, 422, "idempotency-key-reused", "Idempotency-Key", "POST",
                  "/v1/customers", json_body={"name": "王"}, headers={"Idempotency-Key": "k-1"})


async def test_state_changes_need_a_current_if_match(api: Api) -> None:
    world = await _world(api)
    ticket = world.ticket
    url = f"/v1/items/{ticket['id']}/actions"
    resolve = {"action": "transition", "to": "resolved"}
    await refused(api, 428, "if-match-required", "If-Match", "POST", url, json_body=resolve)
    stale = await refused(api, 412, "stale", "If-Match", "POST", url, json_body=resolve,
                          headers={"If-Match": f'"{ticket["version"] - 1}"'})
    assert stale["current"] == await api.get("alice", ticket["id"])
    for bad in ("abc", '"v3"', "", '"²"', '"' + "9" * 5000 + '"'):
        await refused(api, 400, "bad-if-match", "If-Match", "POST", url, json_body=resolve,
                      headers={"If-Match": bad.encode("latin-1")})


async def test_an_illegal_transition_is_422_listing_what_is_allowed(api: Api) -> None:
    world = await _world(api)
    ticket = world.ticket
    assert ticket["status"] == "open"
    for to in ("closed", "new", "flying"):
        got = await refused(api, 422, "illegal-transition", "to", "POST",
                            f"/v1/items/{ticket['id']}/actions",
                            json_body={"action": "transition", "to": to},
                            headers={"If-Match": f'"{ticket["version"]}"'})
        assert got["allowed"] == sorted(user_transitions(Kind.TICKET, "open")), got
        assert got["allowed"] and to not in got["allowed"]


async def test_routing_a_complaint_needs_a_department_and_a_future_deadline(api: Api) -> None:
    world = await _world(api)
    complaint = world.complaint
    url = f"/v1/items/{complaint['id']}/actions"
    match = {"If-Match": f'"{complaint["version"]}"'}
    later = (api.clock() + timedelta(days=2)).isoformat()
    earlier = (api.clock() - timedelta(hours=1)).isoformat()
    await refused(api, 422, "validation", "department", "POST", url,
                  json_body={"action": "route", "due_at": later}, headers=match)
    await refused(api, 422, "validation", "due_at", "POST", url,
                  json_body={"action": "route", "department": "售后部"}, headers=match)
    await refused(api, 422, "validation", "department", "POST", url,
                  json_body={"action": "route", "department": "", "due_at": later}, headers=match)
    await refused(api, 422, "invalid-action", "due_at", "POST", url,
                  json_body={"action": "route", "department": "售后部", "due_at": earlier},
                  headers=match)
    ticket = world.ticket
    await refused(api, 422, "invalid-action", "action", "POST",
                  f"/v1/items/{ticket['id']}/actions",
                  json_body={"action": "route", "department": "售后部", "due_at": later},
                  headers={"If-Match": f'"{ticket["version"]}"'})


# -- logging in ------------------------------------------------------------------


async def test_failed_logins_are_throttled_without_locking_out_others(api: Api) -> None:
    anon = api.client(None)
    async with Guard(api):
        for _ in range(5):
            r = await anon.post("/v1/auth/token", json={"username": "alice", "password": "no"})
            problem(r, 401, "bad-credentials")
        for password in ("no", "alice-pass"):  # now even the right one waits
            r = await anon.post("/v1/auth/token",
                                json={"username": "alice", "password": password})
            problem(r, 429, "too-many-logins")
            assert 0 < int(r.headers["Retry-After"]) <= 61
    r = await anon.post("/v1/auth/token", json={"username": "bob", "password": "bob-pass"})
    assert r.status_code == 200, r.text
    me = await anon.get("/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.status_code == 200 and me.json()["username"] == "bob"


async def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    r = await api.client(None).post("/v1/auth/token",
                                    json={"username": "lee", "password": "lee-pass"})
    assert r.status_code == 200, r.text
    tokens = [*api.tokens.values(), r.json()["token"]]
    everything = await dump(api.app.state.engine)
    text = json.dumps(everything, default=str, ensure_ascii=False)
    hashes = {row["token_hash"] for row in everything["tokens"]}
    for token in tokens:
        assert token not in text, "a raw token is stored"
        assert hashlib.sha256(token.encode()).hexdigest() in hashes
    assert not any("pass" in str(row.get("password_hash")) for row in everything["users"])
