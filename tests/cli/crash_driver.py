"""Crash a csq client many times over, at random moments (run as a subprocess by
test_cli_client_crash.py; `python -m tests.cli.crash_driver CONFIG.json`).

The driver imports csq once, then for each run forks a child that is exactly
`csq do ID note TEXT` or `csq sync` (csq.cli.main in a fresh process image
copy, so no run pays the interpreter's start-up) and SIGKILLs it after a
random delay. Before each `sync` run it queues a note and a tag the way the
app does (durably: they count as acknowledged). After each kill it checks,
as the next csq to start would: the cache opens without a warning, the
outbox reads, and every action acknowledged so far is still in the outbox or
applied on the server. One JSON line per run goes to the results file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import sys
import time
import traceback
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from csq.cli import build_parser
from csq.cli import main as csq_main
from csq.config import load_login
from csq.domain.engine import Actor
from csq.store import Cache, Outbox, Profile
from csq.sync import SyncEngine


def child(argv: list[str], out: Path, err: Path) -> None:
    """The csq process that gets killed: stdout line-buffered, as a terminal's is,
    so whatever it printed before the kill is what the user saw."""
    code = 98
    try:
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        code = csq_main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        traceback.print_exc()
        code = 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class Checker:
    def __init__(self, profile: Profile, server_db: str) -> None:
        self.profile = profile
        self.server_db = server_db
        self.acked_notes: set[str] = set()
        self.acked_keys: set[str] = set()

    def server(self, sql: str) -> list[tuple[Any, ...]]:
        uri = f"file:{self.server_db}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
            return conn.execute(sql).fetchall()

    def after_crash(self) -> tuple[list[str], int]:
        """(what is wrong, how many ops the server applied but the outbox still holds:
        the kill fell between the server's answer and the outbox's ack)."""
        problems: list[str] = []
        try:
            cache = Cache(self.profile.cache_dir).open(write=True, wait=5)
            try:
                cache.snapshot()
                problems += [f"cache warning: {w}" for w in cache.warnings]
            finally:
                cache.close()
        except Exception as exc:
            problems.append(f"cache does not open: {exc!r}")
        try:
            ops = Outbox(self.profile.outbox_path).all()
        except Exception as exc:
            return [*problems, f"outbox does not read: {exc!r}"], 0
        queued_notes = {str(o.payload.get("body")) for o in ops if o.verb == "note"}
        queued_keys = {o.op_id for o in ops}
        applied_notes = {body for (body,) in self.server("SELECT body FROM events "
                                                         "WHERE type = 'note'")}
        applied_keys = {key for (key,) in self.server("SELECT DISTINCT idempotency_key "
                                                       "FROM events")}
        problems += [f"acknowledged note {b!r} is lost" for b in
                     sorted(self.acked_notes - queued_notes - applied_notes)]
        problems += [f"acknowledged op {k} is lost" for k in
                     sorted(self.acked_keys - queued_keys - applied_keys)]
        return problems, len(queued_keys & applied_keys)


def queue_for_sync(profile: Profile, http: httpx.AsyncClient, actor: Actor, item: int,
                   run: int) -> tuple[str, str]:
    """A note and a tag queued as the app queues them (SyncEngine.submit: durable
    before it returns, base version from the cache)."""
    cache = Cache(profile.cache_dir).open(write=False)
    engine = SyncEngine(profile, http, actor, cache=cache)
    body = f"sync-{run}"
    engine.submit(item, {"action": "note", "body": body})
    tag = engine.submit(item, {"action": "tag", "add": [f"t{run}"]})
    return body, tag.op_id


def main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    work = Path(cfg["workdir"])
    build_parser()  # import every command now, not in each child
    login = load_login()
    assert login is not None
    profile = Profile.for_user(login.server, login.username)
    actor = Actor(login.username, login.name, login.role)
    checker = Checker(profile, cfg["server_db"])
    http = httpx.AsyncClient()  # never used: queueing needs no network
    rng = random.Random(cfg["seed"])
    took: dict[str, float] = {}
    with (work / "results.jsonl").open("w") as results:
        for run in range(cfg["runs"]):
            item = rng.choice(cfg["items"])
            mode = "do" if run % 2 == 0 else "sync"
            if mode == "do":
                argv = ["do", str(item), "note", f"do-{run}"]
            else:
                body, key = queue_for_sync(profile, http, actor, item, run)
                checker.acked_notes.add(body)
                checker.acked_keys.add(key)
                argv = ["sync"]
            out, err = work / f"run-{run}.out", work / f"run-{run}.err"
            for path in (out, err):  # there even if the child dies before opening them
                path.touch()
            # The first run of each kind goes uninterrupted, to time it on this
            # machine as loaded as it is now; later runs die anywhere in that span.
            delay = rng.uniform(0, took[mode]) if mode in took else None
            sys.stdout.flush()
            started = time.monotonic()
            pid = os.fork()
            if pid == 0:
                child(argv, out, err)
            if delay is not None:
                time.sleep(delay)
                os.kill(pid, signal.SIGKILL)  # a zombie takes the signal harmlessly
            _, status = os.waitpid(pid, 0)
            took.setdefault(mode, time.monotonic() - started)
            said = out.read_text(errors="replace")
            if mode == "do" and ("done:" in said or "queued:" in said):
                checker.acked_notes.add(f"do-{run}")
            problems, in_flight = checker.after_crash()
            results.write(json.dumps({
                "run": run, "mode": mode, "delay": delay, "took": took[mode],
                "killed": os.WIFSIGNALED(status),
                "rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "stdout": said, "stderr": err.read_text(errors="replace"),
                "problems": problems, "in_flight": in_flight,
            }, ensure_ascii=False) + "\n")
            results.flush()
    (work / "acknowledged.json").write_text(json.dumps({
        "notes": sorted(checker.acked_notes), "keys": sorted(checker.acked_keys)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
