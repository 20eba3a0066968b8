"""GET /v1/events: Server-Sent Events, resumable with Last-Event-ID.

`id:` is the seq of the batch, `event: change` carries a ChangeBatch,
`event: presence` a PresenceEvent (not in the log, so no id), and a comment
line every heartbeat so that a dead link is noticed by both ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from csq.server.deps import Svc, Who
from csq.server.hub import Hub
from csq.server.problems import ApiProblem
from csq.server.routes._responses import READ_ERRORS

router = APIRouter(prefix="/v1", tags=["sync"])


def _cursor(after: int | None, last_event_id: str | None, head: int) -> int:
    if last_event_id is not None:
        text = last_event_id.strip()
        # isascii: "²".isdigit() is true but int() refuses it
        if not (text.isascii() and text.isdigit()) or int(text) > 2**62:
            raise ApiProblem(400, "bad-cursor", "Last-Event-ID must be a seq number",
                             field="Last-Event-ID")
        return int(text)
    return head if after is None else after


@router.get("/events", responses={**READ_ERRORS, 200: {
    "content": {"text/event-stream": {}}, "description": "an SSE stream"}},
    response_class=StreamingResponse)
async def events(
    request: Request, who: Who, svc: Svc,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    hub: Hub = request.app.state.hub
    cursor = _cursor(after, last_event_id, hub.head)
    heartbeat = request.app.state.settings.heartbeat_s
    return StreamingResponse(
        _stream(hub, cursor, heartbeat, who.username), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _stream(hub: Hub, cursor: int, heartbeat: float,
                  username: str) -> AsyncIterator[str | bytes]:
    sub = hub.subscribe()
    try:
        yield f"retry: 2000\n: hello {username}, head {hub.head}\n\n"
        for event in hub.current_presence():
            yield f"event: presence\ndata: {event.model_dump_json()}\n\n"
        if hub.latest_metrics is not None:
            yield f"event: metrics\ndata: {hub.latest_metrics}\n\n"
        while not hub.ending:
            while cursor < hub.head:
                page, frame = await hub.batch(cursor)
                if frame:
                    yield frame  # the same bytes object for every stream
                if page.next <= cursor:
                    break  # the commit we were told of is not readable here yet
                cursor = page.next
            while not sub.queue.empty():
                name, data = sub.queue.get_nowait()
                yield f"event: {name}\ndata: {data}\n\n"
            sub.wake.clear()
            if not sub.queue.empty():
                continue
            lagging = cursor < hub.head
            with contextlib.suppress(TimeoutError):  # not wait_for: see metrics.publish
                async with asyncio.timeout(0.05 if lagging else heartbeat):
                    await sub.wake.wait()
                continue
            if lagging or hub.ending:
                continue
            hub.seen(username)
            yield ": ping\n\n"
    finally:
        hub.unsubscribe(sub)
