"""One script per kind: the actions that take a seeded item to its planned status.

The paths are the handbooks' own: claim and answer, wait for the customer,
resolve, close; a complaint is registered, routed to a department with a
deadline, handled, replied to, called back; an unhappy callback reopens it; a
lead escalates the serious ones. Each action happens at a moment a little
after the one before, never after `now`, so every timeline reads in order.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from csq.api import ActionResult
from csq.domain import actions as acts
from csq.domain.kinds import Kind
from csq.domain.records import Item, ItemDraft
from csq.domain.sla import SlaPolicy
from csq.server.demo import phrases
from csq.server.demo.driver import Driver
from csq.server.demo.phrases import one
from csq.server.demo.plan import Aim, Plan
from csq.server.demo.staff import AGENTS

MINUTE = timedelta(minutes=1)


class Story:
    """One plan being told: a time cursor that only moves forward, never past now."""

    def __init__(self, plan: Plan, driver: Driver, rng: random.Random, now: datetime,
                 policy: SlaPolicy, customer_id: int, lang: str) -> None:
        self.plan = plan
        self.d = driver
        self.rng = rng
        self.policy = policy
        self.customer_id = customer_id
        self.lang = lang
        self.t = plan.created
        self.limit = now - 20 * MINUTE
        self.item: Item | None = None

    # -- time ----------------------------------------------------------------------

    def later(self, lo: float, hi: float, before: datetime | None = None) -> datetime:
        """Move on lo–hi minutes, but stay short of `before` and of now."""
        bound = min(before, self.limit) if before is not None else self.limit
        step = self.rng.uniform(lo, hi) * MINUTE
        if self.t + step >= bound:
            step = max((bound - self.t) * self.rng.uniform(0.2, 0.5), timedelta(seconds=1))
        self.t += step
        return self.t

    def at(self, moment: datetime) -> None:
        self.t = max(self.t + timedelta(seconds=1), moment)

    def callable_after(self, lo_hours: float, hi_hours: float) -> datetime:
        """A future callback time outside the quiet window."""
        at = self.t + self.rng.uniform(lo_hours, hi_hours) * timedelta(hours=1)
        return self.policy.quiet.first_open_after(at)

    # -- acting ------------------------------------------------------------------------

    @property
    def id(self) -> int:
        assert self.item is not None
        return self.item.id

    def create(self, who: str, about_agent: str | None = None) -> Item:
        p = self.plan
        subject, body = p.scenario.fill(self.rng)
        draft = ItemDraft(kind=p.kind, category=p.scenario.category, subject=subject, body=body,
                          channel=p.channel, customer_id=self.customer_id,
                          priority=p.scenario.priority, tags=p.scenario.tags,
                          due_at=p.due if p.kind == Kind.CALLBACK else None,
                          about_agent=about_agent)
        self.item = self.d.create(who, draft, self.t)
        return self.item

    def act(self, who: str, action: acts.Action, item_id: int | None = None) -> ActionResult:
        return self.d.act(who, item_id or self.id, action, self.t)

    def reply_text(self) -> str:
        return phrases.reply(self.rng, self.plan.scenario.sector, self.lang)

    def colleague(self, not_: str | None) -> str:
        return self.rng.choice([a for a in AGENTS if a != not_])

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


def tell(story: Story) -> None:
    {Kind.TICKET: ticket, Kind.COMPLAINT: complaint,
     Kind.CALLBACK: callback}[story.plan.kind](story)


# -- tickets: new -> open -> pending_customer <-> open -> resolved -> closed ----------------

def ticket(s: Story) -> None:
    p, r = s.plan, s.rng
    s.create(p.owner or s.colleague(None))
    if p.target == "new":
        if p.aim == Aim.BREACHED and s.chance(0.5):  # nobody took it; the customer chases
            s.later(30, 600)
            s.act(s.colleague(None), acts.Note(body="客户第二次来电催办。"))
            s.act(s.colleague(None), acts.TagItem(add=("催办",)))
        return
    owner = p.owner
    assert owner is not None
    s.later(2, 45, before=p.created + 2 * timedelta(hours=1))
    if s.chance(0.2):
        s.act(p.lead, acts.Assign(to=owner, note=one(r, phrases.ASSIGN_NOTES)))
    else:
        s.act(owner, acts.Claim())
    s.later(3, 60)
    s.act(owner, acts.Reply(body=s.reply_text()))
    if p.target == "open":
        if s.chance(0.35):
            s.later(1, 30)
            s.act(owner, acts.Promise(at=s.t + r.uniform(1, 30) * timedelta(hours=1)))
        if s.chance(0.3):
            s.later(5, 120)
            s.act(s.colleague(owner), acts.Note(body=one(r, phrases.NOTES)))
        if s.chance(0.15):  # handed over at shift change; the first owner stays on record
            s.later(30, 240)
            other = s.colleague(owner)
            s.act(p.lead, acts.Assign(to=other, note="交接班转办,详见中途意见。"))
        return
    if p.target == "pending_customer" or s.chance(0.3):
        s.later(5, 120)
        s.act(owner, acts.Transition(to="pending_customer",
                                           reason=one(r, phrases.PENDING_REASONS)))
        if p.target == "pending_customer":
            return
        s.later(60, 1440)
        s.act(owner, acts.Transition(to="open", reason="客户已补充材料。"))
    s.later(20, 600)
    s.act(owner, acts.Transition(to="resolved", reason=one(r, phrases.RESOLVED_REASONS)))
    if p.target == "resolved":
        if s.chance(0.4):  # 定期回访: a callback owed once the work is done
            s.later(1, 20)
            s.act(owner, acts.ScheduleCallback(at=s.callable_after(2, 72),
                                                     note=one(r, phrases.CALLBACK_NOTES)))
        return
    if s.chance(0.25):  # the fix did not hold: reopened, answered again, resolved again
        s.later(120, 2880)
        s.act(owner, acts.Transition(to="open", reason=one(r, phrases.REOPEN_REASONS)))
        s.later(10, 240)
        s.act(owner, acts.Reply(body=s.reply_text()))
        s.later(30, 600)
        s.act(owner, acts.Transition(to="resolved",
                                           reason=one(r, phrases.RESOLVED_REASONS)))
    s.later(60, 4320)
    s.act(owner, acts.Transition(to="closed", reason=one(r, phrases.CLOSE_REASONS)))


# -- complaints: receive, register, route with a deadline, handle, reply, callback, close ---

def complaint(s: Story) -> None:
    p, r = s.plan, s.rng
    if p.target == "withdrawn":
        _withdrawn(s)
        return
    s.create(p.owner or s.colleague(None))
    if p.target == "new":
        if s.chance(0.4):
            s.later(10, 300)
            s.act(s.colleague(None), acts.Note(body=one(r, phrases.NOTES)))
        return
    owner = p.owner
    assert owner is not None
    replied_by = p.anchor if p.target in ("callback_pending", "reopened") else None
    if p.target in ("callback_pending", "closed") and p.variant < 0.25:
        # Solved at first contact (new -> replied): the reply owes a callback at once.
        s.at(replied_by or s.later(5, 60))
        _reply(s, owner)
        return
    s.later(2, 60, before=replied_by or p.anchor)
    s.act(owner, acts.Claim())  # new -> registered; the first owner is now set
    if p.target == "registered":
        if s.chance(0.5):
            s.later(5, 120)
            s.act(owner, acts.Note(body=one(r, phrases.NOTES)))
        return
    escalate = p.target == "escalated" or (p.target == "closed" and p.variant > 0.8)
    if escalate:  # 重大投诉: P1, on the supervisor's wall, back to routing
        s.later(10, 240)
        s.act(p.lead, acts.Escalate(to=one(r, phrases.ESCALATE_TO),
                                          reason=one(r, phrases.ESCALATE_REASONS)))
        if s.chance(0.3):
            s.act(p.lead, acts.TagItem(add=("媒体关注",)))
        if p.target == "escalated":
            return
    _route(s, p.lead if escalate else owner, before=replied_by)
    if p.target == "assigned":
        return
    s.later(10, 240, before=replied_by)
    s.act(owner, acts.Transition(to="in_progress", reason=one(r, phrases.PROGRESS_REASONS)))
    if p.target == "in_progress":
        if s.chance(0.6):
            s.later(30, 600)
            s.act(owner, acts.Note(body=one(r, phrases.NOTES)))
        return
    if replied_by is not None:
        s.at(replied_by)
    else:
        s.later(60, 1440)
    _reply(s, owner)


def _withdrawn(s: Story) -> None:
    """服务质量投诉: the customer complains about an agent; a colleague takes it, the
    lead gives the verdict as a note next morning, the customer is soothed and the
    lead withdraws it, which clears the agent's record."""
    p, r = s.plan, s.rng
    owner = p.owner
    assert owner is not None
    s.create(owner, about_agent=s.colleague(owner))
    s.later(5, 60)
    s.act(owner, acts.Claim())
    s.later(60, 900)
    s.act(p.lead, acts.Note(body=one(r, phrases.QUALITY_VERDICTS)))
    s.later(30, 600)
    s.act(p.lead, acts.Transition(to="withdrawn", reason=one(r, phrases.WITHDRAW_REASONS)))


