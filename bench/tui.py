"""Issue 5's benchmark: the real `csq` app in a real pty, read as a terminal reads it.

    python -m bench tui [--items 50000] [--idle 60] [--changes 100] [--streams 199]

Each app runs as its own process on the slave side of a pseudo-terminal of 80×24
(`os.openpty`, TERM=xterm-256color); this process reads every byte it writes,
stamps each chunk with time.monotonic() as it arrives, and feeds them to pyte (a
VT100 emulator) to know what the screen shows. Phases:

* cold start: `csq` (the console script) on a profile whose cache holds 50,000
  items, logged in against an unreachable server (so it opens from the cache),
  until at least 10 queue rows are on the screen; peak RSS of the child. Baselines:
  a bare Textual app painting one line, the same `csq` with a 50-item cache, and
  the cache's own cold open (`bench.coldopen`) in a fresh interpreter.
* keys: with 50,000 items, j/k, a filter keystroke, enter (open) and esc (back):
  from writing the key to the pty to the end of the output burst it causes, and the
  app's own time from CSQ_PROFILE_KEYS (csq/keyprobe.py): the key reaching the app
  to the frame handed to the terminal, in wall and CPU time.
* idle: bytes per second written by an idle 80×24 queue whose visible clocks all
  tick every second, over `--idle` seconds. Baseline: a Textual DataTable with 24
  ticking cells (bench/tuiapps.py).
* live: a real `csq serve`, `--streams` SSE listeners plus one `csq` in a pty
  logged in as an agent; `--changes` transitions made through the API, each timed
  from the write to the moment the pty's screen shows the row's new status.
  Baseline: the same change's arrival on the raw SSE streams.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyte

from bench import fixtures
from bench.common import (
    ROOT,
    Row,
    median,
    percentile,
    print_machine,
    python,
    python_env,
    table,
    verdict,
    wait_for_quiet,
)
from bench.server import create_users, proc_cpu_s, start_server, streams_process

COLS, LINES = 80, 24
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connection refused at once
TARGET_START_S = 1.0
TARGET_KEY_MS = 16.0
TARGET_IDLE_BPS = 1024.0
TARGET_LIVE_MS = 250.0
# A queue row as the screen shows it: SLA clock (7 cells), mark (2), id, kind.
QUEUE_ROW = re.compile(r"^.{7} .{2}\s+(\d+) (TKT|CMP|CB)\s")


# -- a process in a pty -----------------------------------------------------------------


class PtyApp:
    """One process on a pty: every chunk it writes, stamped, and a pyte screen."""

    def __init__(self, argv: list[str], env: dict[str, str], cols: int = COLS,
                 lines: int = LINES) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, cols, 0, 0))
        env = {**env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(lines)}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     cwd=ROOT, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.screen = pyte.Screen(cols, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.fed = 0  # chunks fed to pyte so far
        # Called with (arrival, screen lines) after each chunk is fed to pyte.
        self.on_chunk: Callable[[float, list[str]], None] | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed its side
                return
            if not data:
                return
            now = time.monotonic()
            with self.lock:
                self.chunks.append((now, data))

    def _new(self) -> list[tuple[float, bytes]]:
        with self.lock:
            new = self.chunks[self.fed:]
        self.fed += len(new)
        return new

    def _feed(self, at: float, data: bytes) -> None:
        self.stream.feed(data)
        if self.on_chunk is not None:
            self.on_chunk(at, self.screen.display)

    def wait_for(self, test: Callable[[list[str]], bool], timeout: float) -> float | None:
        """The arrival time of the chunk after which `test(screen lines)` first holds."""
        deadline = time.monotonic() + timeout
        while True:
            for at, data in self._new():
                self._feed(at, data)
                if test(self.screen.display):
                    return at
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return None
            time.sleep(0.002)

    def settle(self, quiet: float = 0.1, timeout: float = 5.0) -> float | None:
        """Wait until nothing has arrived for `quiet` s; the last chunk's time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                last = self.chunks[-1][0] if self.chunks else self.started
            if time.monotonic() - last >= quiet:
                for at, data in self._new():
                    self._feed(at, data)
                return last
            time.sleep(0.005)
        return None

    def burst_after(self, sent: float, quiet: float = 0.1,
                    timeout: float = 5.0) -> tuple[float, int] | None:
        """(time of the last chunk, bytes) of the output that followed `sent`, once
        it has been quiet for `quiet` s; None if nothing came within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.chunks and self.chunks[-1][0] >= sent:
                    break
            if time.monotonic() > deadline:
                return None
            time.sleep(0.001)
        if self.settle(quiet, timeout) is None:
            return None
        with self.lock:
            after = [(at, len(d)) for at, d in self.chunks if at >= sent]
        if not after:
            return None
        return after[-1][0], sum(n for _, n in after)

    def send(self, data: bytes) -> float:
        sent = time.monotonic()
        os.write(self.master, data)
        return sent

    def bytes_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(len(d) for at, d in self.chunks if start <= at < end)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def peak_rss_mib(self) -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid)

    def stop(self) -> None:
        """`q`, then SIGTERM, then SIGKILL: never left running."""
        if self.proc.poll() is None:
            try:
                os.write(self.master, b"q")
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.reader.join(timeout=2)
        os.close(self.master)


def csq_argv() -> list[str]:
    """The real entry point: the `csq` console script beside this interpreter."""
    script = Path(sys.executable).parent / "csq"
    return [str(script)] if script.exists() else [python(), "-m", "csq"]


def queue_rows(lines: list[str]) -> list[tuple[int, str]]:
    return [(int(m.group(1)), line) for line in lines if (m := QUEUE_ROW.match(line))]


def rows_shown(at_least: int) -> Callable[[list[str]], bool]:
    return lambda lines: len(queue_rows(lines)) >= at_least


# -- a profile with a cache, no server -------------------------------------------------


@dataclass
class Home:
    """XDG config and data dirs for one profile, and the env that points at them."""

    root: Path
    server: str
    username: str = "alice"

    @property
    def env(self) -> dict[str, str]:
        return {**python_env(), "XDG_CONFIG_HOME": str(self.root / "config"),
                "XDG_DATA_HOME": str(self.root / "data"), "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8"}

    def login(self, token: str = "bench-token", name: str = "Alice Wang 王丽") -> None:
        from csq.config import Login
        with _xdg(self):
            from csq.config import save_login

            save_login(Login(server=self.server, username=self.username, name=name,
                             role="agent", token=token))

    def cache_dir(self) -> Path:
        with _xdg(self):
            from csq.store import Profile

            return Profile.for_user(self.server, self.username).ensure().cache_dir

    def fill(self, items: list[dict[str, Any]], customers: list[dict[str, Any]]) -> Path:
        from csq.store import Cache

        directory = self.cache_dir()
        cache = Cache(directory).open(write=True)
        try:
            cache.apply(items, customers, cursor=len(items))
            cache.compact()
        finally:
            cache.close()
        return directory


class _xdg:
    """Point platformdirs at a Home's dirs for the duration (it reads the env)."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
            self.saved[key] = os.environ.get(key)
            os.environ[key] = self.home.env[key]

    def __exit__(self, *_: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ticking_items(items: list[dict[str, Any]], now: datetime, count: int = 40) -> None:
    """Make the first `count` items breached in the last few minutes (the queue shows
    them first, their clocks in seconds): every visible clock changes every second."""
    for n, doc in enumerate(items[:count]):
        due = now - timedelta(seconds=20 + 9 * n)
        doc["due_at"] = due.isoformat().replace("+00:00", "Z")
        doc["status"] = "open"
        doc["priority"] = "P1"  # P1, tier A: ahead of every other breached item
        doc["customer_id"] = 4
        doc["sla_start"] = (due - timedelta(hours=4)).isoformat().replace("+00:00", "Z")


def build_home(workdir: Path, name: str, count: int, tick: bool = False) -> Home:
    home = Home(workdir / name, UNREACHABLE)
    home.login()
    docs = fixtures.items(count)
    if tick:
        ticking_items(docs, datetime.now(UTC))
    home.fill(docs, fixtures.customers(min(5000, max(count, 50))))
    return home


# -- phases ----------------------------------------------------------------------------


@dataclass
class Start:
    name: str
    seconds: list[float] = field(default_factory=list)  # spawn -> rows on screen
    first_byte: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)  # child's CPU until painted


