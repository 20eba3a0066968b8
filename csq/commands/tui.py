"""`csq` with no command: the full-screen app on the logged-in profile,
opening from the cache at once and syncing in the background."""

from __future__ import annotations

import argparse

from csq.commands.session import CommandError, require_login
from csq.config import ConfigError, load_ui_config


def run_app(args: argparse.Namespace) -> int:
    login = require_login()
    try:
        ui = load_ui_config()
    except ConfigError as exc:
        raise CommandError(str(exc), 2) from None
    return open_app(login, ui, getattr(args, "lang", None), wall=getattr(args, "wall", None))


def register(sub: argparse._SubParsersAction) -> None:
    wall = sub.add_parser("wall", help="the live monitoring wall (read-only for supervisors)")
    wall.set_defaults(run=run_app, wall=True)
    register_config(sub)


def open_app(login: object, ui: object, lang: str | None, *, wall: bool | None = None) -> int:
    from csq.app import CsqApp
    from csq.config import Login, UiConfig
    from csq.i18n import detect
    from csq.sync import make_http

    assert isinstance(login, Login) and isinstance(ui, UiConfig)
    app = CsqApp(login, make_http(login.server, login.token), ui,
                 lang=detect(lang or ui.lang), wall=wall)
    code = app.run()
    return int(code or 0)


def register_config(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="where csq keeps its settings, and checking them")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_sub.add_parser("path", help="print the config file's path").set_defaults(
        run=run_config_path)
    config_sub.add_parser("check", help="read config.toml and say what is wrong").set_defaults(
        run=run_config_check)


def run_config_path(args: argparse.Namespace) -> int:
    from csq.config import ui_config_path

    print(ui_config_path())
    return 0


def run_config_check(args: argparse.Namespace) -> int:
    from csq.config import ui_config_path

    try:
        load_ui_config()
    except ConfigError as exc:
        raise CommandError(str(exc), 2) from None
    print(f"{ui_config_path()}: ok")
    return 0
