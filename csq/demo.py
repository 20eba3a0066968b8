"""`csq demo`: the whole system on this machine, on throwaway data.

`demo_server` is the reusable part: it runs the real server in this process
(as an asyncio task, through `csq.server.run.serve`) on a temporary SQLite
database filled with demo data and live traffic, yields its URL and the demo
users' tokens, and on exit stops it and deletes the data. `run_demo` wraps it
for the command line: print where to connect, run until Ctrl-C or SIGTERM.

While it serves, uvicorn owns SIGINT and SIGTERM (a signal stops the server
gracefully and is then passed on to the handler that was there before), so a
caller that must outlive the server installs its own handlers first.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from csq.domain.roles import Role
from csq.server.demo import start_demo
from csq.server.demo.staff import DEMO_PASSWORD, Member, human_for

Say = Callable[[str], None]


class DemoError(Exception):
    """The demo could not start (port taken, seeding failed): said in one line."""


class _Stopped(Exception):
    """The server stopped (a signal) before the demo was ready: a normal end."""


@dataclass(frozen=True)
class DemoServer:
    url: str
    tokens: dict[str, str]  # username -> token, for every demo user
    db_dir: Path  # deleted when the context ends
    task: asyncio.Task[None]  # the server; it ends on Ctrl-C, SIGTERM or an error

    def user_for(self, role: Role | str) -> Member:
        """The demo user a person plays in `role` (the simulator leaves theirs alone)."""
        return human_for(role)

    def token_for(self, role: Role | str) -> str:
        return self.tokens[human_for(role).username]

    async def wait(self) -> None:
        """Until the server stops."""
        await asyncio.shield(self.task)


@asynccontextmanager
async def demo_server(rate: float = 1.0, port: int = 0, *, seed: int = 7,
                      host: str = "127.0.0.1", say: Say | None = None,
                      ) -> AsyncIterator[DemoServer]:
    """A demo server running in this event loop, ready (seeded, simulating) on entry."""
    from csq.server.config import ServerSettings
    from csq.server.run import serve

    db_dir = Path(tempfile.mkdtemp(prefix="csq-demo-"))
    settings = ServerSettings(host=host, port=port, db=f"sqlite+aiosqlite:///{db_dir / 'csq.db'}")
    ready: asyncio.Future[tuple[str, dict[str, str]]] = asyncio.get_running_loop().create_future()

    async def hook(app: FastAPI) -> None:
        try:
            demo = await start_demo(app, seed=seed, rate=rate, say=say or _silent,
                                    announce=False)
        except BaseException as exc:
            ready.set_exception(exc if isinstance(exc, Exception) else _Stopped())
            raise
        ready.set_result((app.state.url, demo.tokens))

    task = asyncio.create_task(serve(settings, after_start=hook, announce=False),
                               name="csq-demo-server")
    try:
        either: set[asyncio.Future[Any]] = {ready, task}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            task.result()  # raises what stopped it, if anything did
            raise _Stopped
        url, tokens = ready.result()
        if not tokens:
            raise DemoError("the demo data could not be created (see the message above)")
        yield DemoServer(url, tokens, db_dir, task)
    finally:
        if not task.done():
            task.cancel()  # serve() turns this into a graceful stop
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(asyncio.CancelledError):
            ready.cancel()
        shutil.rmtree(db_dir, ignore_errors=True)


def _silent(_: str) -> None:
    return None


def run_demo(role: str, rate: float, port: int, *, app: bool = False,
             lang: str | None = None) -> int:
    """`csq demo`: the app on demo data with live traffic (or, with app=False,
    just the server until Ctrl-C or SIGTERM); exit 0, leaving nothing behind."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        asyncio.run(_run_app(Role(role), rate, port, lang) if app
                    else _run(Role(role), rate, port))
    except (KeyboardInterrupt, asyncio.CancelledError, _Stopped):
        pass
    except DemoError as exc:
        print(f"csq demo: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"csq demo: cannot listen on port {port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


async def _run(role: Role, rate: float, port: int) -> None:
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    # SIGTERM ends the demo as Ctrl-C does: cancel the main task, so the
    # server stops and the temporary data is deleted on the way out.
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(main.cancel))
    async with demo_server(rate, port, say=print) as demo:
        _announce(demo, role, rate)
        await demo.wait()


async def _run_app(role: Role, rate: float, port: int, lang: str | None) -> None:
    """The app as `role`, on a profile inside the demo's temporary directory, so
    quitting removes the cache and outbox with the database."""
    from csq.app import CsqApp
    from csq.config import ConfigError, Login, load_ui_config
    from csq.i18n import detect
    from csq.store import Profile
    from csq.sync import make_http

    try:
        ui = load_ui_config()
    except ConfigError as exc:
        raise DemoError(str(exc)) from None
    async with demo_server(rate, port) as demo:
        user = demo.user_for(role)
        token = demo.token_for(role)
        login = Login(server=demo.url, username=user.username, name=user.name, role=user.role,
                      token=token)
        profile = Profile.for_user(demo.url, user.username, root=demo.db_dir / "profiles")
        app = CsqApp(login, make_http(demo.url, token), ui, profile=profile,
                     lang=detect(lang or ui.lang))
        await app.run_async()


def _announce(demo: DemoServer, role: Role, rate: float) -> None:
    user = demo.user_for(role)
    token = demo.token_for(role)
    traffic = f"{rate:g} actions/s by the other agents and customers" if rate else "none"
    lines = [
        f"server   {demo.url}",
        f"data     {demo.db_dir} (temporary: deleted when the demo stops)",
        f"you are  {user.name} ({user.username}, {user.role.value}); "
        f'password "{DEMO_PASSWORD}"',
        f"token    {token}",
        f"traffic  {traffic}",
        f'try      curl -H "Authorization: Bearer {token}" {demo.url}/v1/changes',
        f"         csq login --server {demo.url} --token {token}",
        "stop     Ctrl-C",
    ]
    for line in lines:
        print(f"csq demo: {line}", flush=True)