def cold_start(argv: list[str], env: dict[str, str], painted: Callable[[list[str]], bool],
               result: Start, timeout: float = 60.0) -> PtyApp | None:
    """One start; returns the app still running (the caller stops it) or None."""
    app = PtyApp(argv, env)
    at = app.wait_for(painted, timeout)
    if at is None:
        print(f"  {result.name}: no paint within {timeout:.0f} s; screen:\n{app.text()}",
              flush=True)
        app.stop()
        return None
    result.seconds.append(at - app.started)
    with app.lock:
        result.first_byte.append(app.chunks[0][0] - app.started)
    result.cpu_s.append(app.cpu_s())
    time.sleep(1.0)  # let the first frames and the first sync attempt finish
    result.rss_mib.append(app.peak_rss_mib())
    return app


def start_phase(homes: dict[str, Home], runs: int) -> list[Start]:
    bare = Start("bare Textual app, one line")
    small = Start("csq, 50-item cache")
    big = Start("csq, 50,000-item cache")
    print(f"  cold start ({runs} runs each): {wait_for_quiet(max_wait=60)}", flush=True)
    from bench.tuiapps import BARE_TEXT

    for _ in range(runs):
        app = cold_start([python(), "-m", "bench.tuiapps", "bare"], python_env(),
                         lambda lines: any(BARE_TEXT in line for line in lines), bare)
        if app:
            app.stop()
        for result, home, need in ((small, homes["small"], 10), (big, homes["big"], 10)):
            app = cold_start(csq_argv(), home.env, rows_shown(need), result)
            if app:
                app.stop()
    for r in (bare, small, big):
        print(f"  {r.name}: painted {_range(r.seconds, 's', 2)}, first byte "
              f"{_range(r.first_byte, 's', 2)}, CPU {_range(r.cpu_s, 's', 2)}, peak RSS "
              f"{_range(r.rss_mib, 'MiB', 0)}", flush=True)
    return [bare, small, big]


