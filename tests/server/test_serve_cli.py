"""`csq serve` and `csq admin` as a user meets them: bad settings from any layer
(flag, CSQ_* env, TOML file) are refused in one line naming the setting, with
exit code 2 and never a traceback; an unusable database is one line and exit
code 1; flags beat env, env beats the file; and `csq admin` refuses a duplicate
user and revokes a token so that the running server answers it with 401."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from csq.server import admin
from csq.server.db import make_engine
from tests.support.process import Server, create_user, csq, environ, start

pytestmark = pytest.mark.process


def _free_ports(n: int) -> list[int]:
    """n distinct ports nothing listens on (held together while picking)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


# -- refusals: every case runs at once in a module fixture, each checked by its own test ----

@dataclass(frozen=True)
class Refusal:
    id: str
    args: tuple[str, ...]
    names: tuple[str, ...]  # what the message must name
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)
    toml: str | None = None  # written to {tmp}/csq.toml, passed with --config
    by_argparse: bool = False  # argparse prints its usage lines above the message
    command: tuple[str, ...] = ("serve",)


DEAD_PORT = _free_ports(1)[0]
REFUSALS = [
    Refusal("port-out-of-range", ("--port", "99999"), ("--port", "99999"), by_argparse=True),
    Refusal("port-not-a-number", ("--port", "abc"), ("--port", "abc"), by_argparse=True),
    Refusal("unknown-time-zone", ("--timezone", "Mars/Olympus"),
            ("timezone", "--timezone", "Mars/Olympus")),
    Refusal("unsupported-database", ("--db", "mysql://x"), ("db", "--db", "postgresql")),
    Refusal("env-port-not-a-number", (), ("port", "CSQ_PORT"), env={"CSQ_PORT": "notanumber"}),
    Refusal("config-unknown-key", (), ("colour", "csq.toml"),
            toml='port = 8000\ncolour = "blue"\n'),
    Refusal("config-bad-value", (), ("timezone", "csq.toml", "Mars/Olympus"),
            toml='timezone = "Mars/Olympus"\n'),
    Refusal("config-malformed", (), ("csq.toml", "line 2"),
            toml='port = 8000\nhost = "127.0.0.1\n'),
    Refusal("config-missing", ("--config", "{tmp}/nowhere.toml"), ("nowhere.toml",)),
    Refusal("database-unreachable", ("--db", f"postgresql+asyncpg://csq:s3cret@127.0.0.1:"
                                             f"{DEAD_PORT}/csq"),
            ("cannot open the database", f"127.0.0.1:{DEAD_PORT}"), code=1),
    Refusal("admin-database-unreachable", ("--db", f"postgresql+asyncpg://csq:s3cret@"
                                                   f"127.0.0.1:{DEAD_PORT}/csq"),
            ("csq admin: cannot open the database", f"127.0.0.1:{DEAD_PORT}"), code=1,
            command=("admin", "create-user", "lee", "--role", "lead")),
    Refusal("database-path-unusable", ("--db", "sqlite+aiosqlite:////proc/no/such/csq.db"),
            ("cannot open the database", "/proc/no/such/csq.db"), code=1),
]


def _refuse(case: Refusal, tmp: Path) -> subprocess.CompletedProcess[str]:
    tmp = tmp / case.id
    tmp.mkdir()
    args = [a.replace("{tmp}", str(tmp)) for a in case.args]
    if case.toml is not None:
        (tmp / "csq.toml").write_text(case.toml)
        args += ["--config", str(tmp / "csq.toml")]
    env = environ(XDG_DATA_HOME=str(tmp / "xdg"), **case.env)
    serving = case.command == ("serve",)
    if serving and not any(a.startswith("--port") for a in args) and "CSQ_PORT" not in case.env:
        args += ["--port", "0"]  # should the refusal fail to happen, no clash on 8765
    try:
        return csq(*case.command, *args, env=env, timeout=30)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, -1, "", f"still running: {exc.stderr!r}")


