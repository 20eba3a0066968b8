"""Promise 6 at the command line: a bad argument, a missing or broken login is
a usage message and exit code 2, never a traceback, and nothing is queued."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import clean
from tests.support.client import CsqEnv

pytestmark = pytest.mark.process

DEAD = "http://127.0.0.1:9"  # nothing listens there: usage errors must not need a server

USAGE = {  # arguments -> what the message must say
    ("do", "abc", "claim"): "invalid int value: 'abc'",
    ("do", "1", "transition"): "to: Field required",
    ("ls", "--limit", "-1"): "--limit must be ≥ 0",
    ("do", "1", "complete_callback", "satisfaction=x"): "satisfaction must be a whole number",
    ("do", "1", "fly"): "invalid choice: 'fly'",
    ("do", "1", "note"): "body: Field required",
    ("do", "1", "note", "one", "two"): "unexpected argument 'two'",
    ("do", "1", "note", "body="): "body: String should have at least 1 character",
    ("do", "1", "promise", "at=someday"): "someday",
    ("do", "1", "claim", "color=red"): "color: Extra inputs are not permitted",
    ("show", "x"): "invalid int value: 'x'",
    ("ls", "--kind", "parcel"): "invalid choice: 'parcel'",
    ("conflicts", "--reapply", "nope"): "no single conflicted or failed action matches",
    ("conflicts", "--reapply", "a", "--discard", "b"): "not allowed with argument",
    ("login", "--server", "ftp://example.com", "--token", "t"): "must start with http://",
    ("login", "--server", DEAD): "no token: pass --token, set CSQ_TOKEN",
    ("frobnicate",): "invalid choice: 'frobnicate'",
    ("demo", "--lang", "fr"): "invalid choice: 'fr'",
}


def test_bad_arguments_are_usage_errors_with_exit_2(tmp_path: Path) -> None:
    alice = CsqEnv(tmp_path / "alice")
    alice.write_login(DEAD, "alice", "token")
    runs = alice.run_many(*[list(args) for args in USAGE])
    for run, expected in zip(runs, USAGE.values(), strict=True):
        clean(run, rc=2)
        assert expected in run.err, str(run)
    assert not (alice.profile(DEAD, "alice").outbox_path).exists()  # nothing was queued
    real = clean(alice.run("do", "abc", "claim"), rc=2)  # the real entry point, too
    assert real.err.startswith("usage: csq do")


def test_not_logged_in_or_a_broken_login_file_is_exit_2_naming_the_file(
        tmp_path: Path) -> None:
    nobody = CsqEnv(tmp_path / "nobody")
    for run in nobody.run_many(["ls"], ["do", "1", "claim"], ["sync"], ["status"],
                               ["conflicts"]):
        assert "not logged in: run `csq login --server URL` first" in clean(run, rc=2).err
    logout = clean(nobody.run_many(["logout"])[0])
    assert "not logged in" in logout.err

    broken = CsqEnv(tmp_path / "broken")
    broken.login_path.parent.mkdir(parents=True)
    for content, expected in ((b"server = \x00[[", "is not valid TOML"),
                              (b'server = "http://x"\nusername = 7\ntoken = "t"\n',
                               "key 'username'")):
        broken.login_path.write_bytes(content)
        for run in broken.run_many(["ls"], ["do", "1", "claim"], ["logout"]):
            clean(run, rc=2)
            assert str(broken.login_path) in run.err and expected in run.err, str(run)


def test_the_language_option_goes_before_or_after_the_command() -> None:
    from csq.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["demo", "--lang", "zh"]).lang == "zh"
    assert parser.parse_args(["--lang", "zh", "demo"]).lang == "zh"
    assert parser.parse_args(["--lang", "zh", "ls", "--lang", "en"]).lang == "en"
    assert parser.parse_args(["wall"]).lang is None  # config file, then LANG, decide
