"""The client's own settings, in the XDG config dir (platformdirs):

    login.toml   the server, user and token of the current login (mode 0600)
    config.toml  the app's settings: language, key remaps, extra tabs

A bad file is a clear message naming the file and the key, never a traceback.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import platformdirs
import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError

from csq.domain.roles import Role
from csq.store.files import ensure_dir, write_atomic


class ConfigError(Exception):
    """A config file that cannot be used; the message names file and key."""


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir("csq", appauthor=False))


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    server: str
    username: str
    name: str = ""
    role: Role = Role.AGENT
    token: str
    timezone: str = "Asia/Shanghai"


def login_path() -> Path:
    return config_dir() / "login.toml"


def read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load_login() -> Login | None:
    path = login_path()
    try:
        data = read_toml(path)
    except FileNotFoundError:
        return None
    try:
        return Login.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "?"
        raise ConfigError(f"{path}: key {key!r}: {first['msg']}; run `csq login` again") from None


def save_login(login: Login) -> Path:
    path = login_path()
    ensure_dir(path.parent)
    write_atomic(path, tomli_w.dumps(login.model_dump(mode="json")).encode())
    os.chmod(path, 0o600)
    return path


def forget_login() -> bool:
    try:
        login_path().unlink()
    except FileNotFoundError:
        return False
    return True


class TabConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    query: str


class UiConfig(BaseModel):
    """config.toml. Every binding has an id; `[keys]` maps ids to keys, e.g.
    `claim = "c,ctrl+k"`. `[[tabs]]` adds saved filters as tabs."""

    model_config = ConfigDict(extra="forbid")
    lang: str | None = None
    keys: dict[str, str] = {}
    tabs: list[TabConfig] = []


def ui_config_path() -> Path:
    return config_dir() / "config.toml"


def load_ui_config(path: Path | None = None) -> UiConfig:
    path = path or ui_config_path()
    try:
        data = read_toml(path)
    except FileNotFoundError:
        return UiConfig()
    try:
        config = UiConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "?"
        raise ConfigError(f"{path}: key {key!r}: {first['msg']}") from None
    if config.lang not in (None, "en", "zh"):
        raise ConfigError(f"{path}: key 'lang': use \"en\" or \"zh\", not {config.lang!r}")
    for tab in config.tabs:
        from csq.state.filter import FilterError, parse_filter

        try:
            parse_filter(tab.query)
        except FilterError as exc:
            raise ConfigError(f"{path}: tab {tab.id!r} query: {exc}") from None
    return config