@pytest.fixture(scope="module")
def refusals(
        tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("refusals")
    with ThreadPoolExecutor(4) as pool:
        done = {c.id: pool.submit(_refuse, c, tmp) for c in REFUSALS}
        return {cid: future.result() for cid, future in done.items()}


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.id)
def test_bad_setting_is_refused_in_one_line_naming_it(
        case: Refusal, refusals: dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = refusals[case.id]
    assert done.returncode == case.code, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    if case.by_argparse:
        assert lines[0].startswith("usage: csq serve"), lines
    else:
        assert len(lines) == 1, lines
    message = lines[-1]
    assert message.startswith("csq"), message
    for name in case.names:
        assert name in message, message
    assert "s3cret" not in done.stderr


# -- precedence: flags > CSQ_* env > the TOML file, seen in the listening line --------------

@dataclass
class Layered:
    line: str
    port: int
    ports: dict[str, int]  # what the file, env and flag each asked for
    dbs: dict[str, str]


def _start_layered(name: str, tmp: Path, *, env_port: bool, env_db: bool,
                   flag_port: bool) -> Layered:
    """The file sets port and db; env and flags override some of them."""
    tmp = tmp / name
    tmp.mkdir()
    ports = dict(zip(("file", "env", "flag"), _free_ports(3), strict=True))
    dbs = {layer: f"sqlite+aiosqlite:///{tmp / layer}.db" for layer in ("file", "env")}
    config = tmp / "csq.toml"
    config.write_text(f'port = {ports["file"]}\ndb = "{dbs["file"]}"\n'
                      f'timezone = "Europe/Paris"\n')
    env = environ(XDG_DATA_HOME=str(tmp / "xdg"))
    if env_port:
        env["CSQ_PORT"] = str(ports["env"])
    if env_db:
        env["CSQ_DB"] = dbs["env"]
    args = ["--config", str(config)]
    if flag_port:
        args += ["--port", str(ports["flag"])]
    server = start(*args, tmp=tmp, env=env)
    server.kill()
    return Layered(server.line, server.port, ports, dbs)


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Layered]:
    tmp = tmp_path_factory.mktemp("layers")
    with ThreadPoolExecutor(2) as pool:
        env = pool.submit(_start_layered, "env", tmp, env_port=True, env_db=False,
                          flag_port=False)
        flag = pool.submit(_start_layered, "flag", tmp, env_port=True, env_db=True,
                           flag_port=True)
    return {"env": env.result(), "flag": flag.result()}


def test_env_beats_the_config_file_which_fills_in_the_rest(
        layered: dict[str, Layered]) -> None:
    started = layered["env"]  # file: port + db; env: port
    assert started.port == started.ports["env"], started.line
    assert f"(db {started.dbs['file']})" in started.line


def test_flags_beat_env_and_env_beats_the_config_file(layered: dict[str, Layered]) -> None:
    started = layered["flag"]  # file: port + db; env: port + db; flag: port
    assert started.port == started.ports["flag"], started.line
    assert f"(db {started.dbs['env']})" in started.line


# -- csq admin ---------------------------------------------------------------------------

@dataclass
class Served:
    server: Server
    db: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server with user alice, who holds two tokens."""
    tmp = tmp_path_factory.mktemp("admin")
    db = f"sqlite+aiosqlite:///{tmp / 'csq.db'}"
    env = environ(XDG_DATA_HOME=str(tmp / "xdg"))
    tokens = {"first": create_user(db, "alice", env=env), "second": _second_token(db)}
    server = start("--port", "0", "--db", db, tmp=tmp, env=env)
    try:
        yield Served(server, db, tokens)
    finally:
        server.kill()


def _second_token(db: str) -> str:
    async def issue() -> str:
        engine = make_engine(db)
        try:
            return await admin.new_token(engine, "alice")
        finally:
            await engine.dispose()

    return asyncio.run(issue())


def test_create_user_twice_is_refused_with_exit_1(served: Served) -> None:
    again = csq("admin", "create-user", "alice", "--role", "lead", "--db", served.db)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.strip().splitlines() == [
        "csq admin: user 'alice' already exists; use 'csq admin token alice'"]


def test_revoked_token_gets_401_from_the_running_server(served: Served) -> None:
    def get(token: str) -> httpx.Response:
        return httpx.get(f"{served.server.url}/v1/items",
                         headers={"Authorization": f"Bearer {token}"})

    first, second = served.tokens["first"], served.tokens["second"]
    assert get(first).status_code == get(second).status_code == 200
    revoked = csq("admin", "revoke-token", first, "--db", served.db)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == "revoked"

    r = get(first)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("bad-token")
    assert get(second).status_code == 200  # only that token


def test_a_token_revoked_by_another_process_cannot_write_the_next_moment(
        served: Served) -> None:
    """The Gate reads tokens on the loop's own sqlite3 connection (no cache): a token
    revoked by `csq admin` is refused on the very next request, a write included,
    and that write changes nothing."""
    token = csq("admin", "token", "alice", "--db", served.db).stdout.strip()
    client = httpx.Client(base_url=served.server.url,
                          headers={"Authorization": f"Bearer {token}"})

    def create(n: int) -> httpx.Response:
        return client.post("/v1/customers", json={"name": f"客户 {n}", "phone": "13812345678"},
                           headers={"Idempotency-Key": f"revoke-{n}"})

    with client:
        warm = [create(n) for n in range(20)]  # a busy token, then revoked mid-stream
        assert {r.status_code for r in warm} == {201}
        assert csq("admin", "revoke-token", token, "--db", served.db).returncode == 0
        refused = create(20)
        assert refused.status_code == 401, refused.text
        assert refused.json()["type"].endswith("bad-token")
        assert client.get("/v1/me").status_code == 401
    other = httpx.get(f"{served.server.url}/v1/customers/{warm[-1].json()['id'] + 1}",
                      headers={"Authorization": f"Bearer {served.tokens['second']}"})
    assert other.status_code == 404  # the refused write left nothing behind
