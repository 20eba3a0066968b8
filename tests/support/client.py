"""The client side as a user meets it, for the tests that try to break the
offline promises: a real `csq serve` that can be SIGKILLed and restarted on the
same port and database, `csq` CLI runs in an isolated XDG environment, the
server's database read directly (what was applied, how often), and a way to
make a directory read-only even for root."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from csq.domain.engine import Actor
from csq.server.app import create_app
from csq.server.config import ServerSettings
from csq.store import Cache, Profile
from csq.sync import SyncEngine, make_http
from tests.support import process
from tests.support.api import USERS, Api, Clock, make_users

ROOT = process.ROOT


# -- the server ------------------------------------------------------------------------


class LiveServer:
    """`csq serve` on a SQLite file; `kill()` is SIGKILL, `start()` comes back on the
    same port (the client's profile is keyed by the URL) and the same database."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = workdir / "server.db"
        self.db = f"sqlite+aiosqlite:///{self.db_path}"
        self.tokens: dict[str, str] = asyncio.run(make_users(self.db))
        self.port = 0
        self.proc: process.Server | None = None
        self._http: dict[str, httpx.Client] = {}

    @property
    def url(self) -> str:
        assert self.port, "the server was never started"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        assert self.proc is None or self.proc.proc.poll() is not None
        deadline = time.monotonic() + 10
        while True:  # the old socket can linger a moment after a SIGKILL
            try:
                self.proc = process.start("--port", str(self.port), "--db", self.db,
                                          tmp=self.workdir, env=process.environ())
                break
            except AssertionError:
                if not self.port or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.port = self.proc.port
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush, sockets torn down by the kernel."""
        if self.proc is not None and self.proc.proc.poll() is None:
            self.proc.proc.send_signal(signal.SIGKILL)
            self.proc.proc.wait(timeout=10)
        for client in self._http.values():
            client.close()
        self._http.clear()

    # -- other agents, talking to the server directly ----------------------------------

    def http(self, user: str) -> httpx.Client:
        if user not in self._http:
            self._http[user] = httpx.Client(
                base_url=self.url, timeout=15,
                headers={"Authorization": f"Bearer {self.tokens[user]}"})
        return self._http[user]

    def post(self, user: str, path: str, body: Any, version: int | None = None,
             expect: int | None = 200) -> dict[str, Any]:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        r = self.http(user).post(path, json=body, headers=headers)
        if expect is not None:
            assert r.status_code == expect, r.text
        return dict(r.json())

    def item(self, user: str = "alice", **fields: Any) -> dict[str, Any]:
        customer = self.post(user, "/v1/customers", {
            "name": "张伟", "phone": "13812345678", "email": "zhang.wei@example.com",
            **fields.pop("customer", {})}, expect=201)
        body = {"kind": "ticket", "category": "repair", "subject": "停电了 power cut",
                "channel": "phone", "customer_id": customer["id"], **fields}
        return self.post(user, "/v1/items", body, expect=201)

    def act(self, user: str, item_id: int, action: str, **payload: Any) -> dict[str, Any]:
        version = int(self.get(user, item_id)["version"])
        result = self.post(user, f"/v1/items/{item_id}/actions", {"action": action, **payload},
                           version=version)
        return dict(result["item"])

    def get(self, user: str, item_id: int) -> dict[str, Any]:
        r = self.http(user).get(f"/v1/items/{item_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    # -- what the server really holds --------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the server's SQLite file directly (WAL: fine while it runs)."""
        uri = f"file:{self.db_path}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
            return conn.execute(sql, params).fetchall()

    def events_per_key(self) -> dict[str, tuple[int, int]]:
        """{Idempotency-Key: (event rows, distinct seqs)}: one transaction per key."""
        rows = self.query("SELECT idempotency_key, COUNT(*), COUNT(DISTINCT seq) FROM events "
                          "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key")
        return {key: (n, seqs) for key, n, seqs in rows}

    def note_bodies(self) -> Counter[str]:
        """How often each note text was applied, by the audit trail."""
        return Counter(body for (body,) in self.query(
            "SELECT body FROM events WHERE type = 'note'"))


# -- the CLI ---------------------------------------------------------------------------


@dataclass
class Run:
    args: tuple[str, ...]
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return (f"csq {' '.join(self.args)} -> {self.rc}\n"
                f"--- stdout\n{self.out}--- stderr\n{self.err}")


@dataclass
class CsqEnv:
    """One user's machine: XDG dirs of its own, the `csq` CLI run as a subprocess."""

    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sub in ("data", "config", "state"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)

    @property
    def data_home(self) -> Path:
        return self.home / "data"

    @property
    def config_home(self) -> Path:
        return self.home / "config"

    @property
    def login_path(self) -> Path:
        return self.config_home / "csq" / "login.toml"

    def env(self, **extra: str) -> dict[str, str]:
        env = process.environ(XDG_DATA_HOME=str(self.data_home),
                              XDG_CONFIG_HOME=str(self.config_home),
                              XDG_STATE_HOME=str(self.home / "state"), **self.extra_env)
        for var in ("CSQ_TOKEN", "CSQ_DB", "CSQ_HOST", "CSQ_PORT", "CSQ_SERVER_CONFIG"):
            env.pop(var, None)
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "csq", *args]

    def run(self, *args: str, timeout: float = 60, prefix: tuple[str, ...] = (),
            **extra_env: str) -> Run:
        done = subprocess.run([*prefix, *self.argv(*args)], env=self.env(**extra_env),
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        return Run(args, done.returncode, done.stdout, done.stderr)

    def run_many(self, *commands: list[str], timeout: float = 120,
                 prefix: tuple[str, ...] = ()) -> list[Run]:
        """Several csq commands one after another in one process (csq.cli.main each,
        its own stdout, stderr and exit code), so a test pays one start-up."""
        return self.results(self.start_many(*commands, prefix=prefix), commands, timeout)

    def start_many(self, *commands: list[str],
                   prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        """`run_many` in the background: collect with `results`."""
        return self.popen([*prefix, sys.executable, "-c", _BATCH, json.dumps(commands)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @staticmethod
    def results(proc: subprocess.Popen[str], commands: tuple[list[str], ...],
                timeout: float = 120) -> list[Run]:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        return [Run(tuple(args), rc, said, complained)
                for args, (rc, said, complained) in zip(commands, json.loads(out), strict=True)]

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(argv, env=self.env(), cwd=ROOT, text=True,
                                stdin=subprocess.DEVNULL, **kwargs)

    def write_login(self, server: str, user: str, token: str) -> None:
        """What `csq login` writes, without paying a process start for it."""
        role, name = USERS[user]
        self.login_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.login_path.write_text(tomli_w.dumps({
            "server": server, "username": user, "name": name, "role": role.value,
            "token": token, "timezone": "Asia/Shanghai"}))
        self.login_path.chmod(0o600)

    def profile(self, server: str, user: str) -> Profile:
        return Profile.for_user(server, user, root=self.data_home / "csq" / "profiles")


def seed(env: CsqEnv, server: LiveServer, user: str = "alice") -> None:
    """Fill a user's cache as `csq sync` would, without a process start."""
    asyncio.run(seed_async(env, server, user))


async def seed_async(env: CsqEnv, server: LiveServer, user: str = "alice") -> None:
    profile = env.profile(server.url, user)
    role, name = USERS[user]
    cache = Cache(profile.cache_dir).open(write=True)
    try:
        async with make_http(server.url, server.tokens[user]) as http:
            await SyncEngine(profile, http, Actor(user, name, role), cache=cache).sync_once()
    finally:
        cache.close()


_BATCH = """
import contextlib, io, json, sys, traceback
from csq.cli import main
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            rc = 99
    results.append([rc, out.getvalue(), err.getvalue()])
sys.stdout.write(json.dumps(results))
"""


# -- read-only, even for root ----------------------------------------------------------

_DAC = "-dac_override,-dac_read_search,-fowner"


def without_root_powers() -> tuple[str, ...]:
    """A command prefix under which file permissions bind, even when the tests run
    as root (as in CI containers): drop the capabilities that bypass them."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ()
    return (setpriv, f"--inh-caps={_DAC}", f"--bounding-set={_DAC}")


def permissions_bind() -> bool:
    return os.geteuid() != 0 or bool(without_root_powers())


def set_tree_writable(top: Path, writable: bool) -> None:
    for path in [top, *top.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        path.chmod(mode | 0o200 if writable else mode & ~0o222)


@contextmanager
def live_server(workdir: Path) -> Iterator[LiveServer]:
    server = LiveServer(workdir).start()
    try:
        yield server
    finally:
        server.kill()


# -- other agents on the server's code, while the client's server is down ------------


@asynccontextmanager
async def server_side(server: LiveServer) -> AsyncIterator[Api]:
    """The server app in-process on the live server's database: other agents
    keep working "on the server" while the client cannot reach it."""
    app = create_app(ServerSettings(db=server.db))
    api = Api(app, server.db, server.tokens, Clock())
    async with app.router.lifespan_context(app):
        try:
            yield api
        finally:
            for client in api.clients.values():
                await client.aclose()


# -- a server that is not csq ----------------------------------------------------------


class _Html(http.server.BaseHTTPRequestHandler):
    """What a captive portal or a misconfigured proxy answers: HTML, whatever you ask."""

    def _answer(self) -> None:
        body = b"<!doctype html><html><body><h1>Welcome to Hotel WiFi</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ReusingServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


@contextmanager
def html_server(port: int = 0) -> Iterator[str]:
    """An HTTP server on loopback that answers every request with an HTML page."""
    server = _ReusingServer(("127.0.0.1", port), _Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
