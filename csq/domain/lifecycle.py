"""Statuses and the transition table of each kind (DOMAIN.md §3).

Server and client import this one table: the server refuses what is not here
and the TUI offers only what is here, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

from csq.domain.kinds import Kind

TICKET_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "new": frozenset({"open", "resolved"}),
    "open": frozenset({"pending_customer", "resolved"}),
    "pending_customer": frozenset({"open", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset(),
}

_COMPLAINT_CORE: dict[str, set[str]] = {
    "new": {"registered", "replied"},
    "registered": {"assigned", "replied"},
    "assigned": {"in_progress"},
    "in_progress": {"replied"},
    "replied": {"callback_pending"},
    "callback_pending": {"closed", "reopened"},
    "reopened": {"assigned"},
    "escalated": {"assigned"},
    "closed": set(),
    "withdrawn": set(),
}
_COMPLAINT_DONE = ("closed", "withdrawn")
# 重大投诉: any open state may be escalated; escalated items go back to routing.
# 服务质量投诉: any open complaint about an agent may be withdrawn once the customer
# is soothed (engine.offered_transitions says who may, and on which complaints).
COMPLAINT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    status: frozenset(targets
                      | ({"escalated"} if status not in (*_COMPLAINT_DONE, "escalated") else set())
                      | ({"withdrawn"} if status not in _COMPLAINT_DONE else set()))
    for status, targets in _COMPLAINT_CORE.items()
}

CALLBACK_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "scheduled": frozenset({"attempted", "completed", "waived"}),
    "attempted": frozenset({"attempted", "completed", "waived"}),
    "completed": frozenset(),
    "waived": frozenset(),
}

TRANSITIONS: Mapping[Kind, Mapping[str, frozenset[str]]] = {
    Kind.TICKET: TICKET_TRANSITIONS,
    Kind.COMPLAINT: COMPLAINT_TRANSITIONS,
    Kind.CALLBACK: CALLBACK_TRANSITIONS,
}

INITIAL_STATUS: Mapping[Kind, str] = {
    Kind.TICKET: "new",
    Kind.COMPLAINT: "new",
    Kind.CALLBACK: "scheduled",
}

# Terminal: nothing more can happen to the item.
DONE_STATUSES: Mapping[Kind, frozenset[str]] = {
    Kind.TICKET: frozenset({"closed"}),
    Kind.COMPLAINT: frozenset({"closed", "withdrawn"}),
    Kind.CALLBACK: frozenset({"completed", "waived"}),
}

# The SLA clock stops here: the customer has had their answer.
SLA_MET_STATUSES: Mapping[Kind, frozenset[str]] = {
    Kind.TICKET: frozenset({"resolved", "closed"}),
    Kind.COMPLAINT: frozenset({"replied", "callback_pending", "closed", "withdrawn"}),
    Kind.CALLBACK: frozenset({"completed", "waived"}),
}

# Transitions that only a side effect may make, never a user's `transition`:
# completing or waiving a callback needs its outcome or reason, and a
# complaint's callback_pending follows from its callback being created.
SYSTEM_ONLY: Mapping[Kind, frozenset[str]] = {
    Kind.TICKET: frozenset(),
    Kind.COMPLAINT: frozenset({"callback_pending", "assigned", "escalated"}),
    Kind.CALLBACK: frozenset({"completed", "waived"}),
}

# Reachable by a plain `transition` only where a rule grants it, never by the
# table alone: withdrawing a complaint about an agent is a lead's decision
# (engine.offered_transitions), so `user_transitions` leaves it out.
RULED: Mapping[Kind, frozenset[str]] = {
    Kind.TICKET: frozenset(),
    Kind.COMPLAINT: frozenset({"withdrawn"}),
    Kind.CALLBACK: frozenset(),
}

STATUS_ZH: Mapping[str, str] = {
    "new": "新建", "open": "处理中", "pending_customer": "待客户", "resolved": "已解决",
    "closed": "已关闭", "registered": "已登记", "assigned": "已派单", "in_progress": "处理中",
    "replied": "已答复", "callback_pending": "待回访", "reopened": "重新打开",
    "escalated": "已升级", "scheduled": "已安排", "attempted": "未接通", "completed": "已完成",
    "waived": "已免回访", "withdrawn": "已撤诉",
}


def statuses(kind: Kind | str) -> frozenset[str]:
    return frozenset(TRANSITIONS[Kind(kind)])


def next_statuses(kind: Kind | str, status: str) -> frozenset[str]:
    """Every status the table allows after `status` (side effects included)."""
    return TRANSITIONS[Kind(kind)].get(status, frozenset())


def user_transitions(kind: Kind | str, status: str) -> frozenset[str]:
    """The statuses any user may pick in a plain `transition` action; the
    ruled ones (a lead's withdrawal) are added by engine.offered_transitions."""
    return next_statuses(kind, status) - SYSTEM_ONLY[Kind(kind)] - RULED[Kind(kind)]


def can_transition(kind: Kind | str, src: str, dst: str) -> bool:
    return dst in next_statuses(kind, src)


def is_done(kind: Kind | str, status: str) -> bool:
    return status in DONE_STATUSES[Kind(kind)]


def is_open(kind: Kind | str, status: str) -> bool:
    return not is_done(kind, status)


def sla_met(kind: Kind | str, status: str) -> bool:
    return status in SLA_MET_STATUSES[Kind(kind)]
