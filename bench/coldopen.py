"""Child process for the cold-open benchmark: `python -m bench.coldopen csq|tinydb PATH`.

Run in a fresh interpreter so nothing is warm in-process (the files may still
be in the OS page cache). Prints one JSON line: seconds spent opening, records
seen, and this process's peak RSS before and after opening (MiB).

Peak RSS is read from /proc/self/status (VmHWM, the high-water mark of this
process's own memory). `resource.getrusage(RUSAGE_SELF).ru_maxrss` is printed
too, but on Linux it survives fork+exec: a child of a big parent starts with
the parent's figure, so the benchmark does not rely on it.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _rss_mib() -> float:
    """Peak RSS of this process (VmHWM), MiB; ru_maxrss where /proc is missing."""
    try:
        for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _getrusage_mib()


def _getrusage_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    """`csq`: Cache(PATH).open() as it is. `csq-all`: the same, then every item read
    (parsed), as `csq ls` and the app's first screen do. `tinydb`: plain TinyDB on
    one JSON file."""
    which, path = argv[0], Path(argv[1])
    started = time.perf_counter()
    if which in ("csq", "csq-all"):
        from csq.store import Cache

        imported = time.perf_counter()
        rss_before = _rss_mib()
        t0 = time.perf_counter()
        cache = Cache(path).open()  # a reader: loads snapshot.json, replays journal.jsonl
        items = cache.snapshot().items
        # `csq-all` parses every record, as a reader of them all would
        records = len(list(items.values())) if which == "csq-all" else len(items)
        opened = time.perf_counter() - t0
    else:
        from tinydb import TinyDB

        imported = time.perf_counter()
        rss_before = _rss_mib()
        t0 = time.perf_counter()
        db = TinyDB(str(path))  # plain TinyDB: default JSONStorage, reads on first use
        records = len(db.table("items"))  # that first read parses the whole file
        opened = time.perf_counter() - t0
    print(json.dumps({"open_s": opened, "records": records, "import_s": imported - started,
                      "rss_before_mib": rss_before, "rss_peak_mib": _rss_mib(),
                      "ru_maxrss_mib": _getrusage_mib()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
