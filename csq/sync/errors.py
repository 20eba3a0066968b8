"""The sync layer's errors, each with a message fit for the user."""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base: something stopped a talk with the server."""


class Unreachable(SyncError):
    """No answer (network down, server stopped, timeout): try again later."""


class BadResponse(SyncError):
    """The server answered something that is not the csq API (HTML, garbage)."""


class Unauthorized(SyncError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"the server refused the token ({detail or '401'}); "
                         "run `csq login` again")


class Refused(SyncError):
    """The server said no (4xx problem+json); `problem` says why."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or f"HTTP {status}"
        super().__init__(str(detail))

    @property
    def type(self) -> str:
        return str(self.problem.get("type", "")).rsplit(":", 1)[-1]


class Stale(Refused):
    """412: someone changed the item first. `current` is the server's version."""

    @property
    def current(self) -> dict[str, Any] | None:
        current = self.problem.get("current")
        return current if isinstance(current, dict) else None
