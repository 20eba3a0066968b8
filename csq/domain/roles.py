"""Roles and what each may do (DOMAIN.md §7): the one permission table.

The server checks every request against it and the TUI hides every binding
it forbids, from the same function, so a hidden key and a 403 always agree.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    LEAD = "lead"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_ZH = {
    Role.AGENT: "客服代表", Role.LEAD: "值班长", Role.SUPERVISOR: "主管", Role.ADMIN: "管理员",
}

# Verbs an agent may use on the queue. An agent acknowledges a handover only
# when it is theirs to take (domain.handover.check_acknowledge); a lead any.
AGENT_VERBS = frozenset({
    "claim", "reply", "note", "transition", "route", "promise", "schedule_callback",
    "attempt_callback", "complete_callback", "waive_callback", "tag", "create_item",
    "create_customer", "reveal", "presence", "handover", "acknowledge_handover",
})
LEAD_VERBS = AGENT_VERBS | {"assign", "escalate", "set_watch", "read_reports"}
ADMIN_VERBS = frozenset({"manage_users", "manage_policy", "read_reports"})

PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.AGENT: AGENT_VERBS,
    Role.LEAD: frozenset(LEAD_VERBS),
    # Read-only, enforced by the server's gate: its one verb only reads.
    Role.SUPERVISOR: frozenset({"read_reports"}),
    Role.ADMIN: ADMIN_VERBS,
}

# Verbs that an agent may use only on an item they own (leads: on any item).
OWNER_ONLY = frozenset({
    "transition", "route", "promise", "attempt_callback", "complete_callback", "waive_callback",
})

READ_ONLY_ROLES = frozenset({Role.SUPERVISOR})


def may(role: Role | str, verb: str) -> bool:
    return verb in PERMISSIONS[Role(role)]


def is_read_only(role: Role | str) -> bool:
    return Role(role) in READ_ONLY_ROLES


def is_lead(role: Role | str) -> bool:
    return Role(role) == Role.LEAD
