"""Real `csq` processes for the end-to-end tests: the CLI run to completion, and
`csq serve` started on a free loopback port, found by the line it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"^csq serve: listening on (http://\S+) \(db .*\)$", re.M)


def environ(**extra: str) -> dict[str, str]:
    """This process's environment without any CSQ_* setting (with the test's XDG dirs),
    csq importable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSQ_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def csq(*args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m csq ARGS` to completion."""
    return subprocess.run([sys.executable, "-m", "csq", *args], env=env or environ(),
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def create_user(db: str, name: str, role: str = "agent",
                env: dict[str, str] | None = None) -> str:
    """`csq admin create-user`, returning the token it prints."""
    done = csq("admin", "create-user", name, "--role", role, "--db", db, env=env)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token and "\n" not in token, done.stdout
    return token


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    line: str
    out: Path
    err: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> tuple[int, float]:
        """Send `sig` and wait: (exit code, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start(*args: str, tmp: Path, env: dict[str, str] | None = None,
          timeout: float = 30) -> Server:
    """Start `csq serve ARGS` and wait for its listening line (killed if it never comes)."""
    tmp.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.monotonic_ns()}"
    out, err = tmp / f"serve-{stamp}.out", tmp / f"serve-{stamp}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "csq", "serve", *args],
                                env=env or environ(), cwd=ROOT, stdout=stdout, stderr=stderr,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            found = LISTENING.search(out.read_text(errors="replace"))
            if found:
                return Server(proc, found.group(1), found.group(0), out, err)
            if proc.poll() is not None:
                raise AssertionError(f"csq serve exited with {proc.returncode}: "
                                     f"{err.read_text(errors='replace')}")
            time.sleep(0.02)
        raise AssertionError(f"csq serve did not start in {timeout} s: "
                             f"{err.read_text(errors='replace')}")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        raise


@contextmanager
def serving(*args: str, tmp: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`csq serve` for the length of a with-block; always killed at the end."""
    server = start(*args, tmp=tmp, env=env)
    try:
        yield server
    finally:
        server.kill()


def add_user(db: str, name: str, role: str = "agent") -> str:
    """A user made in this process, without a CLI start-up: for the users a test
    only needs to exist (`create_user` is the one that tests `csq admin`)."""
    import asyncio

    from csq.domain.roles import Role
    from csq.server import admin
    from csq.server.db import make_engine

    async def go() -> str:
        engine = make_engine(db)
        try:
            return await admin.create_user(engine, name, Role(role))
        finally:
            await engine.dispose()

    return asyncio.run(go())
