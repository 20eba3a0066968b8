"""The error responses each route documents in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from csq.api import Problem

_PROBLEM: dict[str, Any] = {"model": Problem,
                            "content": {"application/problem+json": {}}}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: dict(_PROBLEM, description="problem+json") for code in (401, 422, *codes)}


WRITE_ERRORS = problems(400, 403, 404, 409, 412, 413, 428)
READ_ERRORS = problems(400, 404)
