"""Where a profile's files live: one directory per server + user, under the
XDG data dir (platformdirs), mode 0700, files 0600."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from csq.store.files import ensure_dir


def data_root() -> Path:
    return Path(platformdirs.user_data_dir("csq", appauthor=False))


def profile_slug(server: str, username: str) -> str:
    """Readable and unique: `alice@127.0.0.1-8765-1a2b3c`."""
    host = re.sub(r"^https?://", "", server.rstrip("/"))
    readable = re.sub(r"[^A-Za-z0-9_.@-]+", "-", f"{username}@{host}")[:60]
    digest = hashlib.sha256(f"{server.rstrip('/')}\n{username}".encode()).hexdigest()[:6]
    return f"{readable}-{digest}"


@dataclass(frozen=True)
class Profile:
    server: str
    username: str
    root: Path

    @classmethod
    def for_user(cls, server: str, username: str, root: Path | None = None) -> Profile:
        base = root or data_root() / "profiles"
        return cls(server.rstrip("/"), username, base / profile_slug(server, username))

    @property
    def outbox_path(self) -> Path:
        return self.root / "outbox.json"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def ensure(self) -> Profile:
        ensure_dir(self.root)
        ensure_dir(self.cache_dir)
        return self

    def purge(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
