"""The demo call centre's staff, and the write requests they make.

The seed and the simulator act as real users (so every event names a person
and every permission check runs), which needs each user's database id; this
module holds the roster and turns it into `service.Request`s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csq.domain.roles import Role
from csq.server import models
from csq.server.auth import Principal
from csq.server.service import Request

DEMO_PASSWORD = "csq-demo"  # one password for every demo user, printed at start


@dataclass(frozen=True)
class Member:
    username: str
    name: str
    role: Role


# The human plays the first user of each role (`csq demo --as agent` is wangli);
# the simulator moves the others' work, so the human's own items stay theirs.
ROSTER: tuple[Member, ...] = (
    Member("wangli", "王丽", Role.AGENT),
    Member("lina", "李娜", Role.AGENT),
    Member("zhangwei", "张伟", Role.AGENT),
    Member("emily", "Emily Zhou 周艾米", Role.AGENT),
    Member("zhaomin", "赵敏", Role.LEAD),
    Member("david", "David Sun 孙大卫", Role.LEAD),
    Member("chenjing", "陈静", Role.SUPERVISOR),
    Member("admin", "系统管理员 Admin", Role.ADMIN),
)

AGENTS: tuple[str, ...] = tuple(m.username for m in ROSTER if m.role == Role.AGENT)
LEADS: tuple[str, ...] = tuple(m.username for m in ROSTER if m.role == Role.LEAD)
ENGLISH_DESK = "emily"  # takes most calls from English-speaking customers


def human_for(role: Role | str) -> Member:
    """The user a person at the keyboard plays for `role`."""
    return next(m for m in ROSTER if m.role == Role(role))


HUMANS: frozenset[str] = frozenset(human_for(r).username for r in Role)


@dataclass(frozen=True)
class Staff:
    """The roster with database ids: makes the `Request` each write needs."""

    principals: dict[str, Principal]
    client: str

    def req(self, username: str, key: str | None = None) -> Request:
        who = self.principals[username]
        key = key or f"demo-{uuid.uuid4()}"
        return Request(who=who, key=key, fingerprint=key, client=self.client)

    @classmethod
    async def load(cls, sessions: async_sessionmaker[AsyncSession], client: str) -> Staff:
        """Look up the demo users that exist; the seed creates them first."""
        names = [m.username for m in ROSTER]
        async with sessions() as session:
            rows = (await session.execute(
                select(models.User.id, models.User.username, models.User.name,
                       models.User.role).where(models.User.username.in_(names)))).all()
        found = {r.username: Principal(r.id, r.username, r.name, Role(r.role)) for r in rows}
        return cls(found, client)