def cache_open(directory: Path, runs: int = 3) -> list[dict[str, Any]]:
    out = []
    for _ in range(runs):
        done = subprocess.run([python(), "-m", "bench.coldopen", "csq", str(directory)],
                              env=python_env(), cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        if done.returncode == 0:
            out.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if out:
        print(f"  cache cold open (bench.coldopen, 50,000 items): "
              f"{_range([o['open_s'] for o in out], 's', 2)}, import "
              f"{_range([o['import_s'] for o in out], 's', 2)}, peak RSS "
              f"{_range([o['rss_peak_mib'] for o in out], 'MiB', 0)}", flush=True)
    return out


@dataclass
class KeyRun:
    name: str
    pty_ms: list[float] = field(default_factory=list)  # write -> end of the burst
    bytes_: list[int] = field(default_factory=list)
    app_first_ms: list[float] = field(default_factory=list)  # key in app -> first frame
    app_last_ms: list[float] = field(default_factory=list)  # key in app -> last frame
    cpu_ms: list[float] = field(default_factory=list)  # CPU, key in app -> last frame
    # CPU, key in app -> first frame: far below app_first_ms, the app was not running
    # (another process had the core); close to it, the app itself was busy.
    first_cpu_ms: list[float] = field(default_factory=list)
    # Key in app -> the screen as it stays (see settled_at): for a filter keystroke
    # the first frame only echoes the letter; this is when the rows are there.
    app_settled_ms: list[float] = field(default_factory=list)
    gc_ms: list[float] = field(default_factory=list)  # collections (gen 1, 2) in that time


def settled_at(frames: list[tuple[float, list[str]]]) -> float | None:
    """When the screen took the look it kept to the end of the burst: the arrival
    of the chunk after the last one whose screen differs from the final screen.
    Compared without the status line (its "cached 5 s ago" ages on its own) and
    the scrollbar column (it reflects the whole count, which a filter over 50,000
    rows finishes after the first screenful is shown)."""
    if not frames:
        return None

    def look(lines: list[str]) -> list[str]:
        return [line[:COLS - 1] for n, line in enumerate(lines) if n != LINES - 2]

    final = look(frames[-1][1])
    at = frames[0][0]
    for index, (_, lines) in enumerate(frames[:-1]):
        if look(lines) != final:
            at = frames[index + 1][0]
    return at


# What each measured key does, and the key that undoes it (sent, not measured).
KEY_SCRIPT: list[tuple[str, list[tuple[bytes, bool]]]] = [
    ("cursor j/k", [(b"j", True), (b"k", True)]),
    ("filter keystroke (`/` then p, o, w, e, r, backspace ×5)",
     [(b"/", False)] + [(c.encode(), True) for c in "power"] + [(b"\x7f", True)] * 5
     + [(b"\x1b", False), (b"\x1b", False)]),
    ("open an item (enter)", [(b"\r", True), (b"\x1b", False)]),
    ("back to the queue (esc)", [(b"\r", False), (b"\x1b", True)]),
]


def key_phase(home: Home, workdir: Path, rounds: int) -> list[KeyRun]:
    probe = workdir / f"keys-{uuid.uuid4().hex[:8]}.log"
    env = {**home.env, "CSQ_PROFILE_KEYS": str(probe)}
    print(f"  keys ({rounds} rounds): {wait_for_quiet(max_wait=60)}", flush=True)
    app = PtyApp(csq_argv(), env)
    runs = [KeyRun(name) for name, _ in KEY_SCRIPT]
    # sent, measured as, burst end, when the screen settled
    sends: list[tuple[float, KeyRun | None, float, float | None]] = []
    try:
        if app.wait_for(rows_shown(10), 60) is None:
            raise RuntimeError(f"csq never painted its queue:\n{app.text()}")
        app.settle(quiet=1.0, timeout=20)
        for _ in range(rounds):
            for run, (_, steps) in zip(runs, KEY_SCRIPT, strict=True):
                for data, measured in steps:
                    frames: list[tuple[float, list[str]]] = []
                    app.on_chunk = lambda at, lines, frames=frames: frames.append((at, lines))
                    sent = app.send(data)
                    burst = app.burst_after(sent, quiet=0.15)
                    app.on_chunk = None
                    sends.append((sent, run if measured else None,
                                  burst[0] if burst else sent,
                                  settled_at([f for f in frames if f[0] >= sent])))
                    if measured and burst is not None:
                        run.pty_ms.append((burst[0] - sent) * 1000)
                        run.bytes_.append(burst[1])
        cpu = app.cpu_s()
    finally:
        app.stop()
    _app_times(probe, sends)
    for run in runs:
        print(f"  {run.name}: settled screen p50 {median(run.app_settled_ms or [0]):.1f} / "
              f"p99 {percentile(run.app_settled_ms or [0], 99):.1f} ms; "
              f"pty p50 {median(run.pty_ms):.1f} / p99 "
              f"{percentile(run.pty_ms, 99):.1f} ms; app first frame p99 "
              f"{percentile(run.app_first_ms, 99):.1f} ms (its CPU p99 "
              f"{percentile(run.first_cpu_ms, 99):.1f} ms), last frame p99 "
              f"{percentile(run.app_last_ms, 99):.1f} ms, CPU p99 "
              f"{percentile(run.cpu_ms, 99):.1f} ms; {median(run.bytes_):.0f} B "
              f"(n={len(run.pty_ms)})", flush=True)
    print(f"  app CPU for the whole key phase: {cpu:.1f} s", flush=True)
    full = [ms for _, gen, ms in GC_PAUSES if gen == 2]
    if full:  # the last is the app's exit, after it unfroze its cache
        print(f"  full GC collections while the app ran: {len(full)}, "
              f"ms each: {', '.join(f'{ms:.0f}' for ms in full)}", flush=True)
    return runs


GC_PAUSES: list[tuple[float, int, float]] = []  # (monotonic end, generation, ms)


def _app_times(probe: Path,
               sends: list[tuple[float, KeyRun | None, float, float | None]]) -> None:
    """Match the probe's `key` lines to the keys sent (one each, in order) and take
    the frames written after each key, up to the end of the burst the pty saw (so
    a clock tick or a status change after the burst does not count)."""
    keys: list[tuple[float, float]] = []
    paints: list[tuple[float, float]] = []
    for line in probe.read_text().splitlines():
        kind, stamp, clock, *rest = line.split()
        if kind == "gc":  # `gc T CPU GEN MS`: kept aside, see gc_pauses
            GC_PAUSES.append((float(stamp), int(rest[0]), float(rest[1])))
            continue
        (keys if kind == "key" else paints).append((float(stamp), float(clock)))
    keys = keys[:len(sends)]  # then comes stop()'s `q`
    if len(keys) != len(sends):
        print(f"  (probe saw {len(keys)} keys for {len(sends)} sent: app times skipped)",
              flush=True)
        return
    for index, ((at, cpu), (_, run, burst_end, settled)) in enumerate(
            zip(keys, sends, strict=True)):
        if run is None:
            continue
        until = keys[index + 1][0] if index + 1 < len(keys) else float("inf")
        frames = [(t, c) for t, c in paints if at <= t < until and t <= burst_end]
        if not frames:
            continue
        run.app_first_ms.append((frames[0][0] - at) * 1000)
        run.first_cpu_ms.append((frames[0][1] - cpu) * 1000)
        run.app_last_ms.append((frames[-1][0] - at) * 1000)
        run.cpu_ms.append((frames[-1][1] - cpu) * 1000)
        if settled is not None:  # the app's own frame that the pty delivered then
            frame = max((t for t, _ in frames if t <= settled + 0.001), default=frames[0][0])
            run.app_settled_ms.append((frame - at) * 1000)
            # A collection inside this key's time: the pause is the collector's.
            run.gc_ms.append(sum(ms for end, gen, ms in GC_PAUSES
                                 if at < end <= frame + 0.0005))


@dataclass
class Idle:
    name: str
    rates: list[float] = field(default_factory=list)  # bytes per second
    cpu: list[float] = field(default_factory=list)  # cores


def idle_run(argv: list[str], env: dict[str, str], painted: Callable[[list[str]], bool],
             seconds: float, result: Idle) -> None:
    app = PtyApp(argv, env)
    try:
        if app.wait_for(painted, 60) is None:
            print(f"  {result.name}: never painted:\n{app.text()}", flush=True)
            return
        time.sleep(3.0)  # past start-up, the first sync attempt and its toasts
        start, cpu0 = time.monotonic(), app.cpu_s()
        time.sleep(seconds)
        end, cpu1 = time.monotonic(), app.cpu_s()
        result.rates.append(app.bytes_between(start, end) / (end - start))
        result.cpu.append((cpu1 - cpu0) / (end - start))
        app.settle(timeout=1)
        print(f"  {result.name}: {result.rates[-1]:.0f} B/s over {seconds:.0f} s, "
              f"{result.cpu[-1] * 100:.1f}% of a core; screen at the end:\n"
              + "\n".join("    " + line.rstrip() for line in app.screen.display), flush=True)
    finally:
        app.stop()


def idle_phase(ticking: Home, plain: Home, seconds: float) -> list[Idle]:
    ours = Idle("csq, idle queue, every visible clock ticking each second")
    base = Idle("Textual DataTable, 24 clock cells ticking each second")
    calm = Idle("csq, idle queue of the 50,000 fixture items (clocks in hours and days)")
    print(f"  idle ({seconds:.0f} s each): {wait_for_quiet(max_wait=60)}", flush=True)
    idle_run([python(), "-m", "bench.tuiapps", "ticking"], python_env(),
             lambda lines: any("power cut in building 3" in line for line in lines),
             seconds, base)
    idle_run(csq_argv(), ticking.env, rows_shown(10), seconds, ours)
    idle_run(csq_argv(), plain.env, rows_shown(10), seconds, calm)
    return [ours, base, calm]


@dataclass
class Live:
    screen_ms: list[float] = field(default_factory=list)  # write -> on the agent's screen
    stream_ms: list[float] = field(default_factory=list)  # write -> on the 199 SSE streams
    ack_ms: list[float] = field(default_factory=list)
    missed: int = 0
    opened: int = 0
    server_cpu: float = 0.0
    app_cpu: float = 0.0


def live_phase(workdir: Path, changes: int, streams: int, interval: float = 0.3) -> Live:
    result = Live()
    db = f"sqlite+aiosqlite:///{workdir / 'live.db'}"
    names = ["bench-writer", "bench-agent", *[f"bench-listener-{n}" for n in range(8)]]
    tokens = create_users(db, names)
    server = start_server(db, workdir, "live-serve")
    try:
        items = asyncio.run(_seed(server.url, tokens["bench-writer"], 6))
        home = Home(workdir / "live-home", server.url, "bench-agent")
        home.login(tokens["bench-agent"], "Bench Agent")
        specs = [{"url": server.url, "token": tokens[names[2 + n % 8]], "replica": 0}
                 for n in range(streams)]
        print(f"  live: {wait_for_quiet(max_wait=60)}", flush=True)
        with streams_process(specs, workdir) as (proc, opened):
            result.opened = opened
            app = PtyApp(csq_argv(), home.env)
            try:
                if app.wait_for(rows_shown(len(items)), 60) is None:
                    raise RuntimeError(f"csq never showed the items:\n{app.text()}")
                app.settle(quiet=1.0, timeout=20)
                cpu0, srv0, t0 = app.cpu_s(), proc_cpu_s(server.proc.pid), time.monotonic()
                writes = _transitions(app, server.url, tokens["bench-writer"], items, changes,
                                      interval, result)
                wall = time.monotonic() - t0
                result.app_cpu = (app.cpu_s() - cpu0) / wall
                result.server_cpu = (proc_cpu_s(server.proc.pid) - srv0) / wall
            finally:
                app.stop()
            time.sleep(0.5)
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            out = json.loads(proc.stdout.read().strip().splitlines()[-1])
        first: dict[tuple[int, int], float] = {}
        for index, seq, at in out["arrivals"]:
            first.setdefault((index, seq), at)
        for sent, seq in writes:
            for index in range(streams):
                got = [at for (i, s), at in first.items() if i == index and s >= seq]
                if got:
                    result.stream_ms.append((min(got) - sent) * 1000)
    finally:
        server.stop()
    print(f"  live: {len(result.screen_ms)}/{changes} changes seen on the screen, p50 "
          f"{median(result.screen_ms):.0f} / p99 {percentile(result.screen_ms, 99):.0f} ms; "
          f"on {result.opened} SSE streams p50 {median(result.stream_ms):.0f} / p99 "
          f"{percentile(result.stream_ms, 99):.0f} ms; write ack p50 "
          f"{median(result.ack_ms):.0f} ms; csq app {result.app_cpu * 100:.0f}% of a core, "
          f"server {result.server_cpu * 100:.0f}%", flush=True)
    return result


async def _seed(url: str, token: str, count: int) -> list[dict[str, Any]]:
    """`count` tickets claimed by the writer (so it may move them open ⇄ waiting)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as c:
        r = await c.post("/v1/customers", headers={"Idempotency-Key": str(uuid.uuid4())},
                         json={"name": "张伟", "phone": "13812345678"})
        r.raise_for_status()
        customer = r.json()["id"]
        out = []
        for n in range(count):
            r = await c.post("/v1/items", headers={"Idempotency-Key": str(uuid.uuid4())},
                             json={"kind": "ticket", "category": "repair", "channel": "phone",
                                   "subject": f"停电了 power cut #{n}", "body": "请尽快派人检修。",
                                   "customer_id": customer})
            r.raise_for_status()
            item = r.json()
            r = await c.post(f"/v1/items/{item['id']}/actions", json={"action": "claim"},
                             headers={"Idempotency-Key": str(uuid.uuid4()),
                                      "If-Match": f'"{item["version"]}"'})
            r.raise_for_status()
            out.append(r.json()["item"])
        return out


STATUS_SHOWN = {"open": "open", "pending_customer": "wait cust"}


def _transitions(app: PtyApp, url: str, token: str, items: list[dict[str, Any]], count: int,
                 interval: float, result: Live) -> list[tuple[float, int]]:
    """Move the items open ⇄ waiting for the customer, one write at a time, and wait
    for the agent's screen to show each; (sent, seq) of every write."""
    state = {int(i["id"]): (str(i["status"]), int(i["version"])) for i in items}
    ids = sorted(state)
    writes = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        for n in range(count):
            time.sleep(interval)
            item_id = ids[n % len(ids)]
            status, version = state[item_id]
            to = "pending_customer" if status == "open" else "open"
            sent = time.monotonic()
            r = client.post(f"/v1/items/{item_id}/actions",
                            json={"action": "transition", "to": to},
                            headers={"Idempotency-Key": str(uuid.uuid4()),
                                     "If-Match": f'"{version}"'})
            r.raise_for_status()
            result.ack_ms.append((time.monotonic() - sent) * 1000)
            body = r.json()
            state[item_id] = (to, int(body["item"]["version"]))
            writes.append((sent, int(body["seq"])))
            want = STATUS_SHOWN[to]

            def shows(lines: list[str], item_id: int = item_id, want: str = want) -> bool:
                return any(rid == item_id and f" {want} " in line
                           for rid, line in queue_rows(lines))

            at = app.wait_for(shows, 5.0)
            if at is None:
                result.missed += 1
            else:
                result.screen_ms.append((at - sent) * 1000)
    return writes


# -- report -----------------------------------------------------------------------------


def _range(values: list[float], unit: str, digits: int) -> str:
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    if round(lo, digits) == round(hi, digits):
        return f"{lo:.{digits}f} {unit}"
    return f"{lo:.{digits}f}–{hi:.{digits}f} {unit}"


def report(starts: list[Start], keys: list[KeyRun], idle: list[Idle], live: Live | None,
           coldopen: list[dict[str, Any]]) -> str:
    rows: list[Row] = []
    bare, small, big = starts
    if big.seconds:
        best = min(big.seconds)
        rows.append(Row("cold start to a painted queue, 50,000 items (best; all runs)",
                        f"{best:.2f} s; {_range(big.seconds, 's', 2)}",
                        f"{min(bare.seconds):.2f} s bare Textual; {min(small.seconds):.2f} s "
                        "csq with 50 items" if bare.seconds and small.seconds else "",
                        f"{best / min(bare.seconds):.1f}× bare" if bare.seconds else "",
                        "≤ 1 s", verdict(best, TARGET_START_S)))
        rows.append(Row("… child CPU until painted", _range(big.cpu_s, "s", 2),
                        f"{_range(bare.cpu_s, 's', 2)} bare; {_range(small.cpu_s, 's', 2)} "
                        "csq 50"))
        rows.append(Row("… peak RSS (VmHWM)", _range(big.rss_mib, "MiB", 0),
                        f"{_range(bare.rss_mib, 'MiB', 0)} bare; "
                        f"{_range(small.rss_mib, 'MiB', 0)} csq 50", "", "reported"))
    if coldopen:
        rows.append(Row("… of which the cache's own cold open (bench.coldopen)",
                        _range([o["open_s"] for o in coldopen], "s", 2)))
    for run in keys:
        if not run.app_settled_ms:
            continue
        p99 = percentile(run.app_settled_ms, 99)
        rows.append(Row(f"{run.name}: app's own time, key in → the screen as it stays, "
                        "p50 / p99", f"{median(run.app_settled_ms):.1f} / {p99:.1f} ms",
                        "", "", "p99 ≤ 16 ms", verdict(p99, TARGET_KEY_MS)))
        rows.append(Row("… first frame p50 / p99 (its CPU p99); last frame p99",
                        f"{median(run.app_first_ms):.1f} / "
                        f"{percentile(run.app_first_ms, 99):.1f} ms "
                        f"({percentile(run.first_cpu_ms, 99):.1f} ms CPU); "
                        f"{percentile(run.app_last_ms, 99):.1f} ms"))
        rows.append(Row("… app CPU to the last frame, p50 / p99; pty write → burst end, "
                        "p50 / p99",
                        f"{median(run.cpu_ms):.1f} / {percentile(run.cpu_ms, 99):.1f} ms CPU; "
                        f"{median(run.pty_ms):.1f} / {percentile(run.pty_ms, 99):.1f} ms pty"))
    if idle and idle[0].rates:
        ours, base, calm = idle
        rate = max(ours.rates)
        rows.append(Row("idle 80×24 queue, clocks ticking: bytes/s (worst run)",
                        f"{rate:.0f} B/s", f"{max(base.rates):.0f} B/s DataTable"
                        if base.rates else "",
                        f"{rate / max(base.rates):.2f}×" if base.rates else "", "≤ 1 KB/s",
                        verdict(rate, TARGET_IDLE_BPS)))
        rows.append(Row("… CPU while idle", f"{max(ours.cpu) * 100:.1f}% of a core",
                        f"{max(base.cpu) * 100:.1f}%" if base.cpu else ""))
        if calm.rates:
            rows.append(Row("idle queue, fixture clocks (hours, days): bytes/s",
                            f"{max(calm.rates):.0f} B/s", "", "", "≤ 1 KB/s",
                            verdict(max(calm.rates), TARGET_IDLE_BPS)))
    if live is not None:
        p99 = percentile(live.screen_ms, 99)
        rows.append(Row(f"server change → another agent's screen, {live.opened} streams + 1 "
                        "csq, p50 / p99",
                        f"{median(live.screen_ms):.0f} / {p99:.0f} ms",
                        f"{median(live.stream_ms):.0f} / "
                        f"{percentile(live.stream_ms, 99):.0f} ms raw SSE",
                        f"{p99 / percentile(live.stream_ms, 99):.1f}×" if live.stream_ms
                        else "", "p99 ≤ 250 ms", verdict(p99, TARGET_LIVE_MS)))
    return table("csq in a pty (issue 5)", rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench tui", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3, help="cold starts of each app")
    parser.add_argument("--rounds", type=int, default=40, help="rounds of the key script")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle, each app")
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--streams", type=int, default=199)
    parser.add_argument("--only", choices=["start", "keys", "idle", "live"], action="append",
                        help="run only these phases (repeatable)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    phases = set(args.only or ["start", "keys", "idle", "live"])
    print_machine()
    starts: list[Start] = [Start("bare"), Start("small"), Start("big")]
    keys: list[KeyRun] = []
    idle: list[Idle] = []
    live: Live | None = None
    coldopen: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="csq-bench-tui-") as tmp:
        workdir = Path(tmp)
        t0 = time.monotonic()
        homes = {"big": build_home(workdir, "big", args.items),
                 "small": build_home(workdir, "small", 50)}
        print(f"  built the caches ({args.items:,} and 50 items) in "
              f"{time.monotonic() - t0:.0f} s", flush=True)
        if "start" in phases:
            starts = start_phase(homes, args.runs)
            coldopen = cache_open(homes["big"].cache_dir())
        if "keys" in phases:
            keys = key_phase(homes["big"], workdir, args.rounds)
        if "idle" in phases:
            idle = idle_phase(build_home(workdir, "tick", args.items, tick=True),
                              homes["big"], args.idle)
        if "live" in phases:
            live = live_phase(workdir, args.changes, args.streams)
    print()
    print(report(starts, keys, idle, live, coldopen))
    if args.json:
        args.json.write_text(json.dumps({
            "starts": [s.__dict__ for s in starts], "keys": [k.__dict__ for k in keys],
            "idle": [i.__dict__ for i in idle], "live": live.__dict__ if live else None,
            "coldopen": coldopen}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
