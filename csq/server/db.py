"""The database engine: SQLite (WAL) by default, PostgreSQL for many replicas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def json_text(value: Any) -> str:
    """JSON columns are written with orjson: several times faster than json.dumps on
    an item's document, and the text is read back by anything that reads JSON."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# For every engine of ours (create_engine / create_async_engine keyword arguments).
JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": orjson.loads}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> str:
    """The file of a SQLite URL; "" for anything else, and for an in-memory database."""
    if not is_sqlite(url) or ":///" not in url:
        return ""
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return "" if path in ("", ":memory:") else path


def sqlite_pragmas(dbapi_conn: Any) -> None:
    """Every SQLite connection of ours, async or not, is set up the same way."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        path = sqlite_path(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **JSON_CODEC)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            sqlite_pragmas(dbapi_conn)

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                               **JSON_CODEC)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


def why_unusable(exc: BaseException) -> str:
    """One line saying why a database could not be opened (refused, missing, no rights)."""
    text = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
    return text.splitlines()[0]
