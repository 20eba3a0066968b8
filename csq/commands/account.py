"""`csq login` and `csq logout`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from csq.commands.output import note
from csq.commands.session import CommandError, exit_code
from csq.config import ConfigError, Login, forget_login, load_login, login_path, save_login
from csq.store import Outbox, Profile, StoreError
from csq.sync import ApiClient, SyncError, make_http


def register(sub: argparse._SubParsersAction) -> None:
    login = sub.add_parser("login", help="log in to a csq server and remember the token")
    login.add_argument("--server", required=True, help="e.g. http://127.0.0.1:8765")
    login.add_argument("--token", help="a token from `csq admin` (or env CSQ_TOKEN)")
    login.add_argument("--user", help="log in with a user name and password instead")
    login.set_defaults(run=run_login)
    logout = sub.add_parser("logout", help="forget the token")
    logout.add_argument("--purge", action="store_true",
                        help="also delete this profile's cache and outbox")
    logout.add_argument("--force", action="store_true",
                        help="with --purge: delete even unsent actions")
    logout.set_defaults(run=run_logout)


def run_login(args: argparse.Namespace) -> int:
    server = args.server.rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise CommandError(f"--server must start with http:// or https:// (got {server!r})", 2)
    token = args.token or os.environ.get("CSQ_TOKEN")

    async def go() -> Login:
        async with make_http(server, None, timeout=10) as http:
            api = ApiClient(http)
            nonlocal token
            if token is None:
                if not sys.stdin.isatty():
                    raise CommandError("no token: pass --token, set CSQ_TOKEN, or run "
                                       "interactively to be asked", 2)
                if args.user:
                    password = getpass.getpass(f"password for {args.user}: ")
                    token = (await api.login(args.user, password)).token
                else:
                    token = getpass.getpass("token: ").strip()
            http.headers["Authorization"] = f"Bearer {token}"
            me = await api.me()
        return Login(server=server, username=me.username, name=me.name, role=me.role,
                     token=token, timezone=me.timezone)

    try:
        login = asyncio.run(go())
    except SyncError as exc:
        raise CommandError(f"login failed: {exc}") from None
    try:
        save_login(login)
    except StoreError as exc:
        raise CommandError(f"login worked, but {exc}", exit_code(exc)) from None
    print(f"logged in to {server} as {login.username} ({login.role}); "
          f"token saved in {login_path()}")
    return 0


def run_logout(args: argparse.Namespace) -> int:
    try:
        login = load_login()
    except ConfigError as exc:
        raise CommandError(str(exc), 2) from None
    if login is None:
        note("not logged in")
        return 0
    profile = Profile.for_user(login.server, login.username)
    if args.purge:
        if not args.force:
            try:
                pending = Outbox(profile.outbox_path).all()
            except StoreError as exc:
                raise CommandError(f"{exc} To delete it anyway: csq logout --purge --force",
                                   exit_code(exc)) from None
            if pending:
                raise CommandError(f"{len(pending)} action(s) in the outbox have not reached "
                                   "the server; run `csq sync` first, or add --force to "
                                   "delete them")
        profile.purge()
    forget_login()
    print("logged out" + (f"; deleted {profile.root}" if args.purge else ""))
    return 0
