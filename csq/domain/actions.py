"""The actions a user can take on an item: one payload model each.

The server parses request bodies into these; the client builds them for the
outbox. `extra="forbid"` makes an unknown field a 422 naming it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, StrictBool, TypeAdapter

from csq.domain.records import Body, Name, RequiredBody, ShortText, Tag, Username


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Claim(_Action):
    action: Literal["claim"] = "claim"


class Reply(_Action):
    """A public reply. On a complaint that can be answered it moves the
    complaint to replied and creates its callback (within three days)."""

    action: Literal["reply"] = "reply"
    body: RequiredBody


class Note(_Action):
    """An internal note (中途意见), never shown to the customer."""

    action: Literal["note"] = "note"
    body: RequiredBody


class Transition(_Action):
    action: Literal["transition"] = "transition"
    to: Annotated[str, Field(min_length=1, max_length=40)]
    reason: Body = ""


class Assign(_Action):
    action: Literal["assign"] = "assign"
    to: Username
    note: RequiredBody  # every assignment carries a handover note


class Route(_Action):
    """Route a complaint to a department with a deadline (设定处理时限)."""

    action: Literal["route"] = "route"
    department: Name
    due_at: AwareDatetime


class Escalate(_Action):
    action: Literal["escalate"] = "escalate"
    to: Name
    reason: RequiredBody


class Promise(_Action):
    """到承诺的时间一定要给客户答复: the agent promised a reply by `at`."""

    action: Literal["promise"] = "promise"
    at: AwareDatetime


class ScheduleCallback(_Action):
    action: Literal["schedule_callback"] = "schedule_callback"
    at: AwareDatetime
    customer_agreed: StrictBool = False  # a time the customer chose overrides the quiet window
    note: Body = ""
    subject: ShortText | None = None


class AttemptCallback(_Action):
    """No answer: the try is counted and the callback stays open."""

    action: Literal["attempt_callback"] = "attempt_callback"
    note: Body = ""


class CompleteCallback(_Action):
    action: Literal["complete_callback"] = "complete_callback"
    outcome: Literal["satisfied", "unsatisfied"]
    satisfaction: Annotated[int, Strict(), Field(ge=1, le=5)]  # strict: not "5" or true
    notes: RequiredBody  # every callback is recorded in full


class WaiveCallback(_Action):
    action: Literal["waive_callback"] = "waive_callback"
    reason: RequiredBody


class TagItem(_Action):
    action: Literal["tag"] = "tag"
    add: tuple[Tag, ...] = ()
    remove: tuple[Tag, ...] = ()


Action = Annotated[
    Claim | Reply | Note | Transition | Assign | Route | Escalate | Promise | ScheduleCallback
    | AttemptCallback | CompleteCallback | WaiveCallback | TagItem,
    Field(discriminator="action"),
]

ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)

ACTION_NAMES: tuple[str, ...] = (
    "claim", "reply", "note", "transition", "assign", "route", "escalate", "promise",
    "schedule_callback", "attempt_callback", "complete_callback", "waive_callback", "tag",
)

# Appends that need no If-Match: they never overwrite another agent's change.
APPEND_ONLY: frozenset[str] = frozenset({"note", "reply"})


def needs_if_match(action_name: str) -> bool:
    return action_name not in APPEND_ONLY


def parse_action(data: object) -> Action:
    return ACTION_ADAPTER.validate_python(data)


__all__ = ["ACTION_NAMES", "APPEND_ONLY", "Action", "ShortText", "needs_if_match", "parse_action"]
