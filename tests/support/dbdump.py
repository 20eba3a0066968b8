"""A whole-database snapshot, to prove that a request changed nothing.

`dump(engine)` reads every table the database has (found by reflection, so a
table added later is covered without touching this file), every row, every
column, including the seq counter, the id counters, the audit events, tokens
and idempotency records. Two dumps compare with `==`; `describe_diff` says
which rows differ, for an assertion message.

    before = await dump(api.app.state.engine)
    ...  # the request that must not write
    assert_unchanged(before, await dump(api.app.state.engine))
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable
from typing import Any

from sqlalchemy import MetaData, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.schema import Table

Row = dict[str, Any]
_TABLES: weakref.WeakKeyDictionary[Any, list[Table]] = weakref.WeakKeyDictionary()
Dump = dict[str, list[Row]]


def _reflect(sync_conn: Any) -> list[Table]:
    names = inspect(sync_conn).get_table_names()
    meta = MetaData()
    meta.reflect(sync_conn, only=names)
    return [meta.tables[name] for name in sorted(names)]


def _canonical(row: Row) -> str:
    return json.dumps(row, sort_keys=True, default=str, ensure_ascii=False)


async def dump(engine: AsyncEngine, *, exclude: Iterable[str] = ()) -> Dump:
    """Every row of every table (minus `exclude`), in a stable order."""
    skip = set(exclude)
    out: Dump = {}
    async with engine.connect() as conn:
        tables = _TABLES.get(engine.sync_engine)
        if not tables:  # reflected once per engine: the tables are made at start-up
            tables = _TABLES[engine.sync_engine] = await conn.run_sync(_reflect)
        for table in tables:
            if table.name in skip:
                continue
            rows = [dict(r._mapping) for r in (await conn.execute(select(table))).all()]
            # JSON columns come back as dicts on both dialects; order by content so
            # that the same rows compare equal however the database returns them.
            out[table.name] = sorted(rows, key=_canonical)
    return out


def describe_diff(before: Dump, after: Dump, *, limit: int = 10) -> str:
    """What changed, table by table: rows only before (-) and only after (+)."""
    lines: list[str] = []
    for name in sorted(set(before) | set(after)):
        old = {_canonical(r) for r in before.get(name, [])}
        new = {_canonical(r) for r in after.get(name, [])}
        if old == new and len(before.get(name, [])) == len(after.get(name, [])):
            continue
        lines.append(f"table {name}:")
        lines += [f"  - {r[:300]}" for r in sorted(old - new)[:limit]]
        lines += [f"  + {r[:300]}" for r in sorted(new - old)[:limit]]
        if old == new:
            lines.append("  (same rows, different multiplicity)")
    return "\n".join(lines) or "(no difference)"


def assert_unchanged(before: Dump, after: Dump, context: str = "") -> None:
    if before != after:
        where = f" after {context}" if context else ""
        raise AssertionError(f"the database changed{where}:\n{describe_diff(before, after)}")


def tables_changed(before: Dump, after: Dump) -> set[str]:
    return {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
