"""Items: read with ETag, list, create, and act on them."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Header, Path, Query, Response
from sqlalchemy import select

from csq.api import ActionResult
from csq.domain.actions import Action
from csq.domain.kinds import Kind
from csq.domain.records import Item, ItemDraft
from csq.server import models, repo
from csq.server.deps import IfMatch, Svc, Who, Write
from csq.server.problems import MEDIA_TYPE, ApiProblem
from csq.server.routes._responses import READ_ERRORS, WRITE_ERRORS

router = APIRouter(prefix="/v1/items", tags=["items"])
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def answer(status: int, body: dict[str, Any]) -> Response:
    """A write's (status, body) as sent, encoded with orjson (the body is plain JSON
    data already: FastAPI's response-model pass would only validate it again)."""
    media = MEDIA_TYPE if status >= 400 else "application/json"
    headers = {}
    if status < 400 and "version" in body:
        headers["ETag"] = f'"{body["version"]}"'
    elif status < 400 and isinstance(body.get("item"), dict):
        headers["ETag"] = f'"{body["item"]["version"]}"'
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=headers)


@router.get("", response_model=list[Item], responses=READ_ERRORS)
async def list_items(
    _: Who, svc: Svc,
    kind: Kind | None = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    owner: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[Item]:
    query = select(models.Item.doc).order_by(models.Item.id).limit(limit).offset(offset)
    if kind is not None:
        query = query.where(models.Item.kind == kind.value)
    if status is not None:
        query = query.where(models.Item.status == status)
    if owner is not None:
        query = query.where(models.Item.owner == owner)
    if customer_id is not None:
        query = query.where(models.Item.customer_id == customer_id)
    async with svc.sessions() as session:
        docs = (await session.execute(query)).scalars().all()
    return [Item.model_validate(d) for d in docs]


@router.get("/{item_id}", response_model=Item, responses={**READ_ERRORS, 304: {}})
async def get_item(item_id: ItemId, _: Who, svc: Svc,
                   if_none_match: Annotated[str | None, Header()] = None) -> Response:
    raw = await svc.db.read_small(lambda session: session.execute(select(repo.ITEM_JSON).where(
        models.Item.id == item_id)).scalar_one_or_none())
    if raw is None:
        raise ApiProblem(404, "not-found", f"no item {item_id}")
    # The stored document is the answer: sent as it is, parsed only for its version.
    etag = f'"{orjson.loads(raw)["version"]}"'
    if if_none_match is not None and if_none_match.strip() == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(raw, media_type="application/json", headers={"ETag": etag})


@router.post("", status_code=201, response_model=Item, responses=WRITE_ERRORS)
async def create_item(draft: ItemDraft, req: Write, svc: Svc) -> Response:
    return answer(*await svc.create_item(req, draft))


@router.post("/{item_id}/actions", response_model=ActionResult, responses=WRITE_ERRORS)
async def act(item_id: ItemId, action: Annotated[Action, Body()], req: Write, svc: Svc,
              match: IfMatch) -> Response:
    """Claim, reply, note, transition, assign, route, escalate, promise and the
    callback actions. State changes need If-Match; note and reply append."""
    return answer(*await svc.act(req, item_id, action, match))

