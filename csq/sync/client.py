"""The service API seen from the client: one method per route, typed results,
and every failure turned into a SyncError. Takes an injected
`httpx.AsyncClient`, so tests run it against the real app in-process."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from csq.api import ActionResult, ChangesPage, TokenResponse, WhoAmI
from csq.api.lead import AgentLoads
from csq.domain.handover import Handover
from csq.domain.records import ContactDetails
from csq.sync.errors import BadResponse, Refused, Stale, Unauthorized, Unreachable

USER_AGENT = "csq-client/0.1"


def make_http(server: str, token: str | None, *, timeout: float = 15.0,
              transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    headers = {"User-Agent": USER_AGENT}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Every request goes to `server`; over plain http no TLS is ever started, so skip
    # loading the CA bundle (~100 ms, half of a quick `csq do`). https verifies as usual.
    tls = server.startswith("https://")
    return httpx.AsyncClient(base_url=server, headers=headers, transport=transport,
                             verify=tls, timeout=httpx.Timeout(timeout, connect=5.0))


class ApiClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _call(self, method: str, path: str, *, json: Any = None,
                    params: dict[str, Any] | None = None,
                    headers: dict[str, str] | None = None) -> Any:
        try:
            response = await self.http.request(method, path, json=json, params=params,
                                                headers=headers)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach {self.http.base_url}: "
                              f"{exc.__class__.__name__}") from None
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> Any:
        kind = response.headers.get("content-type", "")
        if response.status_code == 204:
            return None
        if "json" not in kind:
            if response.status_code >= 500:
                raise Unreachable(f"the server failed (HTTP {response.status_code})")
            raise BadResponse(f"{self.http.base_url} answered HTTP {response.status_code} "
                              f"with {kind or 'no content type'}, not the csq API; "
                              "is the server URL right?")
        try:
            body = response.json()
        except ValueError:
            raise BadResponse(f"{self.http.base_url} sent malformed JSON") from None
        if response.status_code == 401:
            raise Unauthorized(body.get("detail", "") if isinstance(body, dict) else "")
        if response.status_code == 412:
            raise Stale(412, body)
        if response.status_code >= 500:
            raise Unreachable(f"the server failed (HTTP {response.status_code})")
        if response.status_code >= 400:
            raise Refused(response.status_code, body if isinstance(body, dict) else {})
        return body

    @staticmethod
    def _post_headers(key: str | None, version: int | None = None) -> dict[str, str]:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        return headers

    def _parse(self, model: Any, body: Any) -> Any:
        try:
            return model.model_validate(body)
        except ValueError:
            raise BadResponse(f"{self.http.base_url} answered in an unexpected shape") from None

    async def login(self, username: str, password: str) -> TokenResponse:
        body = await self._call("POST", "/v1/auth/token",
                                json={"username": username, "password": password})
        return self._parse(TokenResponse, body)

    async def me(self) -> WhoAmI:
        return self._parse(WhoAmI, await self._call("GET", "/v1/me"))

    async def changes(self, after: int, limit: int = 500) -> ChangesPage:
        body = await self._call("GET", "/v1/changes", params={"after": after, "limit": limit})
        return self._parse(ChangesPage, body)

    async def item(self, item_id: int) -> dict[str, Any]:
        return dict(await self._call("GET", f"/v1/items/{item_id}"))

    async def act(self, item_id: int, payload: dict[str, Any], *, key: str,
                  version: int | None) -> ActionResult:
        body = await self._call("POST", f"/v1/items/{item_id}/actions", json=payload,
                                headers=self._post_headers(key, version))
        return self._parse(ActionResult, body)

    async def create_item(self, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
        return dict(await self._call("POST", "/v1/items", json=payload,
                                     headers=self._post_headers(key)))

    async def create_customer(self, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
        return dict(await self._call("POST", "/v1/customers", json=payload,
                                     headers=self._post_headers(key)))

    async def reveal(self, customer_id: int, item_id: int) -> ContactDetails:
        body = await self._call("POST", f"/v1/customers/{customer_id}/reveal",
                                json={"item_id": item_id}, headers=self._post_headers(None))
        return self._parse(ContactDetails, body)

    async def presence(self, item_id: int, state: str) -> None:
        await self._call("POST", "/v1/presence", json={"item_id": item_id, "state": state},
                         headers=self._post_headers(None))

    async def metrics(self) -> dict[str, Any]:
        return dict(await self._call("GET", "/v1/metrics/live"))

    # -- the lead's work: handovers (值班交接), agents' load --------------------------------

    async def hand_over(self, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
        return dict(await self._call("POST", "/v1/handovers", json=payload,
                                     headers=self._post_headers(key)))

    async def acknowledge_handover(self, handover_id: int, note: str, *,
                                   key: str) -> dict[str, Any]:
        return dict(await self._call("POST", f"/v1/handovers/{handover_id}/acknowledge",
                                     json={"note": note}, headers=self._post_headers(key)))

    async def handovers(self, *, open_only: bool = True) -> list[Handover]:
        body = await self._call("GET", "/v1/handovers",
                                params={"open": "true" if open_only else "false"})
        if not isinstance(body, list):
            raise BadResponse(f"{self.http.base_url} answered in an unexpected shape")
        return [self._parse(Handover, h) for h in body]

    async def agent_loads(self) -> AgentLoads:
        return self._parse(AgentLoads, await self._call("GET", "/v1/agents/load"))
