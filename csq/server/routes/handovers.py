"""Shift handovers (值班交接): hand over, acknowledge, list the open ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse

from csq.api.lead import AcknowledgeRequest, HandoverRequest
from csq.domain.handover import Handover
from csq.server import handovers
from csq.server.deps import Svc, Who, Write
from csq.server.problems import MEDIA_TYPE
from csq.server.routes._responses import READ_ERRORS, WRITE_ERRORS

router = APIRouter(prefix="/v1/handovers", tags=["handovers"])
HandoverId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _answer(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status,
                        media_type=MEDIA_TYPE if status >= 400 else "application/json")


@router.post("", status_code=201, response_model=Handover, responses=WRITE_ERRORS)
async def hand_over(body: HandoverRequest, req: Write, svc: Svc) -> JSONResponse:
    """At shift end: the caller's open, overdue and promised-today items, computed
    by the server, with the note for the next shift."""
    return _answer(*await handovers.create(svc, req, body))


@router.post("/{handover_id}/acknowledge", response_model=Handover, responses=WRITE_ERRORS)
async def acknowledge(handover_id: HandoverId, req: Write, svc: Svc,
                      body: Annotated[AcknowledgeRequest | None, Body()] = None) -> JSONResponse:
    """By the agent it was handed to (anyone but its author if it names nobody) or a lead."""
    return _answer(*await handovers.acknowledge(svc, req, handover_id,
                                                body or AcknowledgeRequest()))


@router.get("", response_model=list[Handover], responses=READ_ERRORS)
async def list_handovers(
    _: Who, svc: Svc,
    open: Annotated[bool, Query(description="only those not yet acknowledged")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Handover]:
    return await handovers.listing(svc, open_only=open, limit=limit)
