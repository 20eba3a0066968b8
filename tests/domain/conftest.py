"""Shared fixtures, builders and hypothesis strategies for the domain suite.

Test modules import the builders and strategies with
`from tests.domain.conftest import ...` (the same module pytest loaded).

`World` is a tiny in-memory model of the server: it applies actions through
`apply_action`, creates the callbacks an outcome spawns with `new_item`,
applies parent effects with `apply_parent_effect`, and checks the engine's
invariants after every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import strategies as st

from csq.domain import actions as a
from csq.domain.engine import (
    Actor,
    Context,
    Outcome,
    allowed_verbs,
    apply_action,
    apply_parent_effect,
    children_of,
    new_item,
)
from csq.domain.errors import DomainError
from csq.domain.kinds import CATEGORIES, Channel, Kind
from csq.domain.lifecycle import INITIAL_STATUS, TRANSITIONS, is_done
from csq.domain.priority import Priority, Tier
from csq.domain.records import Customer, Item, ItemDraft
from csq.domain.roles import Role
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday, 10:00 in the centre's zone: well outside the quiet window.
T0 = datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI)

AGENT = Actor("a1", "张伟", Role.AGENT)
AGENT_B = Actor("a2", "李娜", Role.AGENT)
LEAD = Actor("l1", "王班长", Role.LEAD)
SUPERVISOR = Actor("s1", "赵主管", Role.SUPERVISOR)
ADMIN = Actor("root", "管理员", Role.ADMIN)
QUEUE_ACTORS = (AGENT, AGENT_B, LEAD, SUPERVISOR)  # who works the queue in the models
ALL_ACTORS = (*QUEUE_ACTORS, ADMIN)
USERNAMES = tuple(x.username for x in ALL_ACTORS)

ALL_STATUSES = tuple(sorted({s for table in TRANSITIONS.values() for s in table}))
ANSWERED = ("replied", "callback_pending", "closed")  # a complaint the customer has had answered
# Every edge of every kind's table, side effects' edges included.
TRANSITION_EDGES = {kind: {(src, dst) for src, dsts in table.items() for dst in dsts}
                    for kind, table in TRANSITIONS.items()}

# Every control-like code point `text.neutralise` must never let through.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")


# ---------------------------------------------------------------------------
# Builders


def make_customer(id: int = 1, **flags: object) -> Customer:
    values: dict[str, object] = {
        "id": id, "name": f"客户{id}", "phone": "13812345678",
        "email": f"c{id}@example.com", "created_at": T0, "updated_at": T0,
    }
    values.update(flags)
    return Customer.model_validate(values)


UNSET: object = object()  # "not given": make_item's due_at may be None on purpose


def make_item(kind: Kind | str = Kind.TICKET, status: str | None = None, *, id: int = 1,
              owner: str | None = None, first_owner: str | None = None,
              category: str | None = None, channel: Channel = Channel.PHONE,
              priority: Priority | None = None, customer_id: int = 1,
              due_at: datetime | object | None = UNSET, sla_start: datetime = T0,
              created_at: datetime = T0, parent_id: int | None = None,
              tags: tuple[str, ...] = ()) -> Item:
    """An item in any state, built directly (the engine would need many steps).

    `due_at` defaults to 24 h after `sla_start`; pass None for an item with no clock."""
    kind = Kind(kind)
    return Item(
        id=id, kind=kind, category=category or CATEGORIES[kind][0], subject=f"事项 {id}",
        channel=channel,
        priority=priority or (Priority.P2 if kind == Kind.COMPLAINT else Priority.P3),
        status=status or INITIAL_STATUS[kind], customer_id=customer_id, owner=owner,
        first_owner=first_owner or owner,
        due_at=sla_start + timedelta(hours=24) if due_at is UNSET else due_at,
        sla_start=sla_start, created_at=created_at, updated_at=created_at, tags=tags,
        parent_id=parent_id,
    )


def draft(kind: Kind | str = Kind.COMPLAINT, category: str | None = None, *,
          customer_id: int = 1, channel: Channel = Channel.PHONE) -> ItemDraft:
    kind = Kind(kind)
    return ItemDraft(kind=kind, category=category or CATEGORIES[kind][0], subject="快递延误",
                     channel=channel, customer_id=customer_id)


def ctx(actor: Actor = AGENT, now: datetime = T0, *, policy: SlaPolicy = DEFAULT_POLICY,
        customer: Customer | None = None, children: tuple[Item, ...] = ()) -> Context:
    return Context(actor=actor, now=now, policy=policy, customer=customer, children=children)


# ---------------------------------------------------------------------------
# Hypothesis strategies

texts = st.sampled_from(["您好", "已联系客户", "ok", "客户不满意,需再次处理", "x" * 50])
optional_texts = st.sampled_from(["", "备注"])
tag_names = st.sampled_from(["vip-followup", "repeat", "媒体", "urgent"])
# Absolute minutes from T0 over about a week: some in the past of a run's clock,
# some inside the quiet window; the engine must cope with all of them.
moments = st.integers(0, 10 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))

ACTION_STRATEGIES: dict[str, st.SearchStrategy[a.Action]] = {
    "claim": st.just(a.Claim()),
    "reply": st.builds(a.Reply, body=texts),
    "note": st.builds(a.Note, body=texts),
    "transition": st.builds(a.Transition, to=st.sampled_from((*ALL_STATUSES, "bogus")),
                            reason=optional_texts),
    "assign": st.builds(a.Assign, to=st.sampled_from(USERNAMES), note=texts),
    "route": st.builds(a.Route, department=st.sampled_from(["售后部", "物流部"]),
                       due_at=moments),
    "escalate": st.builds(a.Escalate, to=st.just("值班经理"), reason=texts),
    "promise": st.builds(a.Promise, at=moments),
    "schedule_callback": st.builds(a.ScheduleCallback, at=moments, customer_agreed=st.booleans(),
                                   note=optional_texts,
                                   subject=st.none() | st.just("定期回访")),
    "attempt_callback": st.builds(a.AttemptCallback, note=optional_texts),
    "complete_callback": st.builds(a.CompleteCallback,
                                   outcome=st.sampled_from(["satisfied", "unsatisfied"]),
                                   satisfaction=st.integers(1, 5), notes=texts),
    "waive_callback": st.builds(a.WaiveCallback, reason=texts),
    "tag": st.builds(a.TagItem, add=st.lists(tag_names, max_size=2).map(tuple),
                     remove=st.lists(tag_names, max_size=2).map(tuple)),
}
assert set(ACTION_STRATEGIES) == set(a.ACTION_NAMES), "a new action needs a strategy"

any_action = st.one_of(*ACTION_STRATEGIES.values())
# For sequences: every action type, with transitions (most of them illegal) drawn
# more often so that items travel through their tables.
sequence_actions = st.one_of(*ACTION_STRATEGIES.values(), *[ACTION_STRATEGIES["transition"]] * 4,
                             ACTION_STRATEGIES["complete_callback"],
                             ACTION_STRATEGIES["reply"], ACTION_STRATEGIES["claim"])
queue_actors = st.sampled_from(QUEUE_ACTORS)
all_actors = st.sampled_from(ALL_ACTORS)
owners = st.sampled_from([None, AGENT.username, AGENT_B.username, LEAD.username])

customers = st.builds(
    make_customer, id=st.just(1), tier=st.sampled_from(Tier), member=st.booleans(),
    vip=st.booleans(), key_account=st.booleans(),
)


@st.composite
def items(draw: st.DrawFn, kinds: tuple[Kind, ...] = tuple(Kind), id: int = 1) -> Item:
    """One item of any kind, in any status of its table, owned by anyone."""
    kind = draw(st.sampled_from(kinds))
    return make_item(
        kind, draw(st.sampled_from(sorted(TRANSITIONS[kind]))), id=id, owner=draw(owners),
        category=draw(st.sampled_from(CATEGORIES[kind])), channel=draw(st.sampled_from(Channel)),
        priority=draw(st.sampled_from(Priority)),
        parent_id=draw(st.none() | st.just(99)) if kind == Kind.CALLBACK else None,
        sla_start=T0 - timedelta(days=3),
        due_at=draw(st.none() | st.integers(-3 * 86400, 3 * 86400).map(
            lambda s: T0 + timedelta(seconds=s))),
        created_at=T0 - timedelta(seconds=draw(st.integers(0, 5 * 86400))),
        tags=tuple(draw(st.lists(tag_names, max_size=2, unique=True))),
    )


@st.composite
def callbacks_of(draw: st.DrawFn, parent: Item) -> tuple[Item, ...]:
    """Zero to two callbacks of `parent`, each in any callback status."""
    statuses = draw(st.lists(st.sampled_from(sorted(TRANSITIONS[Kind.CALLBACK])), max_size=2))
    return tuple(make_item(Kind.CALLBACK, s, id=100 + i, parent_id=parent.id,
                           owner=parent.owner, customer_id=parent.customer_id)
                 for i, s in enumerate(statuses))


ZONES = ("Asia/Shanghai", "UTC", "Europe/London", "America/New_York", "Australia/Sydney",
         "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham")
minutes_of_day = st.integers(0, 24 * 60 - 1).map(lambda m: time(m // 60, m % 60))


@st.composite
def configured_policies(draw: st.DrawFn) -> SlaPolicy:
    """A policy whose quiet window and time zone were configured by an admin."""
    start = draw(minutes_of_day)
    end = draw(minutes_of_day.filter(lambda t: t != start))
    return DEFAULT_POLICY.with_overrides({
        "quiet_start": start.strftime("%H:%M"), "quiet_end": end.strftime("%H:%M"),
        "timezone": draw(st.sampled_from(ZONES)),
    })


# Any instant over three years (DST changes included), in UTC or a local zone.
instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31),
    timezones=st.sampled_from([UTC, SHANGHAI, ZoneInfo("America/New_York"),
                               ZoneInfo("Europe/London")]),
)


def valid_payloads(verb: str, item: Item, context: Context) -> list[a.Action]:
    """Well-formed payloads of `verb` for this item: if the verb may be used at
    all here, at least one of them is accepted."""
    now, quiet = context.now, context.policy.quiet
    later = quiet.first_open_after(now + timedelta(hours=1))
    return {
        "claim": [a.Claim()],
        "reply": [a.Reply(body="已为您处理")],
        "note": [a.Note(body="中途意见")],
        "transition": [a.Transition(to=s) for s in sorted(TRANSITIONS[item.kind])],
        "assign": [a.Assign(to=AGENT_B.username, note="交接"),
                   a.Assign(to=AGENT.username, note="交接")],
        "route": [a.Route(department="售后部", due_at=now + timedelta(hours=48))],
        "escalate": [a.Escalate(to="值班经理", reason="重大投诉")],
        "promise": [a.Promise(at=now + timedelta(hours=2))],
        "schedule_callback": [a.ScheduleCallback(at=later),
                              a.ScheduleCallback(at=now + timedelta(hours=1),
                                                 customer_agreed=True)],
        "attempt_callback": [a.AttemptCallback()],
        "complete_callback": [a.CompleteCallback(outcome="satisfied", satisfaction=5,
                                                 notes="满意"),
                              a.CompleteCallback(outcome="unsatisfied", satisfaction=2,
                                                 notes="不满意")],
        "waive_callback": [a.WaiveCallback(reason="客户拒绝回访")],
        "tag": [a.TagItem(add=("repeat",)), a.TagItem(remove=("repeat",))],
    }[verb]


# ---------------------------------------------------------------------------
# The world model used by the sequence properties


@dataclass(frozen=True)
class Seed:
    """An item that exists before the run starts."""

    kind: Kind
    category_index: int
    channel: Channel
    customer: int
    owner: str | None


@dataclass(frozen=True)
class Step:
    target: int  # index into the items, taken modulo their number
    actor: Actor | None  # None: whoever owns the target (agent a1 if nobody does)
    advance_min: int  # the clock moves this far before the action
    action: a.Action


def seeds(kinds: tuple[Kind, ...] = tuple(Kind)) -> st.SearchStrategy[Seed]:
    return st.builds(Seed, kind=st.sampled_from(kinds), category_index=st.integers(0, 5),
                     channel=st.sampled_from(Channel), customer=st.integers(0, 2), owner=owners)


# Half the steps are taken by the target's owner, so that sequences get somewhere
# instead of being refused for want of ownership.
step_actors = st.one_of(st.none(), queue_actors)


def steps(actions: st.SearchStrategy[a.Action] = sequence_actions,
          actors: st.SearchStrategy[Actor | None] = step_actors) -> st.SearchStrategy[Step]:
    return st.builds(Step, target=st.integers(0, 20), actor=actors,
                     advance_min=st.integers(0, 6 * 60), action=actions)


def check_outcome(old: Item, out: Outcome) -> None:
    """What every accepted action (or parent effect) must respect."""
    new = out.item
    assert (new.id, new.kind) == (old.id, old.kind)
    table = TRANSITIONS[new.kind]
    assert new.status in table, f"{new.kind} reached unknown status {new.status!r}"
    # Each move the engine made is an edge of the table, and they chain from
    # the old status to the new one.
    moves = [(e.data["from"], e.data["to"]) for e in out.entries
             if e.type in ("transition", "callback_waived")]
    here = old.status
    for src, dst in moves:
        assert src == here, f"move {src}->{dst} does not start at {here}"
        assert (src, dst) in TRANSITION_EDGES[new.kind], f"{new.kind}: {src}->{dst} not in table"
        here = dst
    assert here == new.status, f"status {old.status}->{new.status} without a recorded move"
    # The version only grows, by one exactly when a state field changed.
    assert out.changed == (new.state_fields() != old.state_fields())
    assert new.version == old.version + (1 if out.changed else 0)
    # 首问负责制: the first owner, once set, never changes.
    if old.first_owner is not None:
        assert new.first_owner == old.first_owner
    if new.owner is not None:
        assert new.first_owner is not None
    # The timeline is append-only.
    assert new.timeline[: len(old.timeline)] == old.timeline
    assert new.timeline[len(old.timeline):] == out.entries


@dataclass
class World:
    customers: dict[int, Customer]
    policy: SlaPolicy = DEFAULT_POLICY
    items: dict[int, Item] = field(default_factory=dict)
    now: datetime = T0
    next_id: int = 1
    refusals: int = 0
    refusal_types: set[str] = field(default_factory=set)
    actors: dict[str, Actor] = field(default_factory=lambda: {x.username: x for x in ALL_ACTORS})
    closed_member_complaints: int = 0
    open_targets_only: bool = False  # steer the steps to items that can still move

    @classmethod
    def start(cls, customer_list: list[Customer], seed_list: list[Seed],
              policy: SlaPolicy = DEFAULT_POLICY, *, open_targets_only: bool = False) -> World:
        world = cls({i: c.model_copy(update={"id": i})
                     for i, c in enumerate(customer_list, start=1)},
                    policy, open_targets_only=open_targets_only)
        for s in seed_list:
            cats = CATEGORIES[s.kind]
            world.create(
                ItemDraft(kind=s.kind, category=cats[s.category_index % len(cats)],
                          subject="客户来电", channel=s.channel,
                          customer_id=s.customer % len(world.customers) + 1),
                AGENT, owner=s.owner)
        return world

    def context(self, actor: Actor, item: Item) -> Context:
        return Context(actor=actor, now=self.now, policy=self.policy,
                       customer=self.customers[item.customer_id],
                       children=children_of(item.id, list(self.items.values())))

    def create(self, item_draft: ItemDraft, actor: Actor, *, owner: str | None = None,
               due_at: datetime | None = None, agreed: bool = False) -> Item:
        context = Context(actor=actor, now=self.now, policy=self.policy,
                          customer=self.customers[item_draft.customer_id])
        item = new_item(item_draft, context, self.next_id, due_at=due_at, owner=owner,
                        customer_agreed_time=agreed)
        assert item.status in TRANSITIONS[item.kind]
        assert item.version == 1 and item.first_owner == owner
        self.items[item.id] = item
        self.next_id += 1
        return item

    def target(self, index: int) -> Item:
        ids = sorted(self.items)
        if self.open_targets_only:
            ids = [i for i in ids if not is_done(self.items[i].kind, self.items[i].status)] or ids
        return self.items[ids[index % len(ids)]]

    def apply(self, step: Step) -> Outcome | None:
        self.now += timedelta(minutes=step.advance_min)
        item = self.target(step.target)
        actor = step.actor or self.actors.get(item.owner or "", AGENT)
        before = item.model_dump()
        offered = allowed_verbs(item, actor)
        try:
            out = apply_action(item, step.action, self.context(actor, item))
        except DomainError as refusal:
            # A refusal changes nothing: the stored item is the same, field for field.
            self.refusals += 1
            self.refusal_types.add(type(refusal).__name__)
            assert self.items[item.id] is item
            assert item.model_dump() == before
            return None
        assert step.action.action in offered or (step.action.action == "claim"
                                                 and item.owner == actor.username)
        check_outcome(item, out)
        self.items[item.id] = out.item
        for spawn in out.spawns:
            assert spawn.draft.kind == Kind.CALLBACK and spawn.draft.parent_id == item.id
            self.create(spawn.draft, actor, owner=spawn.owner, due_at=spawn.due_at,
                        agreed=spawn.customer_agreed_time)
        if out.parent_effect is not None:
            parent = self.items[out.parent_effect.parent_id]
            effect = apply_parent_effect(parent, out.parent_effect,
                                         self.context(actor, parent))
            if effect is not None:
                check_outcome(parent, effect)
                self.items[parent.id] = effect.item
        self.check()
        return out

    def check(self) -> None:
        """Invariants over the whole world, after every step."""
        for item in self.items.values():
            assert item.status in TRANSITIONS[item.kind]
            customer = self.customers[item.customer_id]
            if item.kind == Kind.COMPLAINT and item.status in ANSWERED:
                # Answering a complaint, however it is done, creates its callback.
                assert children_of(item.id, list(self.items.values())), (
                    f"complaint {item.id} is {item.status} but no callback was created")
            if item.kind == Kind.COMPLAINT and customer.member and item.status == "closed":
                callbacks = children_of(item.id, list(self.items.values()))
                assert callbacks, f"member complaint {item.id} closed without a callback"
                assert all(is_done(cb.kind, cb.status) for cb in callbacks), (
                    f"member complaint {item.id} closed with an open callback")
                self.closed_member_complaints += 1



# ---------------------------------------------------------------------------
# Fixtures

COMPLAINT_ID = 1  # the complaint each fixture world starts with


def _complaint_world(member: bool) -> World:
    return World.start([make_customer(0, member=member)],
                       [Seed(Kind.COMPLAINT, 1, Channel.PHONE, 0, None)])


@pytest.fixture
def member_world() -> World:
    """A member customer (会员) with one new, unclaimed service complaint, at T0."""
    return _complaint_world(member=True)


@pytest.fixture
def walk_in_world() -> World:
    """The same complaint from a customer who is not a member."""
    return _complaint_world(member=False)

