"""GET /v1/agents/load: each agent's and lead's open load, for balanced assignment.

The figures are the live metrics' own (computed once per change for every
wall), so a lead's assignment screen costs the server nothing more.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from csq.api.lead import AgentLoads
from csq.domain.allocation import least_loaded
from csq.server.deps import Who
from csq.server.routes._responses import READ_ERRORS

router = APIRouter(prefix="/v1/agents", tags=["agents"])


@router.get("/load", response_model=AgentLoads, responses=READ_ERRORS)
async def load(_: Who, request: Request) -> AgentLoads:
    figures = await request.app.state.metrics.get()
    agents = sorted(figures.agents, key=lambda a: (a.open_items, a.username))
    return AgentLoads(agents=agents, suggested=least_loaded(
        (a.username, a.open_items, a.online) for a in agents))
