"""Server settings: flags, then CSQ_* environment, then a TOML file, then defaults.

A bad value anywhere is refused at start with the key named (see cli.py),
never discovered later as a traceback in a request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from csq.domain.sla import SlaPolicy


def default_db_url() -> str:
    data = Path(platformdirs.user_data_dir("csq", appauthor=False)) / "server"
    return f"sqlite+aiosqlite:///{data / 'csq.db'}"


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSQ_", extra="forbid", validate_default=True)

    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    db: str = Field(default_factory=default_db_url)
    timezone: str = "Asia/Shanghai"
    heartbeat_s: float = Field(15.0, gt=0, le=300)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    policy: dict[str, Any] = Field(default_factory=dict)
    config_file: Path | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("db")
    @classmethod
    def _supported_db(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
        return value

    @field_validator("policy")
    @classmethod
    def _valid_policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        SlaPolicy().with_overrides(value)  # raises naming the unknown key
        return value

    def sla_policy(self) -> SlaPolicy:
        return SlaPolicy().with_overrides({"timezone": self.timezone, **self.policy})

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFromEnv(settings_cls))


class _TomlFromEnv(TomlConfigSettingsSource):
    """Reads the TOML file named by CSQ_CONFIG_FILE (or the init kwarg, via cli)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        import os

        path = os.environ.get("CSQ_SERVER_CONFIG")
        super().__init__(settings_cls, toml_file=Path(path) if path else None)


def load_settings(config_file: Path | None = None, **flags: Any) -> ServerSettings:
    """Build settings; `config_file` is read as the TOML layer under flags and env."""
    import os

    if config_file is not None:
        os.environ["CSQ_SERVER_CONFIG"] = str(config_file)
    clean = {k: v for k, v in flags.items() if v is not None}
    return ServerSettings(**clean)
