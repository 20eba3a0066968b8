"""`python -m bench` runs every benchmark; `python -m bench NAME [OPTIONS]` one
(store, micro, server, tui, filter, wall)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


def _store(argv: list[str]) -> int:
    from bench import store

    return store.main(argv)


def _server(argv: list[str]) -> int:
    from bench import server

    return server.main(argv)


def _micro(argv: list[str]) -> int:
    from bench import micro

    return micro.main(argv)


def _filter(argv: list[str]) -> int:
    from bench import filter as filter_bench

    return filter_bench.main(argv)


def _wall(argv: list[str]) -> int:
    from bench import wall

    return wall.main(argv)


def _tui(argv: list[str]) -> int:
    from bench import tui

    return tui.main(argv)


BENCHES: dict[str, Callable[[list[str]], int]] = {
    "store": _store, "micro": _micro, "server": _server, "tui": _tui,
    "filter": _filter, "wall": _wall}


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (from `timeout`, say) unwinds normally, so that the servers and the
    PostgreSQL cluster this run started are stopped by their `finally` blocks."""
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks: " + ", ".join(BENCHES) + "; each takes --help")
        return 0
    if argv and argv[0] in BENCHES:
        return BENCHES[argv[0]](argv[1:])
    if argv:
        print(f"unknown benchmark {argv[0]!r}; choose from {', '.join(BENCHES)}",
              file=sys.stderr)
        return 2
    code = 0
    for name, bench in BENCHES.items():
        print(f"\n=== {name} ===", flush=True)
        code |= bench([])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
