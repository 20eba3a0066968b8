"""FastAPI dependencies: the principal the gate found, the service, and the
headers every write needs (Idempotency-Key, If-Match).

All `async def` though none awaits: FastAPI runs a plain `def` dependency in
a worker thread, a thread hop per dependency per request for a few lines of
code."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Request

from csq.server.auth import Principal
from csq.server.problems import ApiProblem
from csq.server.service import Request as WriteRequest
from csq.server.service import Service, fingerprint

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


async def principal(request: Request) -> Principal:
    who = getattr(request.state, "principal", None)
    if who is None:  # only reachable if a route is wrongly listed as public
        raise ApiProblem(401, "unauthenticated", "send Authorization: Bearer <token>")
    return who


async def service(request: Request) -> Service:
    return request.app.state.service


async def if_match(value: Annotated[str | None, Header(alias="If-Match")] = None) -> int | None:
    if value is None:
        return None
    cleaned = value.strip().removeprefix("W/").strip('"')
    # isascii: "²".isdigit() is true but int() refuses it; 18 digits: int() of a huge one is slow
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 18):
        raise ApiProblem(400, "bad-if-match", 'If-Match must be a version like "3"',
                         field="If-Match")
    return int(cleaned)


async def write_request(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    match: Annotated[int | None, Depends(if_match)] = None,
) -> WriteRequest:
    if key is None:
        raise ApiProblem(400, "idempotency-key-required",
                         "every POST needs an Idempotency-Key header (a fresh UUID per action)",
                         field="Idempotency-Key")
    if not _KEY.match(key):
        raise ApiProblem(400, "bad-idempotency-key",
                         "Idempotency-Key must be 1–200 printable ASCII characters",
                         field="Idempotency-Key")
    raw = getattr(request.state, "raw_body", b"")
    client = request.headers.get("user-agent", "")
    return WriteRequest(who=who, key=key, client=client,
                        fingerprint=fingerprint(request.method, request.url.path, raw,
                                                request.headers.get("if-match")))


Who = Annotated[Principal, Depends(principal)]
Svc = Annotated[Service, Depends(service)]
Write = Annotated[WriteRequest, Depends(write_request)]
IfMatch = Annotated[int | None, Depends(if_match)]
