"""Issue 4's benchmark: the client store at 50,000 items.

    python -m bench store [--items 50000] [--batch 1000]

(a) apply 1,000-change batches with `Cache.apply` until the cache has folded
its journal into a new snapshot twice (compaction runs in the background:
every batch is timed, those that overlap it included); (b) append one action
to the outbox (fsync'd) with the cache at 50k, and with 1,000 actions already
pending; (c) open the cache cold in a fresh process, with its peak RSS, and
also open it and read every item (what `csq ls` and the app's first screen
do). Each beside plain TinyDB (default JSONStorage, one whole-file rewrite per
upsert) measured in the same run, reported as a ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import JSONStorage
from tinydb.table import Document

from bench import fixtures
from bench.common import (
    Row,
    Stopwatch,
    median,
    ms,
    percentile,
    print_machine,
    python,
    python_env,
    table,
    verdict,
    wait_for_quiet,
)
from csq.store import Cache, Op, Outbox
from csq.store.oplog import OpLog

TARGET_BATCH_MS = 300.0
TARGET_APPEND_MS = 5.0
TARGET_OPEN_S = 1.0
CUSTOMERS = 5_000
COMPACTIONS = 2  # batches run until the cache has compacted this many times


@dataclass
class StoreResult:
    items: int
    batch: int
    cache_mib: float = 0.0
    fill_s: float = 0.0
    batch_ms: list[float] = field(default_factory=list)  # every batch
    batch_during_compaction_ms: list[float] = field(default_factory=list)
    batch_starting_compaction_ms: list[float] = field(default_factory=list)
    compactions: int = 0
    compaction_s: list[float] = field(default_factory=list)  # in the background
    append_ms: list[float] = field(default_factory=list)
    append_1000_ms: list[float] = field(default_factory=list)
    update_1000_ms: list[float] = field(default_factory=list)
    open_fresh: list[dict[str, float]] = field(default_factory=list)
    open_full_journal: list[dict[str, float]] = field(default_factory=list)
    read_all_fresh: list[dict[str, float]] = field(default_factory=list)
    journal_mib_full: float = 0.0
    base_file_mib: float = 0.0
    base_upsert_ms: list[float] = field(default_factory=list)
    base_cached_batch_ms: list[float] = field(default_factory=list)
    base_outbox_ms: list[float] = field(default_factory=list)
    base_open: list[dict[str, float]] = field(default_factory=list)


def _mib(path: Path) -> float:
    return path.stat().st_size / 1024 / 1024 if path.exists() else 0.0


def _cold_open(which: str, path: Path) -> dict[str, float]:
    done = subprocess.run([python(), "-m", "bench.coldopen", which, str(path)],
                          env=python_env(), capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"cold open ({which}) failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


class Changes:
    """Batches of changed items, as a sync pull would bring them."""

    def __init__(self, docs: list[dict[str, Any]], seq: int, seed: int = 11) -> None:
        self.docs = docs
        self.seq = seq
        self.rng = random.Random(seed)

    def next(self, size: int) -> tuple[list[dict[str, Any]], int]:
        picked = self.rng.sample(range(len(self.docs)), size)
        out = []
        for index in picked:
            self.seq += 1
            at = fixtures.NOW + timedelta(seconds=self.seq)
            self.docs[index] = fixtures.changed(self.docs[index], self.seq, at)
            out.append(self.docs[index])
        return out, self.seq


def _op(n: int) -> Op:
    return Op.new("action", {"action": "note", "body": f"客户来电催促,已再次联系处理部门 #{n}"},
                  item_id=1 + n % 50_000, base_version=3)


def bench_csq(res: StoreResult, root: Path, docs: list[dict[str, Any]],
              custs: list[dict[str, Any]]) -> None:
    cache_dir = root / "cache"
    cache = Cache(cache_dir).open(write=True)
    try:
        with Stopwatch() as sw:
            cache.apply(docs, custs, cursor=len(docs))  # one huge batch...
            cache.compact()  # ...folded into a snapshot
        res.fill_s = sw.seconds
        storage = cache.storage
        assert storage is not None
        res.cache_mib = _mib(cache_dir / "snapshot.json")
        print(f"  csq cache filled: {len(docs)} items, {len(custs)} customers, "
              f"snapshot {res.cache_mib:.1f} MiB in {res.fill_s:.1f} s", flush=True)

        # (c1) cold open right after a compaction: the snapshot alone.
        for _ in range(3):
            res.open_fresh.append(_cold_open("csq", cache_dir))
            res.read_all_fresh.append(_cold_open("csq-all", cache_dir))

        # (a) batches, back to back as a long pull brings them, until the cache has
        # compacted COMPACTIONS times. Compaction runs beside them: time every batch.
        changes = Changes(docs, seq=len(docs))
        done = storage.compactions
        started = 0.0
        while storage.compactions < done + COMPACTIONS and len(res.batch_ms) < 1000:
            batch, seq = changes.next(res.batch)
            running = storage._worker is not None
            finished = storage.compactions
            with Stopwatch() as sw:
                cache.apply(batch, [], cursor=seq)
            res.batch_ms.append(ms(sw.seconds))
            if storage.compactions > finished:
                res.compaction_s.append(_now() - started)
            if running:
                res.batch_during_compaction_ms.append(ms(sw.seconds))
            elif storage._worker is not None:  # this batch rotated the journal, froze
                res.batch_starting_compaction_ms.append(ms(sw.seconds))  # the index
                started = _now()
        res.compactions = storage.compactions - done
        print(f"  csq batches: {len(res.batch_ms)}, {res.compactions} compactions; median "
              f"{median(res.batch_ms):.1f} ms, max {max(res.batch_ms):.0f} ms", flush=True)

        # (c2) the worst cold open: the journal as full as it gets before folding.
        storage.wait()
        last_block = 0
        while True:
            before = storage.journal_bytes
            if last_block and storage.journal_bytes + 2 * last_block > max(
                    storage.compact_at, storage.snapshot_bytes // 2):
                break
            batch, seq = changes.next(res.batch)
            with Stopwatch() as sw:
                cache.apply(batch, [], cursor=seq)
            res.batch_ms.append(ms(sw.seconds))
            last_block = storage.journal_bytes - before
        res.journal_mib_full = _mib(cache_dir / "journal.jsonl")
        for _ in range(3):
            res.open_full_journal.append(_cold_open("csq", cache_dir))

        # (b) outbox appends, with this 50k cache open beside it.
        outbox = Outbox(root / "outbox.json")
        for n in range(200):
            with Stopwatch() as sw:
                outbox.append(_op(n))
            res.append_ms.append(ms(sw.seconds))
        # ...and with 1,000 actions already pending (days offline), each append by a
        # fresh Outbox, as a fresh `csq do` makes one.
        big = root / "outbox-1000.json"
        OpLog(big).write({"ops": {
            str(i + 1): _op(i).model_dump(mode="json", exclude={"order"}) for i in range(1000)}})
        for n in range(100):
            with Stopwatch() as sw:
                Outbox(big).append(_op(n))
            res.append_1000_ms.append(ms(sw.seconds))
        busy = Outbox(big)  # what the sender does per op: mark it (a conflict, say)
        ops = busy.all()
        for n in range(50):
            with Stopwatch() as sw:
                busy.update(ops[n].op_id, state="conflict", error="stale")
            res.update_1000_ms.append(ms(sw.seconds))
    finally:
        cache.close()


def _now() -> float:
    return time.perf_counter()


def bench_tinydb(res: StoreResult, root: Path, docs: list[dict[str, Any]],
                 custs: list[dict[str, Any]]) -> None:
    """Plain TinyDB: default JSONStorage, the same records, one file."""
    path = root / "tinydb.json"
    db = TinyDB(str(path))
    with Stopwatch() as sw:
        db.storage.write({"items": {str(d["id"]): d for d in docs},
                          "customers": {str(c["id"]): c for c in custs}})
    res.base_file_mib = _mib(path)
    print(f"  TinyDB file written: {res.base_file_mib:.1f} MiB in {sw.seconds:.1f} s", flush=True)
    changes = Changes(list(docs), seq=len(docs), seed=13)

    items = db.table("items", cache_size=0)
    for _ in range(3):
        batch, _seq = changes.next(1)
        doc = batch[0]
        with Stopwatch() as sw:
            items.upsert(Document(doc, doc_id=doc["id"]))
        res.base_upsert_ms.append(ms(sw.seconds))
    print(f"  TinyDB per-item upsert: median {median(res.base_upsert_ms):.0f} ms", flush=True)

    outbox = db.table("outbox", cache_size=0)
    for n in range(2):
        with Stopwatch() as sw:
            outbox.insert(_op(n).model_dump(mode="json", exclude={"order"}))
        res.base_outbox_ms.append(ms(sw.seconds))
    db.close()

    # TinyDB's own batching: CachingMiddleware, 1,000 upserts, one flush. Once: every
    # upsert still rebuilds the whole table dict in memory, so this takes minutes.
    for _ in range(1):
        middleware = CachingMiddleware(JSONStorage)
        middleware.WRITE_CACHE_SIZE = 10**9  # flush once, when told (default: every 1000)
        cached = TinyDB(str(path), storage=middleware)
        table = cached.table("items", cache_size=0)
        len(table)  # load the file into the middleware's cache first: time only the batch
        batch, _seq = changes.next(res.batch)
        with Stopwatch() as sw:
            for doc in batch:
                table.upsert(Document(doc, doc_id=doc["id"]))
            middleware.flush()
        res.base_cached_batch_ms.append(ms(sw.seconds))
        cached.close()

    for _ in range(3):
        res.base_open.append(_cold_open("tinydb", path))


def run(n_items: int = 50_000, batch: int = 1000) -> StoreResult:
    res = StoreResult(items=n_items, batch=batch)
    root = Path(tempfile.mkdtemp(prefix="csq-bench-store-"))
    try:
        print(f"store: building {n_items} items with csq.domain ...", flush=True)
        docs = fixtures.items(n_items)
        custs = fixtures.customers(CUSTOMERS)
        bench_csq(res, root, list(docs), custs)
        bench_tinydb(res, root, docs, custs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return res


def _best(runs: list[dict[str, float]], key: str = "open_s") -> dict[str, float]:
    return min(runs, key=lambda r: r[key]) if runs else {}


def report(res: StoreResult) -> str:
    per_upsert = median(res.base_upsert_ms)
    batch_p50 = median(res.batch_ms)
    batch_p99 = percentile(res.batch_ms, 99)
    batch_max = max(res.batch_ms, default=float("nan"))
    during = max(res.batch_during_compaction_ms, default=float("nan"))
    starting = max(res.batch_starting_compaction_ms, default=float("nan"))
    base_batch = per_upsert * res.batch
    cached = min(res.base_cached_batch_ms) if res.base_cached_batch_ms else float("nan")
    append_p50 = median(res.append_ms)
    append_p99 = percentile(res.append_ms, 99)
    big_p50, big_p99 = median(res.append_1000_ms), percentile(res.append_1000_ms, 99)
    base_append = median(res.base_outbox_ms)
    fresh, full, base = (_best(res.open_fresh), _best(res.open_full_journal),
                         _best(res.base_open))
    read_all = _best(res.read_all_fresh)

    def x(base_ms: float, ours_ms: float) -> str:
        """baseline ÷ csq: above 1, csq is that many times faster."""
        if not ours_ms or ours_ms != ours_ms or base_ms != base_ms:
            return ""
        r = base_ms / ours_ms
        return f"{r:,.0f}×" if r >= 10 else f"{r:.2f}×"

    compact_s = ", ".join(f"{c:.1f}" for c in res.compaction_s)
    rows = [
        Row(f"(a) apply {res.batch}-change batch, p50 (n={len(res.batch_ms)})",
            f"{batch_p50:.1f} ms", f"{base_batch:,.0f} ms (= {res.batch} × {per_upsert:.0f})",
            x(base_batch, batch_p50), f"≤ {TARGET_BATCH_MS:.0f} ms",
            verdict(batch_p50, TARGET_BATCH_MS)),
        Row("(a) same, p99", f"{batch_p99:.1f} ms", "", "", f"≤ {TARGET_BATCH_MS:.0f} ms",
            verdict(batch_p99, TARGET_BATCH_MS)),
        Row("(a) same, the slowest batch", f"{batch_max:.1f} ms", "", "",
            f"≤ {TARGET_BATCH_MS:.0f} ms", verdict(batch_max, TARGET_BATCH_MS)),
        Row(f"(a) slowest batch while a compaction ran beside it "
            f"(n={len(res.batch_during_compaction_ms)})", f"{during:.1f} ms", "", "",
            f"≤ {TARGET_BATCH_MS:.0f} ms", verdict(during, TARGET_BATCH_MS)),
        Row(f"(a) slowest batch that started a compaction (rotate the journal, copy "
            f"the index; n={len(res.batch_starting_compaction_ms)})", f"{starting:.1f} ms",
            "", "", f"≤ {TARGET_BATCH_MS:.0f} ms", verdict(starting, TARGET_BATCH_MS)),
        Row(f"    ({res.compactions} compactions in the background took {compact_s} s)",
            "", "", "", "", ""),
        Row("(a') vs TinyDB CachingMiddleware: 1,000 upserts + 1 flush", f"{batch_p50:.1f} ms",
            f"{cached:,.0f} ms", x(cached, batch_p50), "", ""),
        Row(f"(b) outbox append, fsync'd, p50 (cache at {res.items // 1000}k)",
            f"{append_p50:.2f} ms",
            f"{base_append:,.0f} ms (insert into the 50k TinyDB file)",
            x(base_append, append_p50), f"≤ {TARGET_APPEND_MS:.0f} ms",
            verdict(append_p50, TARGET_APPEND_MS)),
        Row(f"(b) same, p99 (n={len(res.append_ms)})", f"{append_p99:.2f} ms", "", "",
            f"≤ {TARGET_APPEND_MS:.0f} ms", verdict(append_p99, TARGET_APPEND_MS)),
        Row(f"(b) append with 1,000 ops already pending, p50 (n={len(res.append_1000_ms)})",
            f"{big_p50:.2f} ms", "", "", f"≤ {TARGET_APPEND_MS:.0f} ms",
            verdict(big_p50, TARGET_APPEND_MS)),
        Row("(b) same, p99", f"{big_p99:.2f} ms", "", "", f"≤ {TARGET_APPEND_MS:.0f} ms",
            verdict(big_p99, TARGET_APPEND_MS)),
        Row("(b') mark an op (conflict) with 1,000 pending, p50",
            f"{median(res.update_1000_ms):.2f} ms", "", "", "", ""),
        Row("(c) cold open, snapshot only (best of 3)", f"{fresh.get('open_s', 0):.2f} s",
            f"{base.get('open_s', 0):.2f} s", x(base.get("open_s", 0), fresh.get("open_s", 1)),
            f"≤ {TARGET_OPEN_S:.0f} s", verdict(fresh.get("open_s", 0), TARGET_OPEN_S)),
        Row(f"(c) cold open, journal full ({res.journal_mib_full:.0f} MiB) (best of 3)",
            f"{full.get('open_s', 0):.2f} s", f"{base.get('open_s', 0):.2f} s",
            x(base.get("open_s", 0), full.get("open_s", 1)), f"≤ {TARGET_OPEN_S:.0f} s",
            verdict(full.get("open_s", 0), TARGET_OPEN_S)),
        Row("(c') cold open + parse every full item (best of 3; lists parse projections)",
            f"{read_all.get('open_s', 0):.2f} s", f"{base.get('open_s', 0):.2f} s",
            x(base.get("open_s", 0), read_all.get("open_s", 1)), "", ""),
        Row("(c) peak RSS of the opening process, snapshot only",
            f"{fresh.get('rss_peak_mib', 0):.0f} MiB", f"{base.get('rss_peak_mib', 0):.0f} MiB",
            "", "report", ""),
        Row("(c) peak RSS, journal full", f"{full.get('rss_peak_mib', 0):.0f} MiB", "", "",
            "report", ""),
        Row("(c') peak RSS, open + parse every item",
            f"{read_all.get('rss_peak_mib', 0):.0f} MiB", "", "", "report", ""),
        Row("    (RSS after imports, before opening)",
            f"{fresh.get('rss_before_mib', 0):.0f} MiB",
            f"{base.get('rss_before_mib', 0):.0f} MiB", "", "", ""),
    ]
    title = (f"store: {res.items:,} items + {CUSTOMERS:,} customers; csq snapshot "
             f"{res.cache_mib:.0f} MiB, TinyDB file {res.base_file_mib:.0f} MiB; "
             f"TinyDB per-item upsert median {per_upsert:.0f} ms (n={len(res.base_upsert_ms)}); "
             "ratio = baseline ÷ csq (above 1: csq is faster)")
    return table(title, rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench store")
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    print_machine()
    print(f"store: {wait_for_quiet()}", flush=True)
    res = run(args.items, args.batch)
    print()
    print(report(res), flush=True)
    if args.json:
        args.json.write_text(json.dumps(asdict(res), indent=1))
    return 0
