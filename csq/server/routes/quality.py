"""GET /v1/quality/followups: open complaints about an agent (服务质量投诉) and
where each one's lead follow-up stands (due by 17:00 the next day)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from csq.api.lead import QualityFollowUp
from csq.domain.kinds import Kind
from csq.domain.quality import follow_up, is_quality_complaint
from csq.domain.records import Item
from csq.server import models
from csq.server.deps import Svc, Who
from csq.server.routes._responses import READ_ERRORS

router = APIRouter(prefix="/v1/quality", tags=["quality"])


@router.get("/followups", response_model=list[QualityFollowUp], responses=READ_ERRORS)
async def followups(
    _: Who, svc: Svc,
    pending: Annotated[bool, Query(description="only those the lead has not followed up")]
    = False,
) -> list[QualityFollowUp]:
    async with svc.sessions() as session:
        docs = (await session.execute(select(models.Item.doc).where(
            models.Item.kind == Kind.COMPLAINT.value,
            models.Item.status.notin_(["closed", "withdrawn"])))).scalars().all()
    now = svc.clock()
    out = []
    for item in (Item.model_validate(d) for d in docs):
        if not is_quality_complaint(item) or item.about_agent is None:
            continue
        state = follow_up(item, now, svc.policy)
        if pending and state.done_at is not None:
            continue
        out.append(QualityFollowUp(
            item_id=item.id, subject=item.subject, status=item.status,
            about_agent=item.about_agent, owner=item.owner, created_at=item.created_at,
            due_at=state.due_at, followed_up_at=state.done_at, overdue=state.overdue))
    return sorted(out, key=lambda f: (f.due_at, f.item_id))
