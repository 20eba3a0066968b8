"""The `csq` command line: parses arguments and hands each command to the
module that does it. Imports are lazy so `csq --help` and the TUI start fast.

Exit codes: 0 done; 1 failed (server unreachable, refused, conflict); 2 bad
usage or bad input (arguments, config); 3 data problem needing a person
(corrupt outbox, unwritable data directory); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DATA, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EPILOG = """exit codes: 0 ok · 1 failed (unreachable, refused, conflict) · 2 bad usage
or input · 3 local data needs attention (corrupt outbox, unwritable data directory)
· 130 interrupted"""


class UsageError(Exception):
    """A bad argument or setting: printed as `csq: …` with exit code 2."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number ≥ 0")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0–65535)")
    return int(text)


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to bind (default 127.0.0.1; env CSQ_HOST)")
    p.add_argument("--port", type=_port, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--db", help="sqlite+aiosqlite:///PATH (default) or "
                   "postgresql+asyncpg://USER@HOST/DB (env CSQ_DB)")
    p.add_argument("--timezone", help="the centre's time zone (default Asia/Shanghai)")
    p.add_argument("--config", type=Path, help="a TOML file of server settings")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csq", description="csq: a customer-service queue for the terminal.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from csq import __version__

    parser.add_argument("--version", action="version", version=f"csq {__version__}")
    parser.add_argument("--lang", choices=["en", "zh"],
                        help="interface language (default: config file, then LANG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the service API", epilog=EPILOG)
    _server_args(serve)
    serve.add_argument("--demo", action="store_true",
                       help="fill a fresh database with realistic demo data")
    serve.add_argument("--seed", type=int, default=7, help="random seed for --demo")
    serve.add_argument("--simulate", type=_positive_float, default=0.0, metavar="RATE",
                       help="simulated actions per second by other agents (0: none)")
    serve.set_defaults(run=_cmd_serve)

    admin = sub.add_parser("admin", help="users and tokens (on the server's database)")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    create = admin_sub.add_parser("create-user", help="create a user and print a token")
    create.add_argument("username")
    create.add_argument("--role", required=True,
                        choices=["agent", "lead", "supervisor", "admin"])
    create.add_argument("--name", default="", help="display name (default: the user name)")
    create.add_argument("--password", help="also allow logging in with this password")
    token = admin_sub.add_parser("token", help="print a new token for a user")
    token.add_argument("username")
    revoke = admin_sub.add_parser("revoke-token", help="revoke a token")
    revoke.add_argument("token")
    admin_sub.add_parser("users", help="list users")
    for p in (create, token, revoke, admin_sub.choices["users"]):
        p.add_argument("--db", help="the server's database URL")
        p.add_argument("--config", type=Path, help="a TOML file of server settings")
    admin.set_defaults(run=_cmd_admin)

    demo = sub.add_parser("demo", help="run everything on this machine with live traffic")
    demo.add_argument("--as", dest="role", default="agent",
                      choices=["agent", "lead", "supervisor"])
    demo.add_argument("--simulate", type=_positive_float, default=1.0, metavar="RATE")
    demo.add_argument("--port", type=_port, default=0)
    demo.add_argument("--no-app", action="store_true",
                      help="only the server and the traffic (the default without a terminal)")
    demo.set_defaults(run=_cmd_demo)

    from csq.commands import account, act, queue, report, state, tui

    for module in (account, queue, act, state, tui, report):
        module.register(sub)
    # `csq demo --lang zh` as well as `csq --lang zh demo`: people put options last.
    for command in sub.choices.values():
        command.add_argument("--lang", choices=["en", "zh"], default=argparse.SUPPRESS,
                             help="interface language (default: config file, then LANG)")
    return parser


def _settings(args: argparse.Namespace, **extra: object) -> object:
    from pydantic import ValidationError

    from csq.server.config import load_settings

    flags = {k: getattr(args, k, None) for k in ("host", "port", "db", "timezone")}
    config = getattr(args, "config", None)
    if config is not None and not config.is_file():
        raise UsageError(f"config file {config} does not exist")
    try:
        return load_settings(config, **flags, **extra)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "settings"
        msg = first["msg"].removeprefix("Value error, ")
        raise UsageError(f"bad setting {key!r} ({_source(key, flags, config)}): {msg}") from None
    except (ValueError, OSError) as exc:  # unreadable or malformed TOML
        raise UsageError(f"cannot read config file {config}: {exc}") from None


def _source(key: str, flags: dict[str, object], config: Path | None) -> str:
    """Where a bad value came from, in the precedence order: flag, env, file."""
    import os

    top = key.split(".", 1)[0]
    if flags.get(top) is not None:
        return f"--{top}"
    if f"CSQ_{top.upper()}" in os.environ:
        return f"env CSQ_{top.upper()}"
    return f"config file {config}" if config is not None else "default"


def _cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)  # first: a bad setting is refused before the slow imports
    from csq.server.run import run

    hook = None
    if args.demo or args.simulate:
        from csq.server.demo import demo_hook

        hook = demo_hook(seed=args.seed if args.demo else None, rate=args.simulate)
    return run(settings, hook)  # type: ignore[arg-type]


def _cmd_admin(args: argparse.Namespace) -> int:
    from csq.domain.roles import Role
    from csq.server import admin
    from csq.server.db import make_engine

    settings = _settings(args)

    async def go() -> None:
        engine = make_engine(settings.db)  # type: ignore[attr-defined]
        try:
            if args.admin_command == "create-user":
                print(await admin.create_user(engine, args.username, Role(args.role),
                                              name=args.name, password=args.password))
            elif args.admin_command == "token":
                print(await admin.new_token(engine, args.username))
            elif args.admin_command == "revoke-token":
                await admin.revoke_token(engine, args.token)
                print("revoked")
            else:
                for username, name, role in await admin.list_users(engine):
                    print(f"{username}\t{role}\t{name}")
        finally:
            await engine.dispose()

    from sqlalchemy.exc import SQLAlchemyError

    from csq.server.db import safe_url, why_unusable

    try:
        asyncio.run(go())
    except admin.AdminError as exc:
        print(f"csq admin: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, SQLAlchemyError) as exc:  # unreachable, missing, no rights
        url = safe_url(str(getattr(settings, "db", "")))
        print(f"csq admin: cannot open the database {url}: {why_unusable(exc)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from csq.demo import run_demo

    with_app = not args.no_app and sys.stdin.isatty() and sys.stdout.isatty()
    return run_demo(role=args.role, rate=args.simulate, port=args.port, app=with_app,
                    lang=args.lang)


def main(argv: Sequence[str] | None = None) -> int:
    # Starting up allocates hundreds of thousands of objects and frees none of them:
    # the cyclic GC would only walk them (~40 ms of a start). The app turns it back
    # on once its cache is loaded (CsqApp._load_all); every other command, here.
    gc.disable()
    starting_app = False
    try:
        from csq.commands.session import CommandError
        from csq.commands.tui import run_app

        parser = build_parser()
        args = parser.parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = getattr(args, "run", None) or run_app
        starting_app = handler is run_app
    finally:
        if not starting_app:
            gc.enable()
    try:
        return handler(args)
    except UsageError as exc:
        print(f"csq: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"csq: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        gc.enable()  # (the app did already, unless it stopped before loading)
