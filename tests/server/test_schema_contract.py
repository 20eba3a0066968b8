"""Promise 6 against the server's own OpenAPI schema: schemathesis generates
valid and invalid requests for every operation, as an agent and as the
read-only supervisor, and every answer must be documented, well-typed, never
a 5xx, and every error problem+json with a csq type.

In-process (schemathesis's ASGI transport runs the app and its lifespan on its
own event loop), SQLite only, bounded to a few dozen cases per operation.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from csq.api import PROBLEM_BASE
from csq.server.app import create_app
from csq.server.config import ServerSettings
from csq.server.gate import PUBLIC
from csq.server.problems import MEDIA_TYPE
from tests.support.api import make_users
from tests.support.openapi import ids, operations

MAX_EXAMPLES = 20
STREAM_S = 0.2  # an SSE response is cut after this long; what it sent is checked
OPERATIONS = operations()

# Every status an invalid request may get: the gate's 401/403/413, 400 for
# headers, 404/409/412/428 from the write path, 422 from validation.
CONFIG = schemathesis.Config.from_str("""
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 429]
""")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]


@dataclass
class Contract:
    schema: Any
    tokens: dict[str, str]
    items: list[int]
    customers: list[int]
    client: asgi.ASGIClient

    def version(self, item_id: int) -> int | None:
        r = self.client.get(f"/v1/items/{item_id}", headers=self.auth("alice"))
        return int(r.json()["version"]) if r.status_code == 200 else None

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def _seed(contract: Contract) -> None:
    """A few real records, so generated ids sometimes hit something."""
    def post(user: str, path: str, body: dict[str, Any], version: int | None = None) -> Any:
        headers = {**contract.auth(user), "Idempotency-Key": str(uuid.uuid4())}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        r = contract.client.post(path, json=body, headers=headers)
        assert r.status_code in (200, 201), r.text
        return r.json()

    for name, kind, category in (("张伟", "ticket", "repair"), ("Mary Major", "complaint",
                                                             "service"),
                                 ("李娜", "ticket", "inquiry")):
        customer = post("alice", "/v1/customers", {"name": name, "phone": "13812345678",
                                                   "email": "x@example.com"})
        contract.customers.append(customer["id"])
        item = post("alice", "/v1/items", {"kind": kind, "category": category,
                                           "subject": f"{name} 的问题", "customer_id":
                                           customer["id"]})
        contract.items.append(item["id"])
    post("alice", f"/v1/items/{contract.items[0]}/actions", {"action": "claim"}, version=1)
    post("lee", f"/v1/items/{contract.items[1]}/actions", {"action": "claim"}, version=1)


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contract]:
    db = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('contract') / 'csq.db'}"
    tokens = asyncio.run(make_users(db))
    app = create_app(ServerSettings(db=db))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    try:
        with asgi.get_client(cast(Any, app)) as client:  # starts the lifespan, kept to the end
            contract = Contract(schema, tokens, [], [], client)
            _seed(contract)
            yield contract
    finally:
        asgi.shutdown_lifespans()


def _steer(contract: Contract, case: Any, data: st.DataObject) -> None:
    """Point some valid cases at records that exist, with their current version,
    so the write path itself runs instead of stopping at 404."""
    real = {"item_id": contract.items, "customer_id": contract.customers,
            "parent_id": contract.items}
    for name in list(case.path_parameters or {}):
        if name in real and data.draw(st.booleans(), label=f"real {name}"):
            case.path_parameters[name] = data.draw(st.sampled_from(real[name]))
    if isinstance(case.body, dict):
        for name in ("item_id", "customer_id", "parent_id"):
            if name in case.body and data.draw(st.booleans(), label=f"real body {name}"):
                case.body[name] = data.draw(st.sampled_from(real[name]))
    item_id = (case.path_parameters or {}).get("item_id")
    if (case.method == "POST" and item_id in contract.items
            and data.draw(st.booleans(), label="current If-Match")):
        version = contract.version(item_id)
        if version is not None:
            case.headers = {**(case.headers or {}), "If-Match": f'"{version}"'}


def _run(contract: Contract, user: str, mode: GenerationMode, method: str, path: str) -> None:
    operation = contract.schema[path][method]
    public = path in PUBLIC
    checks = NEGATIVE_CHECKS if mode == GenerationMode.NEGATIVE else CHECKS

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any, data: st.DataObject) -> None:
        headers = {} if public else contract.auth(user)
        if mode == GenerationMode.POSITIVE:
            _steer(contract, case, data)
        if method == "POST" and (mode == GenerationMode.POSITIVE
                                 or "Idempotency-Key" not in (case.headers or {})):
            headers["Idempotency-Key"] = str(uuid.uuid4())
        extra = {"timeout": STREAM_S} if path == "/v1/events" else {}
        response = case.call(headers=headers, **extra)
        case.validate_response(response, checks=checks, headers=headers)
        if response.status_code >= 400:
            assert response.headers["content-type"][0].startswith(MEDIA_TYPE), response.text
            assert response.json()["type"].startswith(PROBLEM_BASE), response.text

    try:
        fuzz()
    except Unsatisfiable:
        if mode != GenerationMode.NEGATIVE:
            raise
        pytest.skip(f"{method} {path} takes no input that could be made invalid")


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=ids(OPERATIONS))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
def test_agent_requests_get_documented_answers_and_never_a_5xx(
        contract: Contract, mode: GenerationMode, method: str, path: str) -> None:
    _run(contract, "alice", mode, method, path)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=ids(OPERATIONS))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
def test_supervisor_requests_get_documented_answers_and_never_a_5xx(
        contract: Contract, mode: GenerationMode, method: str, path: str) -> None:
    _run(contract, "sue", mode, method, path)


def test_schema_documents_every_route_and_problem_types() -> None:
    """The run above is only as good as the schema: every operation documents
    its errors as problem+json, and every write documents 403 (read-only),
    413 (too large) and 401."""
    from tests.support.openapi import schema

    for method, path in OPERATIONS:
        responses = schema()["paths"][path][method.lower()]["responses"]
        errors = {code: r for code, r in responses.items() if code.startswith(("4", "5"))}
        assert errors, f"{method} {path} documents no errors"
        for code, r in errors.items():
            assert MEDIA_TYPE in r.get("content", {}), f"{method} {path} {code} is not problem+json"
        if path not in PUBLIC:
            assert "401" in responses, f"{method} {path}"
        if method == "POST" and path not in PUBLIC:
            assert {"400", "403", "413", "422"} <= set(responses), f"{method} {path}"
