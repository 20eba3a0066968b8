"""Shared helpers for the benchmarks: machine facts, percentiles, tables.

Benchmarks report; they never assert. A slow or shared machine gives slower
figures, not a failure.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, str]:
    """nproc, RAM, Python and kernel: printed at the top of every run."""
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    facts = {
        "nproc": str(os.cpu_count()),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load (1/5/15 min)": load,
    }
    pressure = cpu_pressure()
    if pressure is not None:
        facts["cpu pressure (avg10)"] = f"{pressure:.0f}%"
    return facts


def cpu_pressure() -> float | None:
    """Share of the last 10 s in which some runnable task waited for a CPU (Linux
    PSI): near 0 on an idle machine, high when others compete for the cores."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    for part in first.split():
        if part.startswith("avg10="):
            return float(part[6:])
    return None


def wait_for_quiet(threshold: float = 30.0, max_wait: float = 90.0) -> str:
    """Wait (at most `max_wait` s) for CPU pressure from other processes to drop
    under `threshold` %; returns what was seen, for the report. Never fails."""
    start = time.monotonic()
    seen = cpu_pressure()
    while seen is not None and seen > threshold and time.monotonic() - start < max_wait:
        time.sleep(5)
        seen = cpu_pressure()
    waited = time.monotonic() - start
    if seen is None:
        return "cpu pressure unknown"
    return f"cpu pressure {seen:.0f}% (waited {waited:.0f} s for < {threshold:.0f}%)"


def print_machine() -> None:
    facts = machine()
    print("machine: " + " · ".join(f"{k} {v}" for k, v in facts.items()), flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> float:
    return seconds * 1000.0


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def python_env() -> dict[str, str]:
    """The environment for child processes: csq and bench importable, unbuffered,
    and no CSQ_* setting leaking in from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSQ_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def python() -> str:
    return sys.executable


@dataclass
class Row:
    """One line of a results table: what was measured, ours, the baseline, the target."""

    what: str
    ours: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def table(title: str, rows: Sequence[Row]) -> str:
    head = Row("measure", "csq", "baseline", "ratio", "target", "")
    cells = [head, *rows]
    cols = ["what", "ours", "baseline", "ratio", "target", "verdict"]
    widths = {c: max(len(getattr(r, c)) for r in cells) for c in cols}
    lines = [title, "-" * len(title)]
    for index, r in enumerate(cells):
        lines.append("  ".join(getattr(r, c).ljust(widths[c]) for c in cols).rstrip())
        if index == 0:
            lines.append("  ".join("-" * widths[c] for c in cols))
    return "\n".join(lines)


def verdict(value: float, limit: float, *, lower_is_better: bool = True) -> str:
    """'met' or 'missed by X%' against a target; never an assertion."""
    if value != value:  # nan
        return "n/a"
    ok = value <= limit if lower_is_better else value >= limit
    if ok:
        return "met"
    gap = (value / limit - 1) if lower_is_better else (1 - value / limit)
    return f"MISSED by {gap * 100:.0f}%"


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds`."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.start
