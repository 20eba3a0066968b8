"""What can go wrong with the local files, each with what to do about it."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Base of the store's errors; `str()` is a message fit for the user."""


class StoreUnwritable(StoreError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}. Check the directory's permissions "
                         "and free space; nothing was lost.")
        self.path = path


class OutboxCorrupt(StoreError):
    """The outbox holds actions not yet on the server: never dropped silently."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"the outbox {path} cannot be read ({reason}). It may hold actions not yet sent. "
            f"Keep a copy of it, repair it by hand (it is JSON), or move it aside to start "
            f"afresh knowing those actions are lost.")
        self.path = path


class CacheCorrupt(StoreError):
    def __init__(self, path: Path, moved_to: Path | None, reason: str) -> None:
        where = f"; moved aside to {moved_to}" if moved_to else ""
        super().__init__(f"the cache {path} was damaged ({reason}){where}. It will be rebuilt "
                         "from the server; your pending actions are untouched.")
        self.path = path
        self.moved_to = moved_to


class CacheOutdated(StoreError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"the cache {path} was written by another version of csq ({reason}). "
                         "It will be rebuilt from the server; your pending actions are "
                         "untouched.")
        self.path = path


class CacheBusy(StoreError):
    def __init__(self, path: Path, seconds: float) -> None:
        super().__init__(f"another csq is writing the cache {path} (waited {seconds:.0f} s). "
                         "It will finish its sync; try again in a moment.")
        self.path = path
