"""Benchmark the store and compiled core against raw py-lmdb, in one run (issue 2).

    python benchmarks/bench_core.py --rows 10000000 --work /tmp/bench

Measures, on one synthetic store:
  build    CSV extract -> published snapshot (`lookup build` in a child process on every core
           of the machine, as an operator runs it: rows/s, peak RSS, store bytes per record) vs
           a raw `putmulti(append=True)` of the same records (one thread: LMDB has one writer);
  single   `SnapshotReader.answer` (ID string -> JSON bytes) over random existing CCCDs vs a
           raw `txn.get` loop over the same keys;
  batch    `answer_many` in batches of 1000 vs the same raw loop.
Everything but the build runs pinned to --core (default 1). Prints a JSON summary and the
Markdown table for BENCHMARKS.md. Ratios are what hold on a shared, noisy machine; absolute
figures drift.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import orjson

from lookup import _core
from lookup.store import DataDir

DATE = 20260601
BATCH = 1000


def main() -> None:
    args = parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    extract = work / f"extract-{args.rows}.csv"
    if not extract.exists():
        run(
            [
                "synth",
                "--rows",
                str(args.rows),
                "--seed",
                "1",
                "--as-of",
                "2026-06-01",
                "--out",
                str(extract),
            ]
        )
    data = DataDir(work / "data")
    result: dict = {"machine": machine(), "rows": args.rows, "core": _core.CORE}
    if not args.lookups_only:
        shutil.rmtree(data.root, ignore_errors=True)
        result["build"] = bench_build(extract, data, args.build_jobs)
    os.sched_setaffinity(0, {args.core})
    result["machine"]["affinity"] = [args.core]
    path = data.current_path()
    keys = sample_keys(path, args.lookups)
    if not args.lookups_only:
        result["append_baseline"] = bench_raw_append(path, work)
        result["build"]["ratio_vs_append"] = round(
            result["build"]["rows_per_s"] / result["append_baseline"]["rows_per_s"], 3
        )
    result["lookups"] = bench_lookups(path, keys, args.repeat)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    if not args.lookups_only:
        print(markdown(result))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--lookups", type=int, default=200_000, help="random keys per measurement")
    p.add_argument("--repeat", type=int, default=5, help="runs per measurement; the median counts")
    p.add_argument("--work", default="/tmp/lookup-bench")
    p.add_argument("--core", type=int, default=1, help="the core the lookups are pinned to")
    p.add_argument(
        "--build-jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="`lookup build --jobs` (default: every core)",
    )
    p.add_argument(
        "--lookups-only",
        action="store_true",
        help="measure lookups on the store already in WORK/data",
    )
    return p.parse_args()


def run(args: list[str]) -> tuple[float, int]:
    """Run `lookup ARGS` as a child on every core; return (seconds, peak RSS in bytes) of the
    largest process of its tree (the build's job processes are its children)."""
    every_core = set(range(os.cpu_count() or 1))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookup", *args],
        stdout=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, every_core),
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"lookup {' '.join(args)} failed")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return time.perf_counter() - started, max(usage.ru_maxrss, children) * 1024


def bench_build(extract: Path, data: DataDir, jobs: int) -> dict:
    seconds, peak = run(["build", str(extract), "--data", str(data.root), "--jobs", str(jobs)])
    manifest = data.list()[-1].manifest
    rows = manifest["published"]
    return {
        "jobs": jobs,
        "seconds": round(seconds, 2),
        "rows_per_s": round(manifest["rows"] / seconds),
        "peak_rss_mb": round(peak / 2**20),  # the largest process; with jobs, at most x jobs
        "store_bytes": manifest["store_bytes"],
        "store_bytes_per_record": round(manifest["store_bytes"] / rows, 1),
        "extract_bytes": extract.stat().st_size,
    }


def bench_raw_append(path: Path, work: Path) -> dict:
    """Time a raw putmulti(append=True) of the store's own people records, already in memory."""
    with lmdb.open(str(path), readonly=True, lock=False, max_dbs=4) as env:
        db = env.open_db(b"people", create=False)
        with env.begin(db=db) as txn:
            items = list(txn.cursor())
    target = work / "raw-append"
    shutil.rmtree(target, ignore_errors=True)
    size = sum(len(k) + len(v) for k, v in items)
    with lmdb.open(
        str(target), map_size=4 * size + 2**26, max_dbs=4, lock=False, sync=False, lib_version=0
    ) as env:
        db = env.open_db(b"people")
        started = time.perf_counter()
        with env.begin(write=True, db=db) as txn:
            txn.cursor().putmulti(items, append=True)
        env.sync(True)
        seconds = time.perf_counter() - started
    shutil.rmtree(target)
    return {"seconds": round(seconds, 2), "rows_per_s": round(len(items) / seconds)}


def sample_keys(path: Path, count: int) -> list[bytes]:
    with lmdb.open(str(path), readonly=True, lock=False, max_dbs=4) as env:
        db = env.open_db(b"people", create=False)
        with env.begin(db=db) as txn:
            keys = list(txn.cursor().iternext(values=False))
    rng = random.Random(42)
    return [keys[rng.randrange(len(keys))] for _ in range(count)]


