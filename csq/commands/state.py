"""`csq sync`, `csq status` and `csq conflicts`."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from csq.commands.output import print_json, table
from csq.commands.session import CommandError, open_session
from csq.store import Op
from csq.sync import SyncError
from csq.sync.status import ago


def register(sub: argparse._SubParsersAction) -> None:
    sync = sub.add_parser("sync", help="bring the cache up to date and send the outbox")
    sync.set_defaults(run=run_sync)
    status = sub.add_parser("status", help="server, last sync, pending, conflicts, failed")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=run_status)
    conflicts = sub.add_parser("conflicts", help="actions the server did not take, and why")
    group = conflicts.add_mutually_exclusive_group()
    group.add_argument("--reapply", metavar="OP", help="send it again on the new version")
    group.add_argument("--discard", metavar="OP", help="drop it")
    conflicts.add_argument("--json", action="store_true")
    conflicts.set_defaults(run=run_conflicts)


def run_sync(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with open_session(sync=False) as session:
            if session.unwritable is not None:
                raise CommandError("cannot sync: this profile's files cannot be written "
                                   "(see the warning above)", 3)
            if not session.cache.writable:
                raise CommandError("another csq is syncing this profile right now; "
                                   "it keeps the cache fresh", 1)
            try:
                report = await session.engine.sync_once()
            except SyncError as exc:
                raise CommandError(f"sync failed: {exc}", 1) from None
            s = session.engine.status
            print(f"synced to seq {session.cache.cursor}: sent {len(report.sent)}, "
                  f"{s.pending} pending, {s.conflicts} conflicts, {s.failed} failed")
            return 0 if not (report.conflicts or report.failed) else 1

    return asyncio.run(go())


def run_status(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with open_session() as session:
            ops = session.engine.refresh_counts()
            snap = session.cache.snapshot()
            info = {
                "server": session.login.server, "user": session.login.username,
                "role": session.login.role.value, "online": session.online,
                "last_sync": snap.synced_at.isoformat() if snap.synced_at else None,
                "cursor": snap.cursor, "items": len(snap.items),
                "pending": sum(o.state == "pending" for o in ops),
                "conflicts": sum(o.state == "conflict" for o in ops),
                "failed": sum(o.state == "failed" for o in ops),
            }
            if args.json:
                print_json(info)
                return 0
            print(f"server    {info['server']} ({'online' if session.online else 'offline'})")
            print(f"user      {info['user']} ({info['role']})")
            print(f"synced    {ago(snap.synced_at, datetime.now(UTC))} · seq {snap.cursor} · "
                  f"{info['items']} items cached")
            print(f"outbox    {info['pending']} pending · {info['conflicts']} conflicts · "
                  f"{info['failed']} failed")
            return 0

    return asyncio.run(go())


def _find(ops: list[Op], ref: str) -> Op:
    matches = [o for o in ops if o.op_id.startswith(ref) and o.state != "pending"]
    if len(matches) != 1:
        raise CommandError(f"no single conflicted or failed action matches {ref!r}; "
                           "see `csq conflicts`", 2)
    return matches[0]


def run_conflicts(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with open_session(sync=False) as session:
            engine = session.engine
            ops = [o for o in engine.outbox.all() if o.state != "pending"]
            if args.reapply:
                op = _find(ops, args.reapply)
                fresh = engine.reapply(op.op_id)
                try:
                    await engine.flush()
                except SyncError as exc:
                    print(f"re-queued {op.op_id[:8]}; offline ({exc})")
                    return 0
                now = engine.outbox.get(fresh.op_id) if fresh else None
                if now is None:
                    print(f"re-applied {op.verb} on #{op.item_id}")
                    return 0
                if now.state == "conflict":
                    raise CommandError(f"conflict again: #{op.item_id} was changed once more; "
                                       "see `csq conflicts`", 1)
                if now.state == "failed":
                    raise CommandError(f"refused by the server: {now.error}; "
                                       "see `csq conflicts`", 1)
                print(f"re-queued {op.verb} on #{op.item_id}; it will be sent after the "
                      "actions before it")
                return 0
            if args.discard:
                op = _find(ops, args.discard)
                engine.discard(op.op_id)
                print(f"discarded {op.verb} on #{op.item_id}")
                return 0
            if args.json:
                print_json([o.model_dump(mode="json") for o in ops])
                return 0
            if not ops:
                print("no conflicts or failed actions")
                return 0
            rows = [[o.op_id[:8], o.state, str(o.item_id or "-"), o.verb,
                     (f"yours v{o.base_version} / server v{(o.server_item or {}).get('version')}"
                      if o.state == "conflict" else (o.error or ""))] for o in ops]
            print(table(["OP", "STATE", "ITEM", "ACTION", "WHY"], rows, [8, 8, 6, 18, 50]))
            print("\nre-apply on the new version: csq conflicts --reapply OP · "
                  "drop: csq conflicts --discard OP")
            return 0

    return asyncio.run(go())
