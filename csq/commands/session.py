"""What every plain command needs: the login, the profile's files, a client,
and the rule for reading (sync first if the server answers, else the cache,
saying how old it is)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from csq.config import ConfigError, Login, load_login
from csq.domain.engine import Actor
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy
from csq.store import Cache, CacheBusy, OutboxCorrupt, Profile, StoreError, StoreUnwritable
from csq.sync import SyncEngine, SyncError, make_http
from csq.sync.status import ago


class CommandError(Exception):
    """Printed as `csq: …`; `code` is the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def require_login() -> Login:
    try:
        login = load_login()
    except ConfigError as exc:
        raise CommandError(str(exc), 2) from None
    if login is None:
        raise CommandError("not logged in: run `csq login --server URL` first", 2)
    return login


@dataclass
class Session:
    login: Login
    engine: SyncEngine
    online: bool = False
    unwritable: StoreUnwritable | None = None  # why the cache could only be read

    @property
    def cache(self) -> Cache:
        return self.engine.cache


def policy_for(login: Login) -> SlaPolicy:
    return DEFAULT_POLICY.with_overrides({"timezone": login.timezone})


@asynccontextmanager
async def open_session(*, sync: bool = True, timeout: float = 5.0) -> AsyncIterator[Session]:
    """Open the profile; with `sync`, bring the cache up to date if we can."""
    login = require_login()
    profile = Profile.for_user(login.server, login.username)
    actor = Actor(login.username, login.name or login.username, login.role)
    unwritable: StoreUnwritable | None = None
    try:
        profile.ensure()
        profile_cache = Cache(profile.cache_dir)
        try:
            profile_cache.open(write=True, wait=0.5)
        except CacheBusy:
            profile_cache.open(write=False)  # the app is syncing it; read what it wrote
        except StoreUnwritable as exc:
            unwritable = exc  # a read-only data directory: reading still works
            profile_cache.open(write=False)
        engine_http = make_http(login.server, login.token, timeout=timeout)
    except StoreError as exc:
        raise CommandError(str(exc), exit_code(exc)) from None
    engine = SyncEngine(profile, engine_http, actor, policy=policy_for(login),
                        cache=profile_cache)
    for warning in profile_cache.warnings + ([str(unwritable)] if unwritable else []):
        from csq.commands.output import note

        note(f"warning: {warning}")
    session = Session(login, engine, unwritable=unwritable)
    try:
        engine.outbox.check()
    except StoreError as exc:
        await engine_http.aclose()
        profile_cache.close()
        raise CommandError(str(exc), 3) from None
    try:
        if sync and profile_cache.writable:
            try:
                await engine.sync_once()
                session.online = True
            except SyncError as exc:
                _say_offline(session, exc)
        elif sync:
            _say_not_syncing(session)
        yield session
    except StoreError as exc:  # the files said no mid-command: a message, not a traceback
        raise CommandError(str(exc), exit_code(exc)) from None
    finally:
        with contextlib.suppress(Exception):
            await engine_http.aclose()
        profile_cache.close()


def exit_code(exc: StoreError) -> int:
    """3 when the local files need a person (damaged, or not writable), else 1."""
    return 3 if isinstance(exc, OutboxCorrupt | StoreUnwritable) else 1


def _say_not_syncing(session: Session) -> None:
    from csq.commands.output import note

    synced = session.cache.snapshot().synced_at
    note(f"not syncing (the cache is busy or read-only); showing the cache from "
         f"{ago(synced, datetime.now(UTC))}")


def _say_offline(session: Session, exc: SyncError) -> None:
    from csq.commands.output import note
    from csq.sync import Unauthorized

    if isinstance(exc, Unauthorized):
        raise CommandError(str(exc), 1)
    synced = session.cache.snapshot().synced_at
    note(f"offline ({exc}); showing the cache from {ago(synced, datetime.now(UTC))}")
