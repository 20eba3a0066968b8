"""POST /v1/presence: who is viewing or composing on an item (30 s, not stored)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from csq.api import PresenceEvent, PresenceUpdate
from csq.server.deps import Who, Write
from csq.server.hub import PRESENCE_TTL, Hub
from csq.server.routes._responses import WRITE_ERRORS

router = APIRouter(prefix="/v1", tags=["presence"])


@router.post("/presence", status_code=204, responses=WRITE_ERRORS)
async def presence(update: PresenceUpdate, who: Who, _: Write, request: Request) -> Response:
    hub: Hub = request.app.state.hub
    event = PresenceEvent(user=who.username, name=who.name, item_id=update.item_id,
                          state=update.state,
                          expires_at=request.app.state.service.clock() + PRESENCE_TTL)
    hub.show_presence(event)
    if hub.publish_presence is not None:
        await hub.publish_presence(event)
    return Response(status_code=204)
