"""GET /v1/changes: the pull side of sync."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from csq.api import ChangesPage
from csq.server import repo
from csq.server.deps import Svc, Who
from csq.server.routes._responses import READ_ERRORS

router = APIRouter(prefix="/v1", tags=["sync"])


@router.get("/changes", response_model=ChangesPage, responses=READ_ERRORS)
async def changes(
    _: Who, svc: Svc,
    after: Annotated[int, Query(ge=0, le=2**62, description="the last seq you have")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> ChangesPage:
    return await svc.db.read(lambda session: repo.changes(session, after, limit))
