"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support import postgres
from tests.support.api import Api, running_api

_PG: dict[str, object] = {}


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the developer's own csq config or data."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    for var in ("CSQ_DB", "CSQ_HOST", "CSQ_PORT", "CSQ_TOKEN", "CSQ_SERVER_CONFIG"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    cluster, reason = postgres.start()
    if cluster is None:
        message = f"PostgreSQL tests SKIPPED: {reason}"
        print(f"\n{'!' * 72}\n!! {message}\n{'!' * 72}")
        if os.environ.get("CI") == "true" and os.environ.get("CSQ_ALLOW_NO_PG") != "1":
            pytest.fail(message + " (CI must run them; set CSQ_ALLOW_NO_PG=1 to allow)")
        pytest.skip(message)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: postgres.Cluster) -> str:
    return pg_cluster.new_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'csq.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'csq.db'}"


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    async with running_api(db_url) as running:
        yield running


@pytest.fixture
async def sqlite_api(sqlite_url: str) -> AsyncIterator[Api]:
    async with running_api(sqlite_url) as running:
        yield running