def interleaved_rates(measures: dict, repeat: int) -> dict[str, float]:
    """Median rate of each (fn, count), run in turn `repeat` times: load from other jobs on a
    shared machine then falls on every measurement alike, so the ratios hold."""
    rates: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, (fn, count) in measures.items():
            started = time.perf_counter()
            fn()
            rates[name].append(count / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in rates.items()}


def bench_lookups(path: Path, keys: list[bytes], repeat: int) -> dict:
    ids = [f"{int.from_bytes(k, 'big'):012d}" for k in keys]
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
    # The compiled reader maps the store itself; py-lmdb opens an environment once per process,
    # so the plain-Python reference (which uses py-lmdb) is measured on its own afterwards.
    readers = {"compiled": _core.load("compiled").reader.SnapshotReader(str(path))}
    with lmdb.open(str(path), readonly=True, lock=False, max_dbs=4) as env:
        db = env.open_db(b"people", create=False)
        with env.begin(db=db) as txn:
            get = txn.get

            def raw():
                for key in keys:
                    get(key)

            measures = {"raw": (raw, len(keys))}
            for kind, reader in readers.items():
                n = len(ids)
                chosen = batches[: max(1, n // BATCH)]

                def single(ids=ids[:n], answer=reader.answer):
                    for i in ids:
                        answer(i, DATE, None)

                def batch(batches=chosen, answer_many=reader.answer_many):
                    for b in batches:
                        answer_many(b, DATE, None)

                measures[f"{kind}-single"] = (single, n)
                measures[f"{kind}-batch"] = (batch, len(chosen) * BATCH)
            rates = interleaved_rates(measures, repeat)

    results: dict = {"raw_get_per_s": round(rates["raw"])}
    for kind, reader in readers.items():
        single_rate, batch_rate = rates[f"{kind}-single"], rates[f"{kind}-batch"]
        results[kind] = {
            "single_per_s": round(single_rate),
            "single_ratio": round(single_rate / rates["raw"], 3),
            "batch_ids_per_s": round(batch_rate),
            "batch_ratio": round(batch_rate / rates["raw"], 3),
        }
        reader.close()
    reference = _core.load("python").reader.SnapshotReader(str(path))
    few = ids[: len(ids) // 20]
    reference_rate = interleaved_rates(
        {"single": (lambda: [reference.answer(i, DATE, None) for i in few], len(few))}, 3
    )["single"]
    reference.close()
    results["python"] = {
        "single_per_s": round(reference_rate),
        "single_ratio": round(reference_rate / rates["raw"], 3),
    }
    return results


def proc_field(path: str, name: str) -> str | None:
    """The value of the first `name: value` line of a /proc file, or None."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine() -> dict:
    return {
        "cpu": proc_field("/proc/cpuinfo", "model name") or "unknown",
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "lmdb": lmdb.__version__,
        "affinity": sorted(os.sched_getaffinity(0)),
    }


def markdown(r: dict) -> str:
    b, a, lk = r["build"], r["append_baseline"], r["lookups"]
    c = lk.get("compiled", {})
    rows = [
        ("raw py-lmdb `txn.get` loop", f"{lk['raw_get_per_s']:,} gets/s", "1.00x (baseline)"),
        (
            "core single answer, ID string -> JSON",
            f"{c.get('single_per_s', 0):,} answers/s",
            f"{c.get('single_ratio', 0):.2f}x (target >= 0.8x)",
        ),
        (
            "core batches of 1000",
            f"{c.get('batch_ids_per_s', 0):,} ids/s",
            f"{c.get('batch_ratio', 0):.2f}x (target >= 1.5x)",
        ),
        ("raw py-lmdb `putmulti(append=True)`", f"{a['rows_per_s']:,} rows/s", "1.00x (baseline)"),
        (
            "`lookup build`, CSV -> published snapshot",
            f"{b['rows_per_s']:,} rows/s",
            f"{b['ratio_vs_append']:.2f}x (target >= 0.2x)",
        ),
    ]
    if "python" in lk:
        p = lk["python"]
        rate = f"{p['single_per_s']:,} answers/s"
        rows.insert(
            3, ("reference (plain Python) single, apart", rate, f"{p['single_ratio']:.2f}x")
        )
    table = "| measurement | rate | ratio |\n|---|---|---|\n" + "\n".join(
        f"| {m} | {rate} | {ratio} |" for m, rate, ratio in rows
    )
    return (
        f"{table}\n\nStore: {r['rows']:,} rows, {b['store_bytes'] / 2**20:,.0f} MiB, "
        f"{b['store_bytes_per_record']} bytes per record; build {b['seconds']} s with "
        f"--jobs {b['jobs']}, peak RSS {b['peak_rss_mb']} MiB (the largest of its processes)."
    )


if __name__ == "__main__":
    main()
