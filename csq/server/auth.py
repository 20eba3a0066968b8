"""Tokens, passwords and who is asking.

Tokens are random, shown once, and stored only as SHA-256 hashes; passwords
use scrypt. Failed logins are throttled per user name and client address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from fastapi import Request
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from csq.domain.engine import Actor
from csq.domain.roles import Role
from csq.server import models
from csq.server.problems import ApiProblem
from csq.server.transactions import Database, SqliteOnLoop

TOKEN_PREFIX = "csq_"


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    name: str
    role: Role

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.name, self.role)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt_hex, digest_hex = stored.split("$")
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=2**14, r=8, p=1)
    return hmac.compare_digest(digest.hex(), digest_hex)


async def issue_token(session: AsyncSession, user_id: int, label: str = "") -> str:
    token = new_token()
    session.add(models.Token(user_id=user_id, token_hash=hash_token(token), label=label,
                             created_at=datetime.now(UTC)))
    return token


_PRINCIPAL = (  # built once: the gate runs it on every request
    select(models.User.id, models.User.username, models.User.name, models.User.role)
    .join(models.Token, models.Token.user_id == models.User.id)
    .where(models.Token.token_hash == bindparam("token_hash"), models.Token.revoked_at.is_(None)))


_PRINCIPAL_SQLITE = str(_PRINCIPAL.compile(dialect=sqlite.dialect()))  # the same, as "?" SQL


def principal_for(session: Session, token: str) -> Principal | None:
    row = session.connection().execute(_PRINCIPAL, {"token_hash": hash_token(token)}).first()
    if row is None:
        return None
    return Principal(row.id, row.username, row.name, Role(row.role))


async def lookup_principal(db: Database, token: str) -> Principal | None:
    """Who holds `token`, read afresh on every request, never cached: a token revoked
    by `csq admin` (another process) must stop working at once. On a SQLite file it
    is one indexed read in plain sqlite3 on the loop's own thread (a few µs)."""
    if isinstance(db, SqliteOnLoop):
        row = await db.read_row(_PRINCIPAL_SQLITE, (hash_token(token),))
        return None if row is None else Principal(int(row[0]), row[1], row[2], Role(row[3]))
    return await db.read_small(partial(principal_for, token=token))


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(401, "unauthenticated", "send Authorization: Bearer <token>",
                         headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


class LoginThrottle:
    """At most `limit` failures per (user, address) in `window` seconds."""

    def __init__(self, limit: int = 5, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        q = self._failures[key]
        cutoff = time.monotonic() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def check(self, username: str, address: str) -> None:
        q = self._recent((username, address))
        if len(q) >= self.limit:
            wait = int(self.window - (time.monotonic() - q[0])) + 1
            raise ApiProblem(429, "too-many-logins",
                             f"too many failed logins; try again in {wait} s",
                             headers={"Retry-After": str(wait)})

    def failed(self, username: str, address: str) -> None:
        self._recent((username, address)).append(time.monotonic())

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username, address), None)
