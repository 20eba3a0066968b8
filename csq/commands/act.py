"""`csq do ID ACTION [ARGS…]`: every action the API has, from the shell.

ARGS are `field=value` pairs; the first bare word fills the action's main
field, so `csq do 1042 note "客户来电催促"` and `csq do 1042 transition resolved`
read naturally. Times take ISO 8601 (`2026-11-25T17:00`, the centre's zone if
none is given) or `+90m`, `+2h`, `+1d`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from csq.commands.output import note
from csq.commands.session import CommandError, open_session
from csq.domain.actions import ACTION_NAMES, parse_action
from csq.domain.errors import DomainError
from csq.domain.records import Item
from csq.domain.when import TimeInputError, parse_when
from csq.sync import SyncError, Unauthorized

MAIN_FIELD = {
    "reply": "body", "note": "body", "transition": "to", "assign": "to", "route": "department",
    "escalate": "reason", "promise": "at", "schedule_callback": "at",
    "attempt_callback": "note", "complete_callback": "notes", "waive_callback": "reason",
    "tag": "add",
}
TIME_FIELDS = {"at", "due_at"}
LIST_FIELDS = {"add", "remove"}
INT_FIELDS = {"satisfaction"}
BOOL_FIELDS = {"customer_agreed"}


def register(sub: argparse._SubParsersAction) -> None:
    do = sub.add_parser(
        "do", help="take an action on an item (queued when offline)",
        description="Actions: " + ", ".join(ACTION_NAMES) + ". "
        "Examples: csq do 1042 claim · csq do 1042 note '客户来电' · "
        "csq do 1042 route department=物流部 due_at=+48h · "
        "csq do 1043 complete_callback outcome=satisfied satisfaction=5 notes=满意")
    do.add_argument("id", type=int)
    do.add_argument("action", choices=ACTION_NAMES, metavar="ACTION")
    do.add_argument("args", nargs="*", metavar="FIELD=VALUE")
    do.add_argument("--json", action="store_true", help="print the item afterwards as JSON")
    do.set_defaults(run=run_do)


def parse_time(text: str, zone: str) -> str:
    try:
        return parse_when(text, datetime.now(UTC), zone).isoformat()
    except TimeInputError as exc:
        raise CommandError(str(exc), 2) from None


def build_payload(action: str, args: list[str], zone: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"action": action}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key.isidentifier():
            if action not in MAIN_FIELD or MAIN_FIELD[action] in payload:
                raise CommandError(f"unexpected argument {arg!r}: use FIELD=VALUE", 2)
            key, value = MAIN_FIELD[action], arg
        if key in TIME_FIELDS:
            payload[key] = parse_time(value, zone)
        elif key in LIST_FIELDS:
            payload[key] = [v for v in value.split(",") if v]
        elif key in INT_FIELDS:
            if not value.strip().isdigit():
                raise CommandError(f"{key} must be a whole number, not {value!r}", 2)
            payload[key] = int(value)
        elif key in BOOL_FIELDS:
            payload[key] = value.lower() in ("1", "true", "yes", "y")
        else:
            payload[key] = value
    return payload


def first_error(exc: ValidationError, action: str) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"][1:]) or action
    return f"{field}: {first['msg']}"


def run_do(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with open_session(sync=False) as session:
            payload = build_payload(args.action, args.args, session.login.timezone)
            try:  # a bad argument is a usage error, whatever the item, before any lookup
                parse_action(payload)
            except ValidationError as exc:
                raise CommandError(first_error(exc, args.action), 2) from None
            if session.cache.item(args.id) is None:
                with contextlib.suppress(SyncError):
                    await session.engine.pull()
                if session.cache.item(args.id) is None:
                    raise CommandError(f"no item {args.id} (not on the server, or not yet in "
                                       "the cache: run `csq sync` when online)", 1)
            try:
                op = session.engine.submit(args.id, payload)
            except ValidationError as exc:
                raise CommandError(first_error(exc, args.action), 2) from None
            except DomainError as exc:
                raise CommandError(f"refused: {exc.detail}", 1) from None
            try:
                if session.cache.writable:
                    await session.engine.pull()
                report = await session.engine.flush()
            except SyncError as exc:
                print(f"queued: {args.action} on #{args.id} will be sent when the server "
                      f"is reachable ({session.engine.status.pending} pending)")
                if isinstance(exc, Unauthorized):  # not offline: the login needs renewing
                    raise CommandError(str(exc), 1) from None
                note(f"offline ({exc})")
                return 0
            if report.busy:
                print(f"queued: {args.action} on #{args.id}; the running csq will send it")
                return 0
            if any(o.op_id == op.op_id for o in report.conflicts):
                raise CommandError(f"conflict: #{args.id} was changed by someone else; "
                                   "see `csq conflicts`", 1)
            left = session.engine.outbox.get(op.op_id)
            if left is not None and left.state == "failed":
                raise CommandError(f"refused by the server: {left.error}", 1)
            if left is not None:  # kept back: an earlier action on the item is a conflict
                print(f"queued: {args.action} on #{args.id}; it waits behind a conflict "
                      "on this item")
                raise CommandError("re-apply or discard that conflict: see `csq conflicts`", 1)
            sent = report.results.get(op.op_id)  # the server's word, not a stale cache
            item = Item.model_validate(sent) if sent else session.engine.local_item(args.id)
            if args.json and item is not None:
                from csq.commands.output import print_json

                print_json(item.model_dump(mode="json"))
            elif item is not None:
                print(f"done: {args.action} on #{args.id} "
                      f"(now {item.status}, owner {item.owner or '-'}, version {item.version})")
            return 0

    return asyncio.run(go())
