"""The one gate every request passes: who is asking, may they write, is the
body small enough. A pure ASGI middleware so that it decides before FastAPI
parses anything: a read-only token gets 403 on every write whatever it sends,
malformed or not, and an oversized body is refused before it is read whole.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from csq.domain.roles import is_read_only
from csq.server.auth import lookup_principal
from csq.server.hub import Hub
from csq.server.problems import MEDIA_TYPE, ApiProblem
from csq.server.transactions import Database

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PUBLIC = frozenset({"/v1/auth/token", "/healthz", "/openapi.json", "/docs", "/redoc"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Gate:
    def __init__(self, app: Any, *, db: Database, hub: Hub, max_body: int) -> None:
        self.app = app
        self.db = db
        self.hub = hub
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if scope["path"] not in PUBLIC:
                await self._authorise(scope)
            receive = await self._capped(scope, receive)
        except ApiProblem as problem:
            await _send_problem(send, problem)
            return
        await self.app(scope, receive, send)

    async def _authorise(self, scope: Scope) -> None:
        headers = dict(scope["headers"])
        raw = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = raw.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiProblem(401, "unauthenticated", "send Authorization: Bearer <token>",
                             headers={"WWW-Authenticate": "Bearer"})
        # Looked up on every request, not cached: see lookup_principal.
        who = await lookup_principal(self.db, token.strip())
        if who is None:
            raise ApiProblem(401, "bad-token", "this token is unknown or revoked; log in again",
                             headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if scope["method"] not in SAFE_METHODS and is_read_only(who.role):
            raise ApiProblem(403, "read-only", f"a {who.role} token is read-only")
        scope.setdefault("state", {})["principal"] = who
        self.hub.seen(who.username)

    async def _capped(self, scope: Scope, receive: Receive) -> Receive:
        if scope["method"] in SAFE_METHODS:
            return receive
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        # len() first: int() refuses more than 4300 digits, and any 19 digits is too large
        if declared is not None and declared.isdigit() and (
                len(declared) > 18 or int(declared) > self.max_body):
            raise _too_large(self.max_body)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _too_large(self.max_body)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        scope.setdefault("state", {})["raw_body"] = body
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def _too_large(limit: int) -> ApiProblem:
    return ApiProblem(413, "body-too-large", f"request bodies are capped at {limit} bytes")


async def _send_problem(send: Send, problem: ApiProblem) -> None:
    body = json.dumps(problem.body(), ensure_ascii=False).encode()
    headers = [(b"content-type", MEDIA_TYPE.encode()),
               (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
