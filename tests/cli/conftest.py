"""The plain CLI as users run it: `csq` subprocesses with their own XDG dirs,
against a real `csq serve`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.client import CsqEnv, LiveServer, Run, live_server

Machine = Callable[..., CsqEnv]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of this test's own, free to be killed and restarted."""
    with live_server(tmp_path / "server") as server:
        yield server


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for a module's tests that never stop it (each uses its own items)."""
    with live_server(tmp_path_factory.mktemp("shared-server")) as server:
        yield server


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    """`machine(server, "alice")`: a user's computer, logged in to `server`."""

    def make(server: LiveServer, user: str = "alice", *, name: str | None = None) -> CsqEnv:
        env = CsqEnv(tmp_path / "machines" / (name or user))
        env.write_login(server.url, user, server.tokens[user])
        return env

    return make


def clean(run: Run, rc: int = 0) -> Run:
    """The run ended with `rc` and no traceback: the one check every CLI test makes."""
    assert "Traceback" not in run.err and "Traceback" not in run.out, str(run)
    assert run.rc == rc, str(run)
    return run
