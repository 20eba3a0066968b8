"""`csq ls` and `csq show`: the queue and one item, from the local view."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from csq.commands.output import fit, note, print_json, table
from csq.commands.session import CommandError, Session, open_session
from csq.domain.kinds import Kind
from csq.domain.masking import mask_email, mask_phone
from csq.domain.priority import Tier, queue_key
from csq.domain.records import Customer, Item
from csq.domain.sla import SlaState, format_left, seconds_left, sla_state
from csq.domain.text import neutralise


def register(sub: argparse._SubParsersAction) -> None:
    ls = sub.add_parser("ls", help="list the queue (from the cache when offline)")
    ls.add_argument("--kind", choices=[k.value for k in Kind])
    ls.add_argument("--mine", action="store_true", help="only items you own")
    ls.add_argument("--breaching", action="store_true", help="only breached or at-risk items")
    ls.add_argument("--all", action="store_true", help="include closed and finished items")
    ls.add_argument("--limit", type=int, default=0, help="at most N rows")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_ls)
    show = sub.add_parser("show", help="one item with its customer and timeline")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=run_show)


def local_items(session: Session) -> tuple[list[Item], dict[int, Customer], set[int]]:
    snap = session.cache.snapshot()
    overrides = session.engine.view_overrides()
    items = {i: Item.model_validate(d) for i, d in snap.items.items() if i not in overrides}
    items.update(overrides)
    customers = {i: Customer.model_validate(d) for i, d in snap.customers.items()}
    return list(items.values()), customers, set(overrides)


def run_ls(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise CommandError("--limit must be ≥ 0", 2)

    async def go() -> int:
        async with open_session() as session:
            items, customers, pending = local_items(session)
            now = datetime.now(UTC)
            policy = session.engine.policy
            me = session.login.username
            chosen = [i for i in items if
                      (args.all or i.status not in ("closed", "completed", "waived"))
                      and (not args.kind or i.kind == args.kind)
                      and (not args.mine or i.owner == me)
                      and (not args.breaching or sla_state(i, now, policy)
                           in (SlaState.BREACHED, SlaState.AT_RISK))]

            def tier(i: Item) -> Tier | None:
                c = customers.get(i.customer_id)
                return c.tier if c else None

            chosen.sort(key=lambda i: queue_key(i, tier(i), now))
            if args.limit:
                chosen = chosen[: args.limit]
            if args.json:
                print_json([i.model_dump(mode="json") | {"pending": i.id in pending}
                            for i in chosen])
                return 0
            rows = []
            for i in chosen:
                c = customers.get(i.customer_id)
                who = f"{c.name} {c.tier}" if c else str(i.customer_id)
                rows.append([("*" if i.id in pending else "") + str(i.id), i.kind, i.priority,
                             i.status, i.owner or "-", format_left(seconds_left(i, now)),
                             who, i.subject])
            print(table(["ID", "KIND", "PRI", "STATUS", "OWNER", "SLA", "CUSTOMER", "SUBJECT"],
                        rows, [7, 9, 3, 16, 10, 7, 14, 40]))
            if pending:
                note("* = has actions not yet on the server")
            return 0

    return asyncio.run(go())


def run_show(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with open_session() as session:
            item = session.engine.local_item(args.id)
            if item is None:
                raise CommandError(f"no item {args.id} in the cache", 1)
            raw = session.cache.customer(item.customer_id)
            customer = Customer.model_validate(raw) if raw else None
            if args.json:
                out: dict[str, Any] = {"item": item.model_dump(mode="json")}
                if customer:
                    out["customer"] = customer.model_dump(mode="json")
                print_json(out)
                return 0
            print(render_item(item, customer, ZoneInfo(session.login.timezone)))
            return 0

    return asyncio.run(go())


def render_item(item: Item, customer: Customer | None, zone: ZoneInfo) -> str:
    now = datetime.now(UTC)
    lines = [f"#{item.id}  {item.kind} · {item.category} · {item.priority} · {item.status}",
             f"subject   {neutralise(item.subject)}",
             f"owner     {item.owner or '-'}   first owner (首问) {item.first_owner or '-'}",
             f"due       {item.due_at.astimezone(zone):%Y-%m-%d %H:%M} "
             f"({format_left(seconds_left(item, now))})" if item.due_at else "due       -"]
    if item.department:
        lines.append(f"dept      {neutralise(item.department)}")
    if item.promised_at:
        lines.append(f"promised  {item.promised_at.astimezone(zone):%Y-%m-%d %H:%M}")
    if customer:
        badges = " ".join(customer.badges())
        lines.append(f"customer  {neutralise(customer.name)} (tier {customer.tier}) {badges}  "
                     f"{mask_phone(customer.phone) or ''} {mask_email(customer.email) or ''}")
    if item.body:
        lines += ["", neutralise(item.body, multiline=True)]
    lines.append("")
    for entry in item.timeline:
        mark = " (pending)" if entry.seq == 0 else ""
        what = entry.type if entry.type != "transition" else \
            f"{entry.data.get('from')} → {entry.data.get('to')}"
        body = f": {fit(entry.body, 60).rstrip()}" if entry.body else ""
        who = neutralise(entry.actor_name or entry.actor)
        lines.append(f"{entry.at.astimezone(zone):%m-%d %H:%M} {who} {what}{body}{mark}")
    return "\n".join(lines)