def _reply(s: Story, owner: str) -> None:
    """The public reply (-> replied -> callback_pending); its callback ends the story."""
    p, r = s.plan, s.rng
    callback_id = _spawned(s.act(owner, acts.Reply(body=s.reply_text())))
    if p.target == "callback_pending":
        if s.chance(0.4):
            s.later(60, 1440)
            s.act(owner, acts.AttemptCallback(note=one(r, phrases.ATTEMPT_NOTES)),
                        callback_id)
        return
    s.later(120, 3000)
    if p.target == "reopened":
        s.act(owner, _complete(r, satisfied=False), callback_id)  # reopens the complaint
        return
    if 0.6 < p.variant <= 0.8:  # unhappy at first, then fixed for good
        s.act(owner, _complete(r, satisfied=False), callback_id)
        _route(s, owner)
        s.later(30, 600)
        s.act(owner, acts.Transition(to="in_progress",
                                           reason=one(r, phrases.PROGRESS_REASONS)))
        s.later(60, 1440)
        callback_id = _spawned(s.act(owner, acts.Reply(body=s.reply_text())))
        s.later(120, 2000)
    if p.variant < 0.1 or 0.4 < p.variant < 0.5:  # the customer wants no call: waive, close
        s.act(owner, acts.WaiveCallback(reason=one(r, phrases.WAIVE_REASONS)), callback_id)
        s.later(5, 120)
        s.act(owner, acts.Transition(to="closed", reason=one(r, phrases.CLOSE_REASONS)))
        return
    if s.chance(0.3):
        s.act(owner, acts.AttemptCallback(note=one(r, phrases.ATTEMPT_NOTES)), callback_id)
        s.later(60, 600)
    s.act(owner, _complete(r, satisfied=True), callback_id)  # closes the complaint


