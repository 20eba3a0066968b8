"""What-if experiments: `csq` with one change patched in at run time, to measure
a suggested fix before anyone writes it. Not csq's code, never used by csq.

    python -m bench.whatif write-lock serve --port 0 --db URL

`write-lock`: every write transaction of this process waits on one asyncio.Lock
first, so SQLite writers queue in the event loop instead of spinning in
SQLite's busy handler (which sleeps up to 100 ms between retries).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from csq.server import service

_LOCK: asyncio.Lock | None = None


def _patch_write_lock() -> None:
    original = service.Service.write

    async def write(self: service.Service, req: service.Request,
                    work: service.Work) -> tuple[int, dict[str, Any]]:
        global _LOCK
        if _LOCK is None:
            _LOCK = asyncio.Lock()
        async with _LOCK:
            return await original(self, req, work)

    service.Service.write = write  # type: ignore[method-assign]


PATCHES = {"write-lock": _patch_write_lock}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in PATCHES:
        print(f"usage: python -m bench.whatif {{{','.join(PATCHES)}}} CSQ-ARGS...",
              file=sys.stderr)
        return 2
    PATCHES[argv[0]]()
    from csq.cli import main as csq_main

    return csq_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
