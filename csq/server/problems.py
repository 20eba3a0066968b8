"""Every error the API returns is RFC 9457 problem+json with a stable type.

This is the one place where exceptions become responses: domain refusals,
validation errors, HTTP errors and anything unexpected (500, logged, never a
traceback to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from csq.api import PROBLEM_BASE
from csq.domain.errors import DomainError

log = logging.getLogger("csq.server")
MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 412: "Precondition failed",
    413: "Request body too large", 415: "Unsupported media type", 422: "Unprocessable content",
    428: "Precondition required", 429: "Too many requests", 500: "Internal server error",
}


class ApiProblem(Exception):
    def __init__(self, status: int, slug: str, detail: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug, "title": _TITLES.get(self.status, "Error"),
            "status": self.status, "detail": self.detail,
        }
        if self.field:
            out["field"] = self.field
        out.update({k: v for k, v in self.extra.items() if v is not None})
        return out


def from_domain(exc: DomainError) -> ApiProblem:
    problem = ApiProblem(exc.status, exc.type, exc.detail, field=exc.field)
    problem.extra = dict(exc.extra)
    return problem


def problem_response(problem: ApiProblem) -> JSONResponse:
    return JSONResponse(problem.body(), status_code=problem.status, media_type=MEDIA_TYPE,
                        headers=problem.headers)


_LOCATIONS = ("body", "query", "header", "path", "cookie")
_UNPARSABLE = "There was an error parsing the body"  # FastAPI's words for a body json.loads refused


def _field_of(loc: tuple[Any, ...], body: Any = None) -> str:
    """The culprit's dotted name: `body` in ("body", "body") is the field named
    body, and a tagged union's tag ("body", "note", "colour") is not a field."""
    if not loc:
        return ""
    here = body if loc[0] == "body" else None
    parts = list(loc[1:]) if loc[0] in _LOCATIONS else list(loc)
    names: list[str] = []
    for index, part in enumerate(parts):
        more = index + 1 < len(parts)
        if isinstance(part, str) and part.startswith(("function-after", "constrained")):
            continue
        if (isinstance(part, str) and isinstance(here, dict) and more
                and part in here.values() and not isinstance(here.get(part), dict | list)):
            continue  # the discriminator's tag pydantic puts in the location
        names.append(str(part))
        if isinstance(here, dict):
            here = here.get(part)
        elif isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here):
            here = here[part]
        else:
            here = None
    return ".".join(names)


def _loc_of(error: dict[str, Any]) -> tuple[Any, ...]:
    loc = tuple(error.get("loc", ()))
    if str(error.get("type", "")).startswith("union_tag_"):  # a missing or unknown tag
        loc += (str(error.get("ctx", {}).get("discriminator", "")).strip("'"),)
    return loc


def _validation_problem(exc: RequestValidationError) -> ApiProblem:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return ApiProblem(400, "malformed-json", "the request body is not valid JSON")
    simple = [{"field": _field_of(_loc_of(e), exc.body),
               "message": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
    first = simple[0] if simple else {"field": None, "message": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    return ApiProblem(422, "validation", f"{where}{first['message']}",
                      field=first["field"] or None, errors=simple)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem_response(from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(_validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSABLE:  # bad UTF-8, nested too deep
            return problem_response(ApiProblem(400, "malformed-json",
                                               "the request body is not valid JSON"))
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http")
        return problem_response(ApiProblem(exc.status_code, slug, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(ApiProblem(500, "internal", "the server failed; it is logged"))
