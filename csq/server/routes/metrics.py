"""GET /v1/metrics/live: the wall's figures."""

from __future__ import annotations

from fastapi import APIRouter, Request

from csq.api import LiveMetrics
from csq.server.deps import Who
from csq.server.routes._responses import READ_ERRORS

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])


@router.get("/live", response_model=LiveMetrics, responses=READ_ERRORS)
async def live(_: Who, request: Request) -> LiveMetrics:
    return await request.app.state.metrics.get()
