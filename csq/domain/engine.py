"""The rules engine: what an action does to an item.

Pure: it takes the item, the action and a context (who, when, the policy, the
customer, the item's callbacks) and returns the new item, its timeline entries
and any side effects for the caller to persist. The server runs it to decide;
the client runs the same code to show its optimistic local view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csq.domain import actions as a
from csq.domain.errors import (
    AlreadyOwned,
    CallbackRequired,
    DomainError,
    Forbidden,
    IllegalTransition,
    NotOwner,
    QuietHours,
)
from csq.domain.kinds import Kind, is_valid_category
from csq.domain.lifecycle import (
    INITIAL_STATUS,
    can_transition,
    is_done,
    next_statuses,
    user_transitions,
)
from csq.domain.priority import Priority, default_priority
from csq.domain.quality import QUALITY_TAG, WITHDRAWN, is_quality_complaint
from csq.domain.records import (
    CallbackResult,
    Customer,
    Escalation,
    Item,
    ItemDraft,
    TimelineEntry,
)
from csq.domain.roles import OWNER_ONLY, Role, is_lead, may
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy


@dataclass(frozen=True)
class Actor:
    username: str
    name: str
    role: Role


SYSTEM = Actor("system", "system", Role.ADMIN)


@dataclass(frozen=True)
class Context:
    actor: Actor
    now: datetime
    policy: SlaPolicy = DEFAULT_POLICY
    customer: Customer | None = None
    children: tuple[Item, ...] = ()  # the callbacks whose parent is this item


@dataclass(frozen=True)
class Spawn:
    """A new item that an action creates: a complaint's callback, say."""

    draft: ItemDraft
    due_at: datetime
    owner: str | None
    customer_agreed_time: bool = False


@dataclass(frozen=True)
class ParentEffect:
    """A status the action's parent item must move to (reopen, close)."""

    parent_id: int
    to: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    item: Item
    entries: tuple[TimelineEntry, ...]
    spawns: tuple[Spawn, ...] = ()
    parent_effect: ParentEffect | None = None
    changed: bool = False  # did any state field change (and so the version)?


@dataclass
class _Change:
    """Accumulates one action's edits so the final item is built once."""

    item: Item
    ctx: Context
    updates: dict[str, Any] = field(default_factory=dict)
    entries: list[TimelineEntry] = field(default_factory=list)
    spawns: list[Spawn] = field(default_factory=list)
    parent_effect: ParentEffect | None = None

    @property
    def status(self) -> str:
        return str(self.updates.get("status", self.item.status))

    @property
    def owner(self) -> str | None:
        return self.updates.get("owner", self.item.owner)

    def entry(self, type_: str, body: str | None = None, **data: Any) -> None:
        self.entries.append(TimelineEntry(
            type=type_, actor=self.ctx.actor.username, actor_name=self.ctx.actor.name,
            at=self.ctx.now, body=body, data=data))

    def move(self, to: str, reason: str = "") -> None:
        src = self.status
        if not can_transition(self.item.kind, src, to):
            raise IllegalTransition(self.item.kind, src, to, user_transitions(self.item.kind, src))
        self.updates["status"] = to
        self.entry("transition", reason or None, **{"from": src, "to": to})

    def take(self, username: str) -> None:
        self.updates["owner"] = username
        if self.item.first_owner is None and "first_owner" not in self.updates:
            self.updates["first_owner"] = username

    def outcome(self) -> Outcome:
        new = self.item.model_copy(update=self.updates) if self.updates else self.item
        changed = new.state_fields() != self.item.state_fields()
        final = new.model_copy(update={
            "version": self.item.version + (1 if changed else 0),
            "updated_at": self.ctx.now if (changed or self.entries) else self.item.updated_at,
            "timeline": self.item.timeline + tuple(self.entries),
        })
        return Outcome(final, tuple(self.entries), tuple(self.spawns), self.parent_effect, changed)


def verb_of(action: a.Action) -> str:
    return action.action


def check_permission(item: Item, verb: str, actor: Actor) -> None:
    """Role first, then ownership: one function for the server's 403 and the TUI's keys."""
    if not may(actor.role, verb):
        raise Forbidden(f"a {actor.role} may not {verb.replace('_', ' ')}")
    if item.about_agent == actor.username and verb != "note":
        # 服务质量投诉: the agent complained about may add their side as a note, no more.
        raise Forbidden(f"item {item.id} is a complaint about you; a colleague or the lead "
                        "handles it")
    if verb in OWNER_ONLY and not is_lead(actor.role) and item.owner != actor.username:
        who = f"owned by {item.owner}" if item.owner else "unclaimed"
        raise NotOwner(f"item {item.id} is {who}; claim it first")


