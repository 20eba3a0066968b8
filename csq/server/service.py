"""The write path: one transaction per request, idempotent, seq-stamped.

Every POST goes through `Service.write`: it takes the global seq (and with it
the write lock), checks the Idempotency-Key under that lock, runs the domain
rules, writes records and audit events, stores the response for replay, and
commits. A refusal rolls everything back and is itself stored for replay, so a
retry always sees the first answer and nothing is applied twice.

The transaction itself is synchronous code over a sync `Session`, run where
`transactions.Database` says (a writer thread on SQLite, `run_sync` on
PostgreSQL): see transactions.py for why. Nothing in a unit of work awaits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from csq.api import ActionResult
from csq.domain import actions as acts
from csq.domain.engine import (
    Context,
    apply_action,
    apply_parent_effect,
    check_permission,
    new_item,
)
from csq.domain.errors import DomainError
from csq.domain.records import ContactDetails, Customer, CustomerDraft, Item, ItemDraft
from csq.domain.roles import Role, is_lead
from csq.domain.sla import SlaPolicy
from csq.server import models, repo
from csq.server.auth import Principal
from csq.server.hub import Hub
from csq.server.problems import ApiProblem, from_domain
from csq.server.transactions import Database

REPLAY_FOR = timedelta(hours=24)
Work = Callable[[Session, int], tuple[int, dict[str, Any]]]


class _Replayed(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body


class _KeyReused(ApiProblem):
    """Not a refusal of the request to remember: the key already has an answer."""


@dataclass(frozen=True)
class Request:
    """What the service needs to know of an HTTP request, and nothing else."""

    who: Principal
    key: str
    fingerprint: str
    client: str = ""


def fingerprint(method: str, path: str, body: bytes, if_match: str | None) -> str:
    """Same key with a different request is an error; this is what 'same' means."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, ensure_ascii=False)
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    raw = f"{method}\n{path}\n{if_match or ''}\n{canonical}"
    return hashlib.sha256(raw.encode()).hexdigest()


