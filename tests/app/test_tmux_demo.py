"""`csq demo` in a real terminal (tmux, 80×24): what a user sees, by keys alone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.process,
              pytest.mark.skipif(shutil.which("tmux") is None,
                                 reason="tmux is not installed (make system-deps)")]


class Tmux:
    def __init__(self, session: str, socket: Path) -> None:
        self.session = session
        self.base = ["tmux", "-S", str(socket)]

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True,
                              check=False).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def wait_for(self, check: Callable[[str], bool], timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"the screen never showed what we waited for:\n{screen}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    socket = tmp_path / "tmux.sock"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "TERM": "xterm-256color",
           "LANG": "C.UTF-8"}
    env.pop("NO_COLOR", None)
    script = tmp_path / "run.sh"
    script.write_text(f"#!/bin/sh\ncd {Path.cwd()}\n{sys.executable} -m csq --lang en demo "
                      f"--simulate 0.5\necho EXIT=$?\nsleep 60\n")
    script.chmod(0o755)
    subprocess.run(["tmux", "-S", str(socket), "new-session", "-d", "-s", "demo", "-x", "80",
                    "-y", "24", str(script)], env=env, check=True)
    t = Tmux("demo", socket)
    try:
        yield t
    finally:
        t.run("kill-server")


def test_demo_in_a_real_terminal_shows_the_queue_and_a_claim_reaches_the_server(
        tmux: Tmux) -> None:
    # A queue row: SLA clock (7 cells), mark (2), id, kind.
    screen = tmux.wait_for(lambda s: "live" in s and re.search(
        r"^.{7} .{2}\s+\d{4} (TKT|CMP|CB) ", s, re.M))
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert "All" in lines[0] and "Unassigned" in lines[0]
    assert "Claim" in lines[-1] and "Quit" in lines[-1]

    tmux.keys("/", "owner:none", "Enter")  # filter to the unclaimed
    tmux.wait_for(lambda s: "owner:none" in s)
    time.sleep(1.0)  # let the filtered rows replace the full queue
    tmux.keys("Enter")
    detail = tmux.wait_for(lambda s: "owner: -" in s)
    assert "first owner" in detail
    tmux.keys("c")
    claimed = tmux.wait_for(lambda s: re.search(r"owner: \w+", s) is not None
                            and "owner: -" not in s and "pending" not in s.splitlines()[-2])
    assert "live" in claimed.splitlines()[-2]

    tmux.keys("Escape")  # alone: ESC followed at once by q reads as Alt+Q
    tmux.wait_for(lambda s: "Unassigned" in s.splitlines()[0])
    tmux.keys("q")
    tmux.wait_for(lambda s: "EXIT=0" in s, timeout=30)