def apply_action(item: Item, action: a.Action, ctx: Context) -> Outcome:
    verb = verb_of(action)
    check_permission(item, verb, ctx.actor)
    if is_done(item.kind, item.status) and verb not in ("note", "tag"):
        raise DomainError(f"item {item.id} is {item.status}; only notes can be added",
                          field="action")
    change = _Change(item, ctx)
    _HANDLERS[type(action)](change, action)
    return change.outcome()


def _claim(c: _Change, _: a.Claim) -> None:
    me = c.ctx.actor.username
    if c.item.owner == me:
        return
    if c.item.owner is not None:
        raise AlreadyOwned(f"item {c.item.id} is already owned by {c.item.owner}",
                           owner=c.item.owner)
    c.take(me)
    c.entry("claim")
    _start_work(c)


def _start_work(c: _Change) -> None:
    """Taking a new item opens it (ticket) or registers it (complaint)."""
    if c.item.kind == Kind.TICKET and c.status == "new":
        c.move("open")
    elif c.item.kind == Kind.COMPLAINT and c.status == "new":
        c.move("registered")


def _reply(c: _Change, action: a.Reply) -> None:
    me = c.ctx.actor.username
    c.entry("reply", action.body)
    if c.owner is None and may(c.ctx.actor.role, "claim"):
        c.take(me)  # answering an unclaimed item makes it yours, as in every helpdesk
        if c.item.kind == Kind.TICKET:
            _start_work(c)
    if c.item.kind != Kind.COMPLAINT or (c.owner != me and not is_lead(c.ctx.actor.role)):
        return
    if c.status == "assigned":
        c.move("in_progress")
    if "replied" in next_statuses(Kind.COMPLAINT, c.status):
        c.move("replied")
        _spawn_callback(c, c.ctx.policy.callback_due(c.ctx.now), "after_resolution",
                        agreed=False, subject=None)
        c.move("callback_pending")


def _spawn_callback(c: _Change, due: datetime, category: str, *, agreed: bool,
                    subject: str | None) -> None:
    draft = ItemDraft(
        kind=Kind.CALLBACK, category=category, channel=c.item.channel,
        subject=subject or f"回访 #{c.item.id}: {c.item.subject}"[:200],
        customer_id=c.item.customer_id, parent_id=c.item.id,
        priority=Priority(c.item.priority) if c.item.priority < "P3" else Priority.P3,
    )
    c.spawns.append(Spawn(draft, due, c.owner, agreed))
    c.entry("callback_scheduled", None, due_at=due.isoformat(), customer_agreed=agreed)


def _note(c: _Change, action: a.Note) -> None:
    if is_quality_complaint(c.item) and is_lead(c.ctx.actor.role):
        c.entry("note", action.body, follow_up=True)  # the lead's verdict (quality.py)
    else:
        c.entry("note", action.body)


def offered_transitions(item: Item, actor: Actor) -> frozenset[str]:
    """The statuses this actor may pick in a plain `transition`: the table's, plus
    `withdrawn` for a lead on a complaint about an agent (see domain.quality)."""
    allowed = user_transitions(item.kind, item.status)
    if (is_quality_complaint(item) and is_lead(actor.role)
            and can_transition(item.kind, item.status, WITHDRAWN)):
        allowed |= {WITHDRAWN}
    return allowed


def _transition(c: _Change, action: a.Transition) -> None:
    allowed = offered_transitions(c.item, c.ctx.actor)
    if action.to not in allowed:
        raise IllegalTransition(c.item.kind, c.status, action.to, allowed)
    if action.to == WITHDRAWN and not action.reason.strip():
        raise DomainError("say how the customer was soothed: a withdrawal needs a reason",
                          field="reason")
    if c.item.kind == Kind.COMPLAINT and action.to == "closed":
        _require_member_callback(c)
    if action.to == "attempted":
        c.updates["attempts"] = c.item.attempts + 1
    c.move(action.to, action.reason)
    if c.item.kind == Kind.COMPLAINT and action.to == "replied":
        # Answered another way (on the phone, say): the callback is owed just as
        # after a written reply, or the complaint could never leave `replied`.
        _spawn_callback(c, c.ctx.policy.callback_due(c.ctx.now), "after_resolution",
                        agreed=False, subject=None)
        c.move("callback_pending")


