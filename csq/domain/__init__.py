"""The rules both sides share: pure Python, no I/O, no Textual, no httpx.

Everything here is imported by the server (to decide) and by the client (to
offer only what the server would allow). Nothing here imports csq's other
packages.
"""

from csq.domain.actions import ACTION_NAMES, Action, needs_if_match, parse_action
from csq.domain.engine import (
    Actor,
    Context,
    Outcome,
    ParentEffect,
    Spawn,
    allowed_verbs,
    apply_action,
    apply_parent_effect,
    new_item,
)
from csq.domain.errors import DomainError
from csq.domain.kinds import CATEGORIES, Channel, Kind
from csq.domain.lifecycle import TRANSITIONS, is_done, is_open, user_transitions
from csq.domain.priority import Priority, Tier, queue_key
from csq.domain.records import Customer, CustomerDraft, Item, ItemDraft, TimelineEntry
from csq.domain.roles import Role, is_read_only, may
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy, SlaState, sla_state

__all__ = [
    "ACTION_NAMES",
    "CATEGORIES",
    "DEFAULT_POLICY",
    "TRANSITIONS",
    "Action",
    "Actor",
    "Channel",
    "Context",
    "Customer",
    "CustomerDraft",
    "DomainError",
    "Item",
    "ItemDraft",
    "Kind",
    "Outcome",
    "ParentEffect",
    "Priority",
    "Role",
    "SlaPolicy",
    "SlaState",
    "Spawn",
    "Tier",
    "TimelineEntry",
    "allowed_verbs",
    "apply_action",
    "apply_parent_effect",
    "is_done",
    "is_open",
    "is_read_only",
    "may",
    "needs_if_match",
    "new_item",
    "parse_action",
    "queue_key",
    "sla_state",
    "user_transitions",
]
