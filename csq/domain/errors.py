"""Domain refusals. Each maps once, in the server, to a problem+json type."""

from __future__ import annotations

from collections.abc import Iterable


class DomainError(Exception):
    """A rule said no. `type` is the stable problem type suffix."""

    type = "invalid-action"
    status = 422

    def __init__(self, detail: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class IllegalTransition(DomainError):
    type = "illegal-transition"

    def __init__(self, kind: str, src: str, dst: str, allowed: Iterable[str]) -> None:
        allowed_list = sorted(allowed)
        super().__init__(
            f"a {kind} cannot go from {src} to {dst}; allowed: {', '.join(allowed_list) or 'none'}",
            field="to", allowed=allowed_list, current=src,
        )


class Forbidden(DomainError):
    type = "forbidden"
    status = 403


class NotOwner(DomainError):
    type = "not-owner"
    status = 403


class AlreadyOwned(DomainError):
    type = "already-owned"
    status = 409


class QuietHours(DomainError):
    type = "quiet-hours"


class CallbackRequired(DomainError):
    type = "callback-required"
