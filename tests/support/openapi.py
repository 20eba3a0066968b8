"""The server's own OpenAPI schema, for tests that must cover every route.

Read from a freshly built app (no database is opened), so a route added later
is tested without anyone editing a list.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MUTATING = ("POST", "PUT", "PATCH", "DELETE")


@functools.cache
def schema() -> dict[str, Any]:
    from csq.server.app import create_app
    from csq.server.config import ServerSettings

    return create_app(ServerSettings(db="sqlite+aiosqlite:///:memory:")).openapi()


def operations(*methods: str) -> list[tuple[str, str]]:
    """(METHOD, path template) of every documented operation, in schema order."""
    wanted = {m.upper() for m in methods}
    return [(method.upper(), path) for path, ops in schema()["paths"].items()
            for method in ops if not wanted or method.upper() in wanted]


def fill(path: str, values: dict[str, Any]) -> str:
    """The path template with its {params} replaced; unknown ones become 1."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 1)), path)


def ids(ops: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {path}" for method, path in ops]