def _require_member_callback(c: _Change) -> None:
    """一个避免,三个必保: a member's complaint closes only after its callback."""
    customer = c.ctx.customer
    if customer is None or not customer.member:
        return
    callbacks = c.ctx.children
    if not callbacks or any(not is_done(cb.kind, cb.status) for cb in callbacks):
        raise CallbackRequired(
            f"customer {customer.id} is a member: complete or waive the callback before closing",
            field="to")


def _assign(c: _Change, action: a.Assign) -> None:
    if action.to == c.item.about_agent:
        raise DomainError(f"item {c.item.id} is a complaint about {action.to}; assign it to "
                          "someone else", field="to")
    c.take(action.to)
    c.entry("assign", action.note, **{"from": c.item.owner, "to": action.to})
    if c.item.kind == Kind.TICKET and c.status == "new":
        c.move("open")


def _route(c: _Change, action: a.Route) -> None:
    if c.item.kind != Kind.COMPLAINT:
        raise DomainError("only complaints are routed to a department", field="action")
    if action.due_at <= c.ctx.now:
        raise DomainError("the deadline must be in the future", field="due_at")
    if c.status == "new":
        c.move("registered")
    c.move("assigned")
    c.updates.update(department=action.department, due_at=action.due_at, sla_start=c.ctx.now)
    c.entry("route", None, department=action.department, due_at=action.due_at.isoformat())


def _escalate(c: _Change, action: a.Escalate) -> None:
    c.updates["priority"] = Priority.P1
    c.updates["escalation"] = Escalation(by=c.ctx.actor.username, to=action.to,
                                         reason=action.reason, at=c.ctx.now)
    c.entry("escalate", action.reason, to=action.to)
    if c.item.kind == Kind.COMPLAINT and can_transition(Kind.COMPLAINT, c.status, "escalated"):
        c.move("escalated")


def _promise(c: _Change, action: a.Promise) -> None:
    if action.at <= c.ctx.now:
        raise DomainError("a promised time must be in the future", field="at")
    c.updates["promised_at"] = action.at
    c.entry("promise", None, at=action.at.isoformat())


def _schedule(c: _Change, action: a.ScheduleCallback) -> None:
    if action.at <= c.ctx.now:
        raise DomainError("a callback must be scheduled in the future", field="at")
    quiet = c.ctx.policy.quiet
    if not action.customer_agreed and quiet.contains(action.at):
        raise QuietHours(
            f"{action.at.astimezone(quiet.zone):%H:%M} is in the quiet window "
            f"({quiet.start:%H:%M}–{quiet.end:%H:%M}); pick another time or mark it "
            "as agreed with the customer", field="at")
    if c.item.kind == Kind.CALLBACK:
        c.updates.update(due_at=action.at, sla_start=c.ctx.now,
                         customer_agreed_time=action.customer_agreed)
        c.entry("callback_scheduled", action.note or None, due_at=action.at.isoformat(),
                customer_agreed=action.customer_agreed)
        return
    category = "after_resolution" if c.item.kind == Kind.COMPLAINT else "scheduled"
    _spawn_callback(c, action.at, category, agreed=action.customer_agreed,
                    subject=action.subject)


def _require_callback(c: _Change) -> None:
    if c.item.kind != Kind.CALLBACK:
        raise DomainError(f"item {c.item.id} is a {c.item.kind}, not a callback",
                          field="action")


def _attempt(c: _Change, action: a.AttemptCallback) -> None:
    _require_callback(c)
    c.updates["attempts"] = c.item.attempts + 1
    c.move("attempted", action.note)


def _complete(c: _Change, action: a.CompleteCallback) -> None:
    _require_callback(c)
    c.updates["result"] = CallbackResult(
        outcome=action.outcome, satisfaction=action.satisfaction, notes=action.notes,
        by=c.ctx.actor.username, at=c.ctx.now)
    c.move("completed")
    c.entry("callback_completed", action.notes, outcome=action.outcome,
            satisfaction=action.satisfaction)
    if c.item.parent_id is not None:
        to = "reopened" if action.outcome == "unsatisfied" else "closed"
        c.parent_effect = ParentEffect(c.item.parent_id, to, f"callback #{c.item.id}: "
                                       f"{action.outcome} ({action.satisfaction}/5)")


def _waive(c: _Change, action: a.WaiveCallback) -> None:
    _require_callback(c)
    c.updates["waive_reason"] = action.reason
    c.move("waived", action.reason)
    c.entries[-1] = c.entries[-1].model_copy(update={"type": "callback_waived"})


