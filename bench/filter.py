"""What a `/` filter costs the queue itself, without the terminal around it.

    python -m bench filter [--items 50000] [--repeat 7]

Two QueueStates hold the same fixture items: one with its search index built
(`build_index`: the ordered rows and the columns a filter tests in C), the
baseline without it (every row tested in Python, as before the index). Each
figure is the best and the median of `--repeat` runs with the collector off,
in milliseconds of this process:

* a filter over the whole queue (nothing kept to narrow from);
* the bench tui keystrokes (p, o, w, e, r, then backspace x5), with results kept;
* mending the kept results when three rows change (a deadline passing);
* the index build: its steps (the longest is what a key may wait) and total.

The app adds its frame on top (~3-5 ms at 80x24): `bench tui` measures that.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench import fixtures
from bench.common import Row, print_machine, table, wait_for_quiet
from csq.domain.sla import DEFAULT_POLICY
from csq.state.filter import parse_filter
from csq.state.queue import QueueState

WHOLE = ["p", "po", "power", "o", "停电", "zzzz", "kind:complaint", "owner:me 停",
         "pri:P1 po", "tag:vip"]
TYPED = ["p", "po", "pow", "powe", "power", "powe", "pow", "po", "p", ""]


def _queue(items: int, indexed: bool) -> QueueState:
    q = QueueState("alice", DEFAULT_POLICY)
    now = datetime.now(UTC)
    q.load(fixtures.items(items), fixtures.customers(min(5000, items)), now)
    if indexed:
        for _ in q.build_index():
            pass
    else:  # the same search text, made as the app makes it ahead (not timed)
        for row in q.rows.values():
            q._fields["hay"](row)
    return q


def _times(run: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _show(q: QueueState, text: str, now: datetime) -> int:
    """What the screen does for one keystroke: a kept view, or a walk to the end."""
    flt = parse_filter(text)
    kept = q.known_view("all", flt, now)
    if kept is not None:
        return len(kept)
    rows = [r for r in q.iter_view("all", flt, now) if r is not None]
    return len(q.finish_view("all", flt, now, rows))


def _whole(q: QueueState, text: str, now: datetime) -> Callable[[], int]:
    def run() -> int:
        q._results.clear()  # nothing to narrow from
        return _show(q, text, now)
    return run


def _typed(q: QueueState, now: datetime) -> list[float]:
    """Per key of TYPED, the worst over the repeats (the first round walks)."""
    q._results.clear()
    per_key = [0.0] * len(TYPED)
    for _ in range(3):
        for index, text in enumerate(TYPED):
            started = time.perf_counter()
            _show(q, text, now)
            per_key[index] = max(per_key[index], (time.perf_counter() - started) * 1000)
    return per_key


def _mend(q: QueueState, now: datetime) -> Callable[[], None]:
    """Three rows change (a deadline passes for each) with 8 results kept."""
    for text in TYPED[:5] + ["停电", "kind:complaint", "owner:me"]:
        _show(q, text, now)
    ids = list(q.rows)[:3]

    def run() -> None:
        docs = []
        for item_id in ids:
            row = q.rows[item_id]
            due = (now - timedelta(minutes=5)) if row.due_at and row.due_at > now \
                else now + timedelta(hours=1)
            docs.append({"id": row.id, "kind": row.kind, "status": row.status,
                         "customer_id": row.customer_id, "subject": row.subject,
                         "priority": row.priority, "owner": row.owner,
                         "created_at": row.created_at.isoformat(),
                         "sla_start": row.sla_start.isoformat(), "due_at": due.isoformat()})
        q.upsert(docs)
    return run


def _fmt(values: list[float]) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} ms"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench filter", description=__doc__)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    print_machine()
    print(f"  {wait_for_quiet()}", flush=True)
    now = datetime.now(UTC)
    started = time.perf_counter()
    indexed, plain = _queue(args.items, True), _queue(args.items, False)
    print(f"  two queues of {args.items:,} items in {time.perf_counter() - started:.1f} s",
          flush=True)

    build = QueueState("alice", DEFAULT_POLICY)
    build.load(fixtures.items(args.items), fixtures.customers(min(5000, args.items)), now)
    steps, last = [], time.perf_counter()
    for _ in build.build_index():
        steps.append((time.perf_counter() - last) * 1000)
        last = time.perf_counter()

    gc.disable()
    rows: list[Row] = [Row("index build: steps; longest step; total", f"{len(steps)}; "
                           f"{max(steps):.1f} ms; {sum(steps):.0f} ms", "", "", "", "")]
    for text in WHOLE:
        ours = _times(_whole(indexed, text, now), args.repeat)
        base = _times(_whole(plain, text, now), args.repeat)
        count = _whole(indexed, text, now)()
        assert count == _whole(plain, text, now)(), text  # the same rows either way
        rows.append(Row(f"whole queue: {text!r} ({count:,} rows), best / median",
                        _fmt(ours), _fmt(base),
                        f"{statistics.median(ours) / statistics.median(base):.2f}×", "", ""))
    ours_typed, base_typed = _typed(indexed, now), _typed(plain, now)
    for text, ours_ms, base_ms in zip(TYPED, ours_typed, base_typed, strict=True):
        rows.append(Row(f"typed {text!r}: worst of 3 rounds", f"{ours_ms:.1f} ms",
                        f"{base_ms:.1f} ms", f"{ours_ms / base_ms:.2f}×", "", ""))
    mend = _times(_mend(indexed, now), args.repeat)
    rows.append(Row("3 rows change, 8 results kept: mended in", _fmt(mend),
                    "(forgotten: the next key walks the whole queue)", "", "", ""))
    gc.enable()
    print()
    print(table(f"Filter over {args.items:,} queue rows, in-process", rows))
    return 0
