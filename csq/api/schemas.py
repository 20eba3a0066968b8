"""Request and response bodies of the service API, beyond the domain records.

One definition each: FastAPI validates and documents with them, the sync layer
parses with them, so a change here shows up on both sides at once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from csq.domain.records import Customer, Item, RecordId, Username
from csq.domain.roles import Role


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_Wire):
    username: Username
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(_Wire):
    token: str
    username: str
    name: str
    role: Role


class WhoAmI(_Wire):
    username: str
    name: str
    role: Role
    server_time: AwareDatetime
    timezone: str


class ChangesPage(_Wire):
    """A page of the changes feed: each record's latest state, at most once."""

    items: list[Item]
    customers: list[Customer]
    next: int
    end_of_stream: bool


class ChangeBatch(_Wire):
    """The body of one SSE `change` event: everything committed at one seq."""

    seq: int
    items: list[Item]
    customers: list[Customer]


class ActionResult(_Wire):
    item: Item
    created: list[Item] = Field(default_factory=list)
    seq: int


class RevealRequest(_Wire):
    item_id: RecordId = Field(description="the item on whose behalf the details are needed")


class PresenceUpdate(_Wire):
    item_id: RecordId
    state: Literal["viewing", "composing", "idle"]


class PresenceEvent(_Wire):
    user: str
    name: str
    item_id: int
    state: Literal["viewing", "composing", "idle"]
    expires_at: AwareDatetime


class AgentLoad(_Wire):
    username: str
    name: str
    open_items: int
    online: bool


class LiveMetrics(_Wire):
    seq: int
    at: AwareDatetime
    waiting_by_kind: dict[str, int]
    oldest_waiting_s: float | None
    breached: int
    at_risk: int
    escalations_open: int
    agents: list[AgentLoad]
    callbacks_due_today: int
    callbacks_overdue: int
    satisfaction_today: float | None
    depth_history: list[float] = Field(
        default_factory=list, description="items waiting, one point per 5 minutes, oldest first")
    handovers_unacknowledged: int = 0
    quality_followups_overdue: int = Field(
        0, description="open complaints about an agent whose lead follow-up is past due")


class Problem(_Wire):
    """RFC 9457 problem details. `type` is stable; `field` names the culprit."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str | None = None
    field: str | None = None
    errors: list[dict[str, Any]] | None = None
    current: Item | None = None
    allowed: list[str] | None = None
