"""`csq report weekly|monthly|complaints|callbacks`: a service report from the server.

Reports are the server's (they read every item, not this machine's cache),
so this command needs the server; it is for leads, supervisors and admins.
`--out FILE` is written atomically: a crash leaves the old file or the new
one, never half of one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from csq.api.reports import REPORT_NAMES
from csq.commands.output import note
from csq.commands.session import CommandError, require_login
from csq.config import Login
from csq.domain.period import HELP, PeriodError, parse_period
from csq.store import StoreError
from csq.sync import make_http

FORMATS = ("md", "csv")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="a service report (leads, supervisors, admins)",
                       description="The weekly service report, the monthly 服务监督报告, "
                                   "complaint analysis or the callback summary.")
    p.add_argument("name", choices=REPORT_NAMES)
    p.add_argument("--period", help=f"{HELP} (default: last week for weekly, else last month)")
    p.add_argument("--format", choices=FORMATS,
                   help="md (default) or csv (UTF-8 with BOM, opens in Excel); "
                        "with --out, taken from the file's suffix when not given")
    p.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    login = require_login()
    fmt = args.format or ("csv" if args.out and args.out.suffix.lower() == ".csv" else "md")
    if args.period is not None:
        try:
            parse_period(args.period, ZoneInfo(login.timezone))
        except PeriodError as exc:
            raise CommandError(f"bad --period: {exc}", 2) from None
    if args.out is not None and (args.out.is_dir() or not args.out.parent.is_dir()):
        raise CommandError(f"--out {args.out}: not a file in an existing directory", 2)
    data = asyncio.run(_fetch(login, args.name, args.period, fmt))
    if args.out is None:
        buffer = getattr(sys.stdout, "buffer", None)
        if fmt == "csv" and buffer is not None:
            sys.stdout.flush()
            buffer.write(data)  # the bytes as served: the BOM included
            buffer.flush()
        else:
            sys.stdout.write(data.decode("utf-8"))
        return 0
    from csq.store.files import write_atomic

    try:
        write_atomic(args.out, data)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    note(f"wrote {args.out} ({len(data)} bytes)")
    return 0


async def _fetch(login: Login, name: str, period: str | None, fmt: str) -> bytes:
    params = {"format": fmt, **({"period": period} if period else {})}
    async with make_http(login.server, login.token, timeout=60) as http:
        try:
            r = await http.get(f"/v1/reports/{name}", params=params)
        except httpx.TransportError as exc:
            raise CommandError(f"cannot reach {login.server} ({exc.__class__.__name__}); "
                               "reports need the server") from None
    if r.status_code < 400:
        return r.content
    try:
        detail = str(r.json().get("detail") or r.reason_phrase)
    except ValueError:
        detail = r.reason_phrase
    if r.status_code == 401:
        raise CommandError(f"the server refused the token ({detail}): run `csq login` again")
    if r.status_code == 403:
        raise CommandError(f"not allowed: {detail}")
    raise CommandError(detail, 2 if r.status_code == 422 else 1)