class Service:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], db: Database,
                 policy: SlaPolicy, hub: Hub,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.sessions = sessions  # for the async readers (lists, metrics, reports)
        self.db = db
        self.policy = policy
        self.hub = hub
        self.clock = clock or (lambda: datetime.now(UTC))

    def context(self, who: Principal, customer: Customer | None = None,
                children: tuple[Item, ...] = ()) -> Context:
        return Context(actor=who.actor, now=self.clock(), policy=self.policy,
                       customer=customer, children=children)

    # -- the idempotent transaction -------------------------------------------------

    async def write(self, req: Request, work: Work) -> tuple[int, dict[str, Any]]:
        """Run `work` in the idempotent transaction; (status, body) of the first answer.

        No lookup before the transaction: a retry is rare, and the lookup inside
        it (under the write lock) decides anyway.
        """
        try:
            seq, status, body = await self.db.write(partial(self._transaction, req, work))
        except _Replayed as done:
            return done.status, done.body
        except _KeyReused:
            raise
        except (ApiProblem, DomainError) as exc:
            problem = exc if isinstance(exc, ApiProblem) else from_domain(exc)
            if problem.status >= 500 or problem.status in (401, 429):
                raise
            return await self._remember_refusal(req, problem)
        except IntegrityError:
            # The same key won a race on another replica: answer as it did.
            replay = await self._replay(req)
            if replay is None:
                raise
            return replay
        self.hub.advance(seq)
        return status, body

    def _transaction(self, req: Request, work: Work,
                     session: Session) -> tuple[int, int, dict[str, Any]]:
        seq = repo.take_seq(session)
        replay = self._find(session, req)
        if replay is not None:
            raise _Replayed(*replay)  # rolls back the seq we took
        status, body = work(session, seq)
        self._remember(session, req, status, body)
        repo.notify(session, seq)
        return seq, status, body

    async def _replay(self, req: Request) -> tuple[int, dict[str, Any]] | None:
        return await self.db.read_small(partial(self._find, req=req))

    def _find(self, session: Session, req: Request) -> tuple[int, dict[str, Any]] | None:
        found = repo.find_answer(session, req.who.user_id, req.key)
        if found is None:
            return None
        request_hash, status, body = found
        if request_hash != req.fingerprint:
            raise _KeyReused(422, "idempotency-key-reused",
                             "this Idempotency-Key was used for a different request",
                             field="Idempotency-Key")
        return status, body

    def _remember(self, session: Session, req: Request, status: int,
                  body: dict[str, Any]) -> None:
        repo.remember_answer(session, user_id=req.who.user_id, key=req.key,
                             request_hash=req.fingerprint, status=status, body=body,
                             at=self.clock())

    async def _remember_refusal(self, req: Request,
                                problem: ApiProblem) -> tuple[int, dict[str, Any]]:
        body = problem.body()
        try:
            await self.db.write(lambda session: self._remember(
                session, req, problem.status, body))
        except IntegrityError:
            replay = await self._replay(req)
            if replay is not None:
                return replay
        return problem.status, body

    async def purge_idempotency(self) -> None:
        cutoff = self.clock() - REPLAY_FOR
        await self.db.write(lambda session: session.execute(delete(models.Idempotency).where(
            models.Idempotency.created_at < cutoff)))

    # -- the work itself ---------------------------------------------------------------

    async def act(self, req: Request, item_id: int, action: acts.Action,
                  if_match: int | None) -> tuple[int, dict[str, Any]]:
        def work(session: Session, seq: int) -> tuple[int, dict[str, Any]]:
            result = self.apply(session, seq, req, item_id, action, if_match)
            return 200, result.model_dump(mode="json")

        return await self.write(req, work)

    def apply(self, session: Session, seq: int, req: Request, item_id: int,
                    action: acts.Action, if_match: int | None) -> ActionResult:
        """Apply one action inside an open write transaction (the seed uses it too)."""
        item = repo.load_item(session, item_id)
        if item is None:
            raise ApiProblem(404, "not-found", f"no item {item_id}")
        check_permission(item, action.action, req.who.actor)
        if acts.needs_if_match(action.action):
            if if_match is None:
                raise ApiProblem(428, "if-match-required",
                                 f"send If-Match: \"{item.version}\" with a {action.action}",
                                 field="If-Match")
            if if_match != item.version:
                raise ApiProblem(412, "stale", f"item {item_id} is at version {item.version}, "
                                 f"not {if_match}", field="If-Match",
                                 current=item.model_dump(mode="json"))
        if isinstance(action, acts.Assign):
            self._require_assignee(session, action.to)
        customer = repo.load_customer(session, item.customer_id)
        kids = repo.children(session, item.id)
        ctx = self.context(req.who, customer, kids)
        outcome = apply_action(item, action, ctx)
        saved = repo.save_item(session, outcome.item, seq)
        repo.append_events(session, seq, req.who, item_id=item.id, entries=outcome.entries,
                                 client=req.client, key=req.key,
                                 diff=repo.diff_of(item, outcome.item) if outcome.changed else None)
        created: list[Item] = []
        for spawn in outcome.spawns:
            new_id = repo.next_id(session, "item")
            child = new_item(spawn.draft, ctx, new_id, due_at=spawn.due_at, owner=spawn.owner,
                             customer_agreed_time=spawn.customer_agreed_time)
            created.append(repo.save_item(session, child, seq, new=True))
            repo.append_events(session, seq, req.who, item_id=new_id,
                                     entries=child.timeline, client=req.client, key=req.key)
        if outcome.parent_effect is not None:
            parent = repo.load_item(session, outcome.parent_effect.parent_id)
            if parent is not None:
                siblings = tuple(saved if c.id == saved.id else c
                                 for c in repo.children(session, parent.id))
                parent_customer = repo.load_customer(session, parent.customer_id)
                moved = apply_parent_effect(parent, outcome.parent_effect,
                                            self.context(req.who, parent_customer, siblings))
                if moved is not None:
                    repo.save_item(session, moved.item, seq)
                    repo.append_events(session, seq, req.who, item_id=parent.id,
                                             entries=moved.entries, client=req.client,
                                             key=req.key, diff=repo.diff_of(parent, moved.item))
        return ActionResult(item=saved, created=created, seq=seq)

    def _require_assignee(self, session: Session, username: str,
                                field: str = "to") -> None:
        role = (session.execute(select(models.User.role).where(
            models.User.username == username))).scalar_one_or_none()
        if role not in (Role.AGENT.value, Role.LEAD.value):
            raise ApiProblem(422, "unknown-assignee" if field == "to" else "unknown-agent",
                             f"{username!r} is not an agent or lead", field=field)

    async def create_item(self, req: Request, draft: ItemDraft) -> tuple[int, dict[str, Any]]:
        def work(session: Session, seq: int) -> tuple[int, dict[str, Any]]:
            item = self.insert_item(session, seq, req, draft)
            return 201, item.model_dump(mode="json")

        return await self.write(req, work)

    def insert_item(self, session: Session, seq: int, req: Request,
                          draft: ItemDraft, *, owner: str | None = None) -> Item:
        if not req.who.actor.role or "create_item" not in _verbs(req.who.role):
            raise ApiProblem(403, "forbidden", f"a {req.who.role} may not create items")
        customer = repo.load_customer(session, draft.customer_id)
        if customer is None:
            raise ApiProblem(422, "unknown-customer", f"no customer {draft.customer_id}",
                             field="customer_id")
        if draft.parent_id is not None and repo.load_item(session, draft.parent_id) is None:
            raise ApiProblem(422, "unknown-parent", f"no item {draft.parent_id}",
                             field="parent_id")
        if draft.about_agent is not None:  # 服务质量投诉: about a real colleague
            self._require_assignee(session, draft.about_agent, "about_agent")
        item_id = repo.next_id(session, "item")
        item = new_item(draft, self.context(req.who, customer), item_id, owner=owner)
        saved = repo.save_item(session, item, seq, new=True)
        repo.append_events(session, seq, req.who, item_id=item_id, entries=item.timeline,
                                 client=req.client, key=req.key,
                                 diff=repo.diff_of(None, item))
        return saved

    async def create_customer(self, req: Request,
                              draft: CustomerDraft) -> tuple[int, dict[str, Any]]:
        def work(session: Session, seq: int) -> tuple[int, dict[str, Any]]:
            customer = self.insert_customer(session, seq, req, draft)
            return 201, repo.masked(customer).model_dump(mode="json")

        return await self.write(req, work)

    def insert_customer(self, session: Session, seq: int, req: Request,
                              draft: CustomerDraft) -> Customer:
        if "create_customer" not in _verbs(req.who.role):
            raise ApiProblem(403, "forbidden", f"a {req.who.role} may not create customers")
        now = self.clock()
        cid = repo.next_id(session, "customer")
        customer = Customer(id=cid, created_at=now, updated_at=now, **draft.model_dump())
        saved = repo.save_customer(session, customer, seq, new=True)
        repo.append_events(session, seq, req.who, item_id=None, customer_id=cid,
                                 client=req.client, key=req.key, extra_type="customer_created",
                                 diff={"name": draft.name})
        return saved

    async def reveal(self, req: Request, customer_id: int,
                     item_id: int) -> tuple[int, dict[str, Any]]:
        """Full contact details for the item's owner or a lead, written to the audit trail."""
        def work(session: Session, seq: int) -> tuple[int, dict[str, Any]]:
            item = repo.load_item(session, item_id)
            if item is None or item.customer_id != customer_id:
                raise ApiProblem(404, "not-found",
                                 f"no item {item_id} for customer {customer_id}", field="item_id")
            if item.owner != req.who.username and not is_lead(req.who.role):
                raise ApiProblem(403, "not-owner",
                                 "only the item's owner or a lead may see contact details")
            customer = repo.load_customer(session, customer_id)
            if customer is None:
                raise ApiProblem(404, "not-found", f"no customer {customer_id}")
            repo.append_events(session, seq, req.who, item_id=item_id,
                                     customer_id=customer_id, client=req.client, key=req.key,
                                     extra_type="reveal", diff={"fields": ["phone", "email"]})
            details = ContactDetails(customer_id=customer_id, phone=customer.phone,
                                     email=customer.email)
            return 200, details.model_dump(mode="json")

        return await self.write(req, work)


def _verbs(role: Role) -> frozenset[str]:
    from csq.domain.roles import PERMISSIONS

    return PERMISSIONS[role]