def _tag(c: _Change, action: a.TagItem) -> None:
    tags = [t for t in c.item.tags if t not in action.remove]
    tags += [t for t in action.add if t not in tags]
    if tuple(tags) != c.item.tags:
        c.updates["tags"] = tuple(tags)
        c.entry("tag", None, add=list(action.add), remove=list(action.remove))


_HANDLERS: dict[type, Any] = {
    a.Claim: _claim, a.Reply: _reply, a.Note: _note, a.Transition: _transition,
    a.Assign: _assign, a.Route: _route, a.Escalate: _escalate, a.Promise: _promise,
    a.ScheduleCallback: _schedule, a.AttemptCallback: _attempt, a.CompleteCallback: _complete,
    a.WaiveCallback: _waive, a.TagItem: _tag,
}


def apply_parent_effect(parent: Item, effect: ParentEffect, ctx: Context) -> Outcome | None:
    """Move the parent as its callback's outcome says, if the table still allows it.

    A parent that has already moved on (closed by hand, escalated) is left alone.
    """
    if not can_transition(parent.kind, parent.status, effect.to):
        return None
    change = _Change(parent, ctx)
    if effect.to == "closed":
        try:
            _require_member_callback(change)
        except CallbackRequired:
            return None
    change.move(effect.to, effect.reason)
    return change.outcome()


def new_item(draft: ItemDraft, ctx: Context, item_id: int, *,
             due_at: datetime | None = None, owner: str | None = None,
             customer_agreed_time: bool = False) -> Item:
    """A fresh item with its SLA clock set from the policy."""
    if not is_valid_category(draft.kind, draft.category):
        raise DomainError(f"{draft.category!r} is not a {draft.kind} category", field="category")
    tags = draft.tags
    if draft.about_agent is not None:
        if draft.kind != Kind.COMPLAINT:
            raise DomainError("only a complaint can be about an agent", field="about_agent")
        if owner == draft.about_agent:
            raise DomainError("a complaint about an agent cannot be theirs to handle",
                              field="about_agent")
        tags = tags if QUALITY_TAG in tags else (*tags, QUALITY_TAG)  # the lead sees it
    priority = draft.priority or default_priority(draft.kind, ctx.customer)
    due = due_at or draft.due_at
    if draft.kind == Kind.CALLBACK:
        if due is None:
            due = ctx.policy.callback_due(ctx.now)
        elif not customer_agreed_time and ctx.policy.quiet.contains(due):
            raise QuietHours("a callback cannot be due in the quiet window", field="due_at")
    elif due is None:
        due = ctx.policy.due_for_new(draft.kind, draft.category, draft.channel, priority, ctx.now)
    entry = TimelineEntry(type="created", actor=ctx.actor.username, actor_name=ctx.actor.name,
                          at=ctx.now, data={"channel": draft.channel})
    return Item(
        id=item_id, kind=draft.kind, category=draft.category, subject=draft.subject,
        body=draft.body, channel=draft.channel, priority=priority,
        status=INITIAL_STATUS[draft.kind], customer_id=draft.customer_id, owner=owner,
        first_owner=owner, due_at=due, sla_start=ctx.now, created_at=ctx.now,
        updated_at=ctx.now, tags=tags, parent_id=draft.parent_id,
        customer_agreed_time=customer_agreed_time, about_agent=draft.about_agent,
        timeline=(entry,),
    )


def allowed_verbs(item: Item, actor: Actor) -> frozenset[str]:
    """What the TUI may offer on this item: the same checks the server makes."""
    verbs = set()
    for verb in a.ACTION_NAMES:
        try:
            check_permission(item, verb, actor)
        except DomainError:
            continue
        verbs.add(verb)
    if is_done(item.kind, item.status):
        return frozenset(verbs & {"note", "tag"})
    if item.kind != Kind.COMPLAINT or not (
            item.status == "new" or can_transition(item.kind, item.status, "assigned")):
        verbs.discard("route")  # as _route: new -> registered -> assigned, or -> assigned
    if item.kind != Kind.CALLBACK:
        verbs -= {"attempt_callback", "complete_callback", "waive_callback"}
    if item.owner is not None:
        verbs.discard("claim")
    if not offered_transitions(item, actor):
        verbs.discard("transition")
    return frozenset(verbs)


def children_of(item_id: int, items: Sequence[Item]) -> tuple[Item, ...]:
    return tuple(i for i in items if i.parent_id == item_id and i.kind == Kind.CALLBACK)
