"""The records the queue holds: customers, items and their timelines.

These pydantic models are both the domain's state and the wire shape, so the
server's responses, the client's cache and the TUI read one definition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
)

from csq.domain.kinds import Channel, Kind
from csq.domain.priority import Priority, Tier
from csq.domain.text import has_nul


def _refuse_nul(value: str) -> str:
    if has_nul(value):
        raise ValueError("text must not contain NUL bytes")
    return value


_NO_NUL = AfterValidator(_refuse_nul)
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200), _NO_NUL]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100), _NO_NUL]
Body = Annotated[str, StringConstraints(max_length=20_000), _NO_NUL]
RequiredBody = Annotated[str, StringConstraints(min_length=1, max_length=20_000), _NO_NUL]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\s\x00-\x1f]+$")]
Username = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                            pattern=r"^[A-Za-z0-9_.@-]+$")]


# A record id in a request: positive and within the database's 32-bit integer,
# so an absurd number is a 422 naming the field, not an overflow deep inside.
# Strict: `true`, 1.0 or "12" is not an id (lax pydantic would coerce them).
RecordId = Annotated[int, Strict(), Field(ge=1, le=2**31 - 1)]
Phone = Annotated[str, StringConstraints(max_length=40, pattern=r"^[0-9+() -]*$")]
Email = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")]


class Clocked(Protocol):
    """What the SLA and queue-order rules read. An Item has it; so does the
    TUI's lightweight queue row, so 50,000 rows need no full validation."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def sla_start(self) -> datetime: ...
    @property
    def created_at(self) -> datetime: ...


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(Record):
    id: int
    name: Name
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=200)] | None = None
    tier: Tier = Tier.C
    vip: bool = False
    member: bool = False
    key_account: bool = False
    special_care: bool = False
    watch: bool = False
    version: int = 1
    seq: int = 0
    created_at: AwareDatetime
    updated_at: AwareDatetime

    def badges(self) -> list[str]:
        flags = [("vip", self.vip), ("member", self.member), ("key_account", self.key_account),
                 ("special_care", self.special_care), ("watch", self.watch)]
        return [name for name, on in flags if on]


class ContactDetails(Record):
    """The unmasked contact details; only the audited reveal returns these."""

    customer_id: int
    phone: str | None
    email: str | None


EntryType = Literal[
    "created", "claim", "reply", "note", "transition", "assign", "route", "escalate",
    "promise", "callback_scheduled", "callback_attempted", "callback_completed",
    "callback_waived", "tag", "system",
]


class TimelineEntry(Record):
    """One line of an item's history. `note` entries are internal (中途意见)."""

    type: EntryType
    actor: str
    actor_name: str = ""
    at: AwareDatetime
    body: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    seq: int = 0  # 0 while the entry exists only in a client's pending view


class Escalation(Record):
    by: str
    to: str
    reason: str
    at: AwareDatetime


class CallbackResult(Record):
    outcome: Literal["satisfied", "unsatisfied"]
    satisfaction: Annotated[int, Field(ge=1, le=5)]
    notes: str
    by: str
    at: AwareDatetime


class Item(Record):
    id: int
    kind: Kind
    category: str
    subject: ShortText
    body: Body = ""
    channel: Channel
    priority: Priority
    status: str
    customer_id: int
    owner: str | None = None
    first_owner: str | None = None  # 首问负责制: set once, never changed
    department: str | None = None
    due_at: AwareDatetime | None = None
    sla_start: AwareDatetime
    promised_at: AwareDatetime | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int = 1
    seq: int = 0
    tags: tuple[str, ...] = ()
    parent_id: int | None = None
    attempts: int = 0
    escalation: Escalation | None = None
    result: CallbackResult | None = None
    waive_reason: str | None = None
    customer_agreed_time: bool = False
    about_agent: str | None = None  # 服务质量投诉: the agent this complaint is about
    timeline: tuple[TimelineEntry, ...] = ()

    def state_fields(self) -> dict[str, Any]:
        """Everything but the timeline and bookkeeping: what `version` counts."""
        return self.model_dump(mode="json", exclude={"timeline", "version", "seq", "updated_at"})


# What a list of items shows and searches (the queue, its tabs and filters): the
# cache keeps this projection beside each full record, so drawing 50,000 rows
# parses ~16 MB of JSON instead of 74 MB of full items (docs/benchmarks.md, "Terminal").
LIST_FIELDS = ("id", "kind", "category", "subject", "status", "priority", "owner",
               "customer_id", "channel", "due_at", "sla_start", "promised_at", "created_at",
               "updated_at", "tags", "parent_id", "department")
LIST_BODY_CHARS = 2000  # as much of the body as free-text search over a list reads


def list_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An item document (as stored or sent) cut down to LIST_FIELDS; whether it is
    escalated is kept as a flag, the body as its first LIST_BODY_CHARS."""
    view = {k: v for k in LIST_FIELDS if (v := doc.get(k)) is not None}
    if doc.get("escalation") is not None:
        view["escalated"] = True
    if body := doc.get("body"):
        view["body"] = str(body)[:LIST_BODY_CHARS]
    return view


class ItemDraft(Record):
    """What a user fills in to open a new item."""

    kind: Kind
    category: str
    subject: ShortText
    body: Body = ""
    channel: Channel = Channel.PHONE
    customer_id: RecordId
    priority: Priority | None = None
    tags: tuple[Tag, ...] = ()
    parent_id: RecordId | None = None
    due_at: AwareDatetime | None = None
    about_agent: Username | None = None  # a complaint about this agent (see domain.quality)


class CustomerDraft(Record):
    name: Name
    phone: Phone | None = None
    email: Email | None = None
    tier: Tier = Tier.C
    vip: StrictBool = False  # strict: "yes" or 1 is not a flag
    member: StrictBool = False
    key_account: StrictBool = False
    special_care: StrictBool = False


def utc(dt: datetime) -> datetime:
    from datetime import UTC

    return dt.astimezone(UTC)
