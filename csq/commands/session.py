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
from csq.store import Cache, CacheBusy, Profile, StoreError
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
    try:
        profile.ensure()
        profile_cache = Cache(profile.cache_dir)
        try:
            profile_cache.open(write=True, wait=0.5)
        except CacheBusy:
            profile_cache.open(write=False)  # the app is syncing it; read what it wrote
        engine_http = make_http(login.server, login.token, timeout=timeout)
    except StoreError as exc:
        raise CommandError(str(exc), 3 if "outbox" in str(exc) else 1) from None
    engine = SyncEngine(profile, engine_http, actor, policy=policy_for(login),
                        cache=profile_cache)
    for warning in profile_cache.warnings:
        from csq.commands.output import note

        note(f"warning: {warning}")
    session = Session(login, engine)
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
            session.online = False
        yield session
    finally:
        with contextlib.suppress(Exception):
            await engine_http.aclose()
        profile_cache.close()


def _say_offline(session: Session, exc: SyncError) -> None:
    from csq.commands.output import note
    from csq.sync import Unauthorized

    if isinstance(exc, Unauthorized):
        raise CommandError(str(exc), 1)
    synced = session.cache.snapshot().synced_at
    note(f"offline ({exc}); showing the cache from {ago(synced, datetime.now(UTC))}")