def _spawned(result: ActionResult) -> int:
    """The callback a complaint's reply created."""
    callbacks = [c.id for c in result.created if c.kind == Kind.CALLBACK]
    if not callbacks:
        raise RuntimeError(f"reply on item {result.item.id} created no callback")
    return callbacks[-1]


def _route(s: Story, by: str, before: datetime | None = None) -> None:
    """设定处理时限: to the department that fixes it, with a deadline."""
    p, r = s.plan, s.rng
    if p.target in ("assigned", "in_progress") and p.anchor is not None and p.due is not None:
        s.at(p.anchor)
        due = p.due
    else:
        s.later(10, 240, before=before)
        due = s.t + r.choice((24, 48, 72)) * timedelta(hours=1)
    department = one(r, phrases.DEPARTMENTS[p.scenario.sector])
    s.act(by, acts.Route(department=department, due_at=due))


def _complete(r: random.Random, *, satisfied: bool) -> acts.CompleteCallback:
    if satisfied:
        return acts.CompleteCallback(outcome="satisfied", satisfaction=r.choice((3, 4, 5, 5)),
                                     notes=one(r, phrases.CALLBACK_SATISFIED))
    return acts.CompleteCallback(outcome="unsatisfied", satisfaction=r.choice((1, 2, 2)),
                                 notes=one(r, phrases.CALLBACK_UNSATISFIED))


# -- callbacks: scheduled -> attempted (n tries) -> completed | waived -----------------------

def callback(s: Story) -> None:
    p, r = s.plan, s.rng
    s.create(p.lead if s.chance(0.5) else s.colleague(None))
    owner = p.owner
    assert owner is not None
    if p.target == "scheduled" and s.chance(0.5):
        return  # not yet taken: anyone may pick it up when it falls due
    s.later(5, 600, before=p.due)
    s.act(owner, acts.Claim())
    if p.target == "scheduled":
        return
    tries = {"attempted": r.randint(1, 3), "completed": r.choice((0, 0, 1)),
             "waived": r.randint(0, 2)}[p.target]
    for _ in range(tries):
        s.later(30, 600)
        s.act(owner, acts.AttemptCallback(note=one(r, phrases.ATTEMPT_NOTES)))
    if p.target == "attempted":
        if p.aim == Aim.OK and s.chance(0.3):  # the customer named a time (it may be late)
            agreed = s.t + r.uniform(6, 40) * timedelta(hours=1)
            s.act(owner, acts.ScheduleCallback(at=max(agreed, s.limit + timedelta(hours=2)),
                                                     customer_agreed=True,
                                                     note="客户约定时间回访。"))
        return
    s.later(10, 600)
    if p.target == "waived":
        s.act(owner, acts.WaiveCallback(reason=one(r, phrases.WAIVE_REASONS)))
    else:
        s.act(owner, _complete(r, satisfied=s.chance(0.85)))
