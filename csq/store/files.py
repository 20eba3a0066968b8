"""Durable file writes: the primitives both stores share.

`write_atomic` is temp file + fsync + rename + directory fsync, so a reader
sees the old file or the new one, never half of one, even across a crash.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from csq.store.errors import StoreUnwritable

FILE_MODE = 0o600
DIR_MODE = 0o700


def ensure_dir(path: Path) -> Path:
    """Create `path` and every missing parent with mode 0700, as the XDG base
    directory spec asks (`mkdir(parents=True)` would give the parents 0755)."""
    missing = []
    step = path
    while not step.is_dir() and step != step.parent:
        missing.append(step)
        step = step.parent
    try:
        for directory in reversed(missing):
            directory.mkdir(mode=DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise StoreUnwritable(path, exc.strerror or str(exc)) from None
    return path


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StoreUnwritable(path, exc.strerror or str(exc)) from None
    fsync_dir(path.parent)


def append_durable(path: Path, data: bytes, *, sync: bool = True) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreUnwritable(path, exc.strerror or str(exc)) from None


def truncate(path: Path, size: int) -> None:
    """Cut a file back to `size` bytes, durably (a torn tail left by a crash)."""
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreUnwritable(path, exc.strerror or str(exc)) from None
