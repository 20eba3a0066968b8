"""Customers: masked reads, create, and the audited reveal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from csq.api import RevealRequest
from csq.domain.records import ContactDetails, Customer, CustomerDraft
from csq.server import repo
from csq.server.deps import Svc, Who, Write
from csq.server.problems import ApiProblem
from csq.server.routes._responses import READ_ERRORS, WRITE_ERRORS
from csq.server.routes.items import answer

router = APIRouter(prefix="/v1/customers", tags=["customers"])
CustomerId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/{customer_id}", response_model=Customer, responses=READ_ERRORS)
async def get_customer(customer_id: CustomerId, _: Who, svc: Svc) -> Customer:
    customer = await svc.db.read_small(lambda session: repo.load_customer(session, customer_id))
    if customer is None:
        raise ApiProblem(404, "not-found", f"no customer {customer_id}")
    return repo.masked(customer)


@router.post("", status_code=201, response_model=Customer, responses=WRITE_ERRORS)
async def create_customer(draft: CustomerDraft, req: Write, svc: Svc) -> Response:
    return answer(*await svc.create_customer(req, draft))


@router.post("/{customer_id}/reveal", response_model=ContactDetails, responses=WRITE_ERRORS)
async def reveal(customer_id: CustomerId, body: RevealRequest, req: Write,
                 svc: Svc) -> Response:
    """The whole phone and e-mail, for the item's owner or a lead; audited."""
    return answer(*await svc.reveal(req, customer_id, body.item_id))

