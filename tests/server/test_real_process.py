"""`csq serve` as a real process, on SQLite and on PostgreSQL, spoken to over
real HTTP: the write path with Idempotency-Key and If-Match, the SSE stream
(ids are seqs, Last-Event-ID resumes, heartbeats keep idle links alive), and a
clean, prompt stop on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from httpx_sse import aconnect_sse

from tests.support import postgres
from tests.support.process import Server, add_user, create_user, environ, start
from tests.support.remote import Client, event_stream

pytestmark = pytest.mark.process


@dataclass
class Live:
    db: str
    tokens: dict[str, str]
    env: dict[str, str]
    tmp: Path
    running: Server | None = None

    @property
    def server(self) -> Server:
        """The module's server; started again if a test has stopped it."""
        if self.running is None or self.running.proc.poll() is not None:
            self.running = start("--host", "127.0.0.1", "--port", "0", "--db", self.db,
                                 tmp=self.tmp, env=self.env)
        return self.running

    def client(self, user: str) -> Client:
        return Client(self.server.url, self.tokens[user])


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server per database kind for the module; users made with `csq admin`."""
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    if request.param == "sqlite":
        db = f"sqlite+aiosqlite:///{tmp / 'csq.db'}"
    else:
        cluster: postgres.Cluster = request.getfixturevalue("pg_cluster")
        db = cluster.new_database()
    env = environ(XDG_DATA_HOME=str(tmp / "xdg"), XDG_CONFIG_HOME=str(tmp / "xdg-config"),
                  CSQ_HEARTBEAT_S="0.5")
    live = Live(db, {"alice": create_user(db, "alice", env=env), "bob": add_user(db, "bob")},
                env, tmp)
    live.server  # noqa: B018  (started now, not in the first test's timing)
    try:
        yield live
    finally:
        if live.running is not None:
            live.running.kill()


@pytest.fixture(autouse=True)
def _no_traceback_after(live: Live) -> Iterator[None]:
    """A 500 or a crash in the server leaves its traceback on stderr: none may."""
    yield
    if live.running is not None:
        assert "Traceback" not in live.running.stderr(), live.running.stderr()


async def test_claim_over_real_http_is_applied_once_and_checks_if_match(live: Live) -> None:
    alice, bob = live.client("alice"), live.client("bob")
    try:
        item = await alice.item()
        assert item["version"] == 1 and item["status"] == "new"

        first = await alice.act(item["id"], "claim", key="claim-1", version=1)
        assert first.status_code == 200, first.text
        assert first.headers["etag"] == '"2"'
        claimed = first.json()["item"]
        assert claimed["owner"] == "alice" and claimed["version"] == 2

        again = await alice.act(item["id"], "claim", key="claim-1", version=1)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()  # the first answer, replayed

        stale = await bob.act(item["id"], "claim", version=1)
        assert stale.status_code == 412, stale.text
        assert stale.headers["content-type"].startswith("application/problem+json")
        assert stale.json()["current"]["version"] == 2

        missing = await bob.act(item["id"], "claim")
        assert missing.status_code == 428, missing.text

        now = await alice.get_item(item["id"])
        assert now["version"] == 2 and now["owner"] == "alice"
        assert [e["type"] for e in now["timeline"]].count("claim") == 1
    finally:
        await alice.aclose()
        await bob.aclose()


async def test_event_stream_delivers_each_change_with_its_seq_as_id(live: Live) -> None:
    alice, bob = live.client("alice"), live.client("bob")
    try:
        customer = await alice.customer()
        async with event_stream(bob) as stream:
            item = await alice.item(customer["id"])
            created = await stream.next()
            body = created.data
            assert created.sse.id == str(body["seq"])
            assert [i["id"] for i in body["items"]] == [item["id"]]
            assert body["items"][0]["seq"] == body["seq"]

            r = await alice.act(item["id"], "claim", version=item["version"])
            assert r.status_code == 200, r.text
            claimed = await stream.next()
            assert claimed.sse.id == str(r.json()["seq"])
            assert int(claimed.sse.id) > int(created.sse.id)
            assert claimed.data["items"][0]["owner"] == "alice"
            assert stream.error is None
    finally:
        await alice.aclose()
        await bob.aclose()


async def test_event_stream_resumes_after_last_event_id_with_only_later_changes(
        live: Live) -> None:
    alice, bob = live.client("alice"), live.client("bob")
    try:
        one, two = await alice.item(), await alice.item()
        r1 = await alice.act(one["id"], "note", body="first")
        r2 = await alice.act(two["id"], "note", body="second")
        assert r1.status_code == r2.status_code == 200
        seen, later = r1.json()["seq"], r2.json()["seq"]

        async with event_stream(bob, last_event_id=str(seen)) as stream:
            missed = await stream.next()
            assert missed.sse.id == str(later)
            assert [i["id"] for i in missed.data["items"]] == [two["id"]]
            await stream.quiet(for_s=0.3)  # nothing at or before `seen` again

            r3 = await alice.act(one["id"], "note", body="third")
            live_one = await stream.next()
            assert live_one.sse.id == str(r3.json()["seq"])
            assert [i["id"] for i in live_one.data["items"]] == [one["id"]]

        async with event_stream(bob, last_event_id=live_one.sse.id) as caught_up:
            await caught_up.quiet(for_s=0.3)
    finally:
        await alice.aclose()
        await bob.aclose()


async def test_idle_event_stream_gets_heartbeats(live: Live) -> None:
    """CSQ_HEARTBEAT_S=0.5 for this server: an idle stream sees `: ping` lines
    (httpx-sse drops comments, so this reads the stream's raw lines)."""
    bob = live.client("bob")
    pings: list[float] = []
    try:
        async with aconnect_sse(bob.http, "GET", "/v1/events") as source, asyncio.timeout(5):
            async for line in source.response.aiter_lines():
                if line.strip() == ": ping":
                    pings.append(time.monotonic())
                    if len(pings) == 2:
                        break
    finally:
        await bob.aclose()
    assert len(pings) == 2 and 0.3 < pings[1] - pings[0] < 1.2, pings


async def test_sigterm_stops_serve_promptly_with_code_0_and_no_traceback(live: Live) -> None:
    """Even with an event stream open: the stream is ended, not waited out.
    (Stops the module's server; a later test would get a fresh one.)"""
    server = live.server
    bob = Client(server.url, live.tokens["bob"])
    try:
        async with event_stream(bob) as stream:
            code, took = await asyncio.to_thread(server.stop, signal.SIGTERM)
            with pytest.raises(AssertionError, match="ended"):
                await stream.next(timeout=5)
            assert stream.error is None, f"stream broke instead of ending: {stream.error!r}"
    finally:
        await bob.aclose()
        server.kill()
    stderr = server.stderr()
    assert code == 0, stderr
    assert took < 2.0, f"took {took:.2f} s to stop"
    assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
