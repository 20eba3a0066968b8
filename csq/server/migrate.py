"""Schema upgrades, run by `csq serve` on start (and by tests on a fresh DB).

On PostgreSQL an advisory lock makes replicas that start together upgrade one
at a time instead of racing to create the same tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_LOCK_ID = 0x6373_7100  # "csq\0"


def _config(connection: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_ID})
            await conn.commit()
        try:
            await conn.run_sync(lambda sync_conn: command.upgrade(_config(sync_conn), "head"))
            await conn.commit()
        finally:
            if postgres:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_ID})
                await conn.commit()
