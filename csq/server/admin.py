"""User and token administration, for `csq admin` and the demo seed.

Works on the database directly (it runs where the server runs), after
upgrading the schema so it can be the first thing run against a fresh file.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from csq.domain.roles import Role
from csq.server import migrate, models
from csq.server.auth import hash_password, hash_token, issue_token
from csq.server.db import sessionmaker


class AdminError(Exception):
    """A refused admin command; the CLI prints it and exits non-zero."""


async def create_user(engine: AsyncEngine, username: str, role: Role, *, name: str = "",
                      password: str | None = None) -> str:
    """Create a user and return a fresh token for them (shown once, stored hashed)."""
    await migrate.upgrade(engine)
    async with sessionmaker(engine)() as session, session.begin():
        exists = (await session.execute(select(models.User.id).where(
            models.User.username == username))).scalar_one_or_none()
        if exists is not None:
            raise AdminError(f"user {username!r} already exists; use 'csq admin token {username}'")
        user = models.User(username=username, name=name or username, role=role.value,
                           password_hash=hash_password(password) if password else None,
                           created_at=datetime.now(UTC))
        session.add(user)
        await session.flush()
        return await issue_token(session, user.id, label="created by csq admin")


async def new_token(engine: AsyncEngine, username: str) -> str:
    await migrate.upgrade(engine)
    async with sessionmaker(engine)() as session, session.begin():
        user_id = (await session.execute(select(models.User.id).where(
            models.User.username == username))).scalar_one_or_none()
        if user_id is None:
            raise AdminError(f"no user {username!r}")
        return await issue_token(session, user_id, label="issued by csq admin")


async def revoke_token(engine: AsyncEngine, token: str) -> None:
    await migrate.upgrade(engine)
    async with sessionmaker(engine)() as session, session.begin():
        result = await session.execute(
            update(models.Token).where(models.Token.token_hash == hash_token(token),
                                       models.Token.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC)))
        if result.rowcount == 0:
            raise AdminError("no such active token")


async def list_users(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    await migrate.upgrade(engine)
    async with sessionmaker(engine)() as session:
        rows = (await session.execute(select(models.User.username, models.User.name,
                                             models.User.role).order_by(models.User.id))).all()
    return [(r.username, r.name, r.role) for r in rows]
