"""Shift handovers (值班交接) on the server: the list is computed here from the
agent's items, never sent by the client, and every write goes through
Service.write, so it is idempotent, seq-stamped and audited in `events`.

The rules (who may acknowledge, what goes on the list) are domain.handover's;
this module only reads and writes rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from csq.api.lead import AcknowledgeRequest, HandoverRequest
from csq.domain.handover import Handover, check_acknowledge, handover_items
from csq.domain.lifecycle import DONE_STATUSES
from csq.domain.records import Item
from csq.domain.roles import Role, may
from csq.domain.shifts import Shift, current_shift, next_shift
from csq.domain.sla import SlaPolicy
from csq.server import models, repo
from csq.server.problems import ApiProblem
from csq.server.service import Request, Service

_DONE = sorted({s for statuses in DONE_STATUSES.values() for s in statuses})


async def create(svc: Service, req: Request, body: HandoverRequest) -> tuple[int, dict[str, Any]]:
    def work(session: Session, seq: int) -> tuple[int, dict[str, Any]]:
        who = req.who
        if not may(who.role, "handover"):
            raise ApiProblem(403, "forbidden", f"a {who.role} does not hand over a shift")
        now = svc.clock()
        ending = _shift(svc.policy, body.shift, now)
        if body.to is not None:
            _require_colleague(session, body.to, who.username)
        docs = (session.execute(select(models.Item.doc).where(
            models.Item.owner == who.username, models.Item.status.notin_(_DONE)))).scalars()
        lines = handover_items((Item.model_validate(d) for d in docs), who.username, now,
                               svc.policy)
        row = models.Handover(seq=seq, author=who.username, created_at=now, doc={})
        session.add(row)
        session.flush()  # the id
        handover = Handover(
            id=row.id, seq=seq, author=who.username, author_name=who.name, to=body.to,
            shift=ending.name if ending else "",
            next_shift=next_shift(svc.policy.shifts, ending).name if ending else "",
            note=body.note, created_at=now, items=lines, open_count=len(lines),
            overdue_count=sum(line.overdue for line in lines),
            promised_today_count=sum(line.promised_today for line in lines))
        row.doc = handover.model_dump(mode="json")
        repo.append_events(session, seq, who, item_id=None, client=req.client,
                                 key=req.key, extra_type="handover",
                                 diff={"handover_id": row.id, "items": len(lines),
                                       "to": body.to})
        return 201, row.doc

    return await svc.write(req, work)


async def acknowledge(svc: Service, req: Request, handover_id: int,
                      body: AcknowledgeRequest) -> tuple[int, dict[str, Any]]:
    def work(session: Session, seq: int) -> tuple[int, dict[str, Any]]:
        row = session.get(models.Handover, handover_id)
        if row is None:
            raise ApiProblem(404, "not-found", f"no handover {handover_id}")
        handover = Handover.model_validate(row.doc)
        check_acknowledge(handover, req.who.username, req.who.role)
        now = svc.clock()
        done = handover.model_copy(update={"seq": seq, "acknowledged_by": req.who.username,
                                           "acknowledged_at": now,
                                           "acknowledge_note": body.note})
        row.seq, row.acknowledged_at = seq, now
        row.doc = done.model_dump(mode="json")
        repo.append_events(session, seq, req.who, item_id=None, client=req.client,
                                 key=req.key, extra_type="handover_acknowledged",
                                 diff={"handover_id": handover_id})
        return 200, row.doc

    return await svc.write(req, work)


async def listing(svc: Service, *, open_only: bool, limit: int) -> list[Handover]:
    query = select(models.Handover.doc).order_by(models.Handover.id.desc()).limit(limit)
    if open_only:
        query = query.where(models.Handover.acknowledged_at.is_(None))
    async with svc.sessions() as session:
        return [Handover.model_validate(d) for d in (await session.execute(query)).scalars()]


async def unacknowledged(session: AsyncSession) -> int:
    """For the wall: handovers nobody has taken yet."""
    return int((await session.execute(select(func.count()).select_from(models.Handover).where(
        models.Handover.acknowledged_at.is_(None)))).scalar_one())


def _shift(policy: SlaPolicy, name: str | None, now: Any) -> Shift | None:
    if name is None:
        return current_shift(policy.shifts, now, policy.quiet.zone)
    for shift in policy.shifts:
        if shift.name == name:
            return shift
    known = ", ".join(s.name for s in policy.shifts)
    raise ApiProblem(422, "unknown-shift", f"no shift {name!r}; the shifts are {known}",
                     field="shift")


def _require_colleague(session: Session, username: str, author: str) -> None:
    role = (session.execute(select(models.User.role).where(
        models.User.username == username))).scalar_one_or_none()
    if role not in (Role.AGENT.value, Role.LEAD.value) or username == author:
        raise ApiProblem(422, "unknown-colleague",
                         f"{username!r} is not another agent or lead", field="to")
