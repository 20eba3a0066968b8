"""Promise 4: customer text cannot drive the terminal.

Text full of ESC, CSI, OSC (window title, clipboard write, hyperlink), BEL,
backspace, carriage return and C1 controls goes in through the API as a
customer's name, an item's subject and body, and a note. Then the real app
runs in a real pseudo-terminal (80x24, TERM=xterm-256color) against a real
`csq serve`: it shows the queue, opens the hostile item, goes back and quits,
and every byte it wrote to the terminal is checked. Textual writes escape
sequences of its own, so the test looks for the injected payloads themselves,
and for their harmless caret forms (`^[`) on the screen.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.process import ROOT, add_user, csq, environ, serving

pytestmark = pytest.mark.process

TITLE = "\x1b]0;pwned\x07"  # OSC 0: set the window title
CLIPBOARD = "\x1b]52;c;cHduZWQ=\x07"  # OSC 52: write "pwned" to the clipboard
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
CLEAR_RED = "\x1b[2J\x1b[31m"  # CSI: clear the screen, then red
C1_CSI = "\x9b2J"  # the 8-bit CSI: clears the screen on a terminal that honours C1
SUBJECT = f"Refund{CLEAR_RED} RED{TITLE}{CLIPBOARD} done"
NAME = "Mallory\x1b[5m\x1b[?1049l 恶意"  # blink, and leave the alternate screen
BODY = f"line one\r\noverwrite\rXX\x08\x08 bell\x07\x07 c1:{C1_CSI}\n{LINK}\x1bc"
NOTE = f"pasted:{TITLE}{CLIPBOARD}\x1b[H\x1b[J\x07end"

# What must never reach the terminal, as bytes (UTF-8, as the app writes them).
FORBIDDEN = {
    "OSC 0 title": b"\x1b]0;pwned",
    "OSC 52 clipboard": b"\x1b]52;c;cHduZWQ=",
    "OSC 8 link": b"\x1b]8;;http://evil.example",
    "CSI clear then red": CLEAR_RED.encode(),
    "CSI blink": b"\x1b[5m",
    "leave the alternate screen": "\x1b[?1049l 恶意".encode(),
    "RIS reset": b"\x1bc",
    "CSI home + erase": b"\x1b[H\x1b[J\x07end",
    "backspace": b"\x08",
    "carriage return in text": b"overwrite\rXX",
    "BEL in text": b"bell\x07",
    "BEL after the title": b"pwned\x07",
}
C1_IN_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")  # U+0080..U+009F: C1 controls, 8-bit form


class Pty:
    """`python -m csq` on the slave side of a pty; every byte it writes is kept."""

    def __init__(self, args: list[str], env: dict[str, str], size: tuple[int, int]) -> None:
        self.master, slave = os.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "csq", *args], stdin=slave, stdout=slave, stderr=slave,
            env=env, cwd=ROOT, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))  # a controlling tty
        os.close(slave)
        self.out = bytearray()

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.1))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the child has closed the terminal
                    return
                if not chunk:
                    return
                self.out += chunk

    def wait_for(self, check: Callable[[bytes], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not check(bytes(self.out)):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                tail = bytes(self.out[-2000:]).decode("utf-8", "replace")
                raise AssertionError(f"never saw {what}; exit={self.proc.poll()}; tail:\n{tail!r}")
            self.read(0.2)

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)


def _post(http: httpx.Client, path: str, body: dict[str, Any],
          version: int | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    r = http.post(path, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def test_customer_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'server.db'}"
    env = environ(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
                  XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_STATE_HOME=str(tmp_path / "state"),
                  TERM="xterm-256color", LANG="C.UTF-8", COLUMNS="80", LINES="24")
    for name in ("NO_COLOR", "TEXTUAL", "TEXTUAL_DRIVER", "CSQ_LANG"):
        env.pop(name, None)
    with serving("--port", "0", "--db", db, tmp=tmp_path / "server", env=env) as server:
        token = add_user(db, "alice", "agent")
        with httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as http:
            customer = _post(http, "/v1/customers", {"name": NAME, "phone": "13812345678"})
            item = _post(http, "/v1/items", {
                "kind": "ticket", "category": "request", "channel": "email",
                "customer_id": customer["id"], "subject": SUBJECT, "body": BODY})
            _post(http, f"/v1/items/{item['id']}/actions", {"action": "note", "body": NOTE},
                  version=item["version"])
            stored = http.get(f"/v1/items/{item['id']}").json()
            assert stored["subject"] == SUBJECT  # the server keeps it as sent: the app neutralises
        login = csq("login", "--server", server.url, "--token", token, env=env)
        assert login.returncode == 0, login.stderr

        term = Pty(["--lang", "en"], env, (80, 24))
        try:
            term.wait_for(lambda out: b"Refund" in out and b"live" in out, "the queue, live")
            term.send("\r")  # open the (only) item
            term.wait_for(lambda out: b"Timeline" in out and b"pasted:" in out, "the detail")
            term.read(1.5)  # clocks tick; let anything that would leak, leak
            term.send("q")  # back to the queue (q is back on the detail screen)
            term.read(0.5)
            term.send("q")  # quit
            deadline = time.monotonic() + 15
            while term.proc.poll() is None and time.monotonic() < deadline:
                term.read(0.2)
            term.read(0.3)
            assert term.proc.poll() == 0, bytes(term.out[-1500:]).decode("utf-8", "replace")
        finally:
            term.close()

    out = bytes(term.out)
    leaked = [what for what, payload in FORBIDDEN.items() if payload in out]
    assert not leaked, f"customer text reached the terminal as control sequences: {leaked}"
    assert not C1_IN_UTF8.search(out), "a C1 control was written"
    # What the agent sees instead: each control as its harmless caret form.
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", out).decode("utf-8", "replace")
    for shown in ("Refund^[[2J^[[31m RED^[]0;pwned^G", "^[]52;c;cHduZWQ=^G done",
                  "Mallory^[[5m^[[?1049l", "bell^G^G", "pasted:^[]0;pwned^G"):
        assert shown in text, f"{shown!r} is not on the screen"
