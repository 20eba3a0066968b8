"""What screens may ask of the app: read the local view, say what the user
wants. The app implements this; tests can too. Screens never see the sync
engine, the cache or the network."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from csq.api import LiveMetrics
from csq.api.lead import AgentLoads
from csq.domain.engine import Actor
from csq.domain.handover import Handover
from csq.domain.records import Customer, Item
from csq.domain.sla import SlaPolicy
from csq.state.queue import QueueState
from csq.sync.status import SyncStatus


class OpView(Protocol):
    op_id: str
    item_id: int | None
    state: str
    error: str | None
    payload: dict[str, Any]
    base_version: int | None
    server_item: dict[str, Any] | None

    @property
    def verb(self) -> str: ...


class ReadFailed(Exception):
    """An online read (handovers, agents' load) that could not be made; the
    message says why in the user's words (offline, refused)."""


class Backend(Protocol):
    actor: Actor
    policy: SlaPolicy
    queue: QueueState
    read_only: bool
    server: str

    def now(self) -> datetime: ...
    def item(self, item_id: int) -> Item | None: ...
    def customer(self, customer_id: int) -> Customer | None: ...
    def sync_status(self) -> SyncStatus: ...
    def metrics(self) -> LiveMetrics | None: ...
    def problems(self) -> list[OpView]: ...
    def presence_on(self, item_id: int) -> list[str]: ...
    def allows(self, verb: str, item: Item | None = None) -> bool: ...
    def explain(self, item_id: int | None, payload: dict[str, Any]) -> str | None:
        """Why the rules would refuse this (None: they would not)."""
        ...
    def request_action(self, item_id: int, payload: dict[str, Any]) -> bool: ...
    def request_new_item(self, payload: dict[str, Any]) -> bool: ...
    def request_reveal(self, customer_id: int, item_id: int) -> None: ...
    def request_presence(self, item_id: int | None, state: str = "viewing") -> None: ...
    def resolve_conflict(self, op_id: str, reapply: bool) -> None: ...
    # The lead's work: online reads (raise ReadFailed), writes through the outbox.
    async def read_handovers(self) -> list[Handover]: ...
    async def read_loads(self) -> AgentLoads: ...
    def request_handover(self, note: str, to: str | None = None) -> bool: ...
    def request_acknowledge(self, handover: Handover, note: str = "") -> bool: ...
