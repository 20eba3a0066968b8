"""POST /v1/auth/token (log in) and GET /v1/me."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy import select

from csq.api import TokenRequest, TokenResponse, WhoAmI
from csq.domain.roles import Role
from csq.server import models
from csq.server.auth import check_password, issue_token
from csq.server.deps import Svc, Who
from csq.server.problems import ApiProblem
from csq.server.routes._responses import problems

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post("/auth/token", response_model=TokenResponse, responses=problems(400, 429))
async def log_in(body: TokenRequest, request: Request, svc: Svc) -> TokenResponse:
    """Exchange a user name and password for a bearer token. Exempt from
    Idempotency-Key: a retried login simply issues another token."""
    throttle = request.app.state.throttle
    address = request.client.host if request.client else "?"
    throttle.check(body.username, address)
    async with svc.sessions() as session, session.begin():
        user = (await session.execute(select(models.User).where(
            models.User.username == body.username))).scalar_one_or_none()
        if user is None or not check_password(body.password, user.password_hash):
            throttle.failed(body.username, address)
            raise ApiProblem(401, "bad-credentials", "wrong user name or password")
        throttle.succeeded(body.username, address)
        token = await issue_token(session, user.id, label=f"login {datetime.now(UTC):%F %T}")
    return TokenResponse(token=token, username=user.username, name=user.name,
                         role=Role(user.role))


@router.get("/me", response_model=WhoAmI, responses=problems())
async def me(who: Who, svc: Svc) -> WhoAmI:
    return WhoAmI(username=who.username, name=who.name, role=who.role,
                  server_time=svc.clock(), timezone=svc.policy.quiet.tz)
