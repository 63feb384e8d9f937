"""The whole country on one machine (issue 14): the figures of one store size, in one run.

    pip install -e '.[bench]'
    python benchmarks/bench_national.py --rows 100000000 --work /tmp/bench100
    python benchmarks/bench_national.py --rows 10000000 --work /tmp/bench10   # beside it

On one synthetic country (`lookup synth --seed 1 --as-of 2026-06-01`, with its population
register and a delta of 100,000 changes; made once and kept in WORK):

  synth      seconds to write the extract, register and delta (from WORK/synth.json, written
             when this script made them);
  build      `lookup build --jobs 2`: seconds, rows/s, peak RSS of its largest process, store
             bytes per person (all indexes included), against a raw py-lmdb
             `putmulti(append=True)` of as many 8-byte keys with 100-byte values (at most 10M of
             them: the rate is what counts), measured in the same run;
  delta      `lookup apply` of the 100,000 changes: seconds to publish;
  worker     `lookup serve --workers 1` started on the new snapshot: seconds until its first
             answer, then its memory after 1,000,000 looked-up ids (1,000 batches of 1,000):
             USS, and the anonymous part of it (see _memory);
  core       single answers and batches of 1,000 against a raw `txn.get` loop over the same
             200,000 random existing CCCDs (bench_core.py's measure, pinned to --core);
  reconcile  `lookup reconcile` of the register against the store: seconds.

  http       bench_http.py on the same store before the delta (single lookups against the
             minimal app, batch ids/s), with --http-rounds alternating rounds.

Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lmdb
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_core  # noqa: E402
import bench_http  # noqa: E402

from lookup.store import DataDir  # noqa: E402

AS_OF = "2026-06-01"
CHANGES = 100_000
APPEND_ROWS_MAX = 10_000_000  # in memory at once: ~2 GB


def files(work: Path, rows: int) -> dict[str, Path]:
    return {
        "extract": work / f"extract-{rows}.csv",
        "population": work / f"population-{rows}.csv",
        "delta": work / f"delta-{CHANGES}.csv",
        "synth": work / "synth.json",
    }


def synth(work: Path, rows: int) -> float | None:
    """Make the country unless it is there; return the seconds it took (None: made before)."""
    f = files(work, rows)
    if all(f[k].exists() for k in ("extract", "population", "delta")):
        saved = orjson.loads(f["synth"].read_bytes()) if f["synth"].exists() else {}
        return saved.get("seconds") if saved.get("rows") == rows else None
    started = time.perf_counter()
    argv = ["synth", "--rows", str(rows), "--seed", "1", "--as-of", AS_OF]
    argv += ["--out", str(f["extract"]), "--population", str(f["population"])]
    argv += ["--delta", str(f["delta"]), "--changes", str(CHANGES)]
    bench_http.run_lookup(*argv)
    seconds = round(time.perf_counter() - started, 1)
    f["synth"].write_bytes(orjson.dumps({"rows": rows, "seconds": seconds}))
    return seconds


def raw_append(work: Path, rows: int) -> dict[str, Any]:
    """A raw putmulti(append=True) of 8-byte keys with 100-byte values, already in memory."""
    n = min(rows, APPEND_ROWS_MAX)
    value = bytes(range(100))
    items = [(i.to_bytes(8, "big"), value) for i in range(n)]
    target = work / "raw-append"
    shutil.rmtree(target, ignore_errors=True)
    with lmdb.open(str(target), map_size=3 * n * 130 + 2**26, lock=False, sync=False) as env:
        started = time.perf_counter()
        with env.begin(write=True) as txn:
            txn.cursor().putmulti(items, append=True)
        env.sync(True)
        seconds = time.perf_counter() - started
    shutil.rmtree(target)
    return {"rows": n, "seconds": round(seconds, 2), "rows_per_s": round(n / seconds)}


def apply_delta(work: Path, data: DataDir) -> float:
    seconds, _ = bench_core.run(["apply", str(files(work, 0)["delta"]), "--data", str(data.root)])
    return round(seconds, 2)


def reconcile(work: Path, rows: int, data: DataDir) -> float:
    report = work / "report.csv"
    argv = ["reconcile", str(files(work, rows)["population"]), "--data", str(data.root)]
    seconds, _ = bench_core.run([*argv, "--out", str(report)])
    report.unlink()
    return round(seconds, 2)


def worker(data: DataDir, ids: list[str], core: int, workers: int = 1) -> dict[str, Any]:
    """Seconds from `lookup serve` starting to its first answer; USS after 1M looked-up ids."""
    import http.client

    import psutil

    from lookup.service.clients import ClientStore

    clients = ClientStore(str(data.root))
    key = clients.add(f"bench-national-{os.getpid()}", ["his", "batch"], rate_per_s=0)
    auth = {"Authorization": f"Bearer {key}"}
    port = bench_http.free_port()
    env = {**os.environ, "LOOKUP_DATA": str(data.root)}
    started = time.perf_counter()
    cores = str(core) if workers == 1 else "0-1"
    argv = ["taskset", "-c", cores, sys.executable, "-m", "lookup", "serve"]
    argv += ["--workers", str(workers), "--port", str(port), "--data", str(data.root)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = None
        while first is None and time.perf_counter() - started < 120:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", f"/v1/entitlements/{ids[0]}", headers=auth)
                if conn.getresponse().status == 200:
                    first = time.perf_counter() - started
                conn.close()
            except OSError:
                time.sleep(0.02)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        rng = random.Random(7)
        for _ in range(1000):
            body = orjson.dumps({"ids": [rng.choice(ids) for _ in range(1000)]})
            headers = {**auth, "Content-Type": "application/json"}
            conn.request("POST", "/v1/entitlements/batch", body, headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        parent = psutil.Process(proc.pid)
        memory = {p.pid: _memory(p.pid) for p in [parent, *parent.children(recursive=True)]}
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "first_answer_s": round(first, 3) if first is not None else None,
        "memory_mb": {str(pid): fields for pid, fields in memory.items()},
    }


def _memory(pid: int) -> dict[str, float]:
    """A process's memory from /proc/PID/smaps_rollup, in MB. USS (private clean + dirty)
    counts the store's pages this process alone has mapped so far, clean page cache that any
    other worker mapping the snapshot would share; `Anonymous` is the process's own memory
    (heap, leaf index, buffers): what each more worker costs."""
    fields: dict[str, float] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Private_Clean", "Private_Dirty", "Anonymous", "Shared_Clean"):
                fields[name] = round(int(rest.split()[0]) / 1024, 1)
    fields["USS"] = round(fields["Private_Clean"] + fields["Private_Dirty"], 1)
    return fields


def http(work: Path, rows: int, rounds: int) -> dict[str, Any]:
    out = work / "http.json"
    argv = [sys.executable, str(HERE / "bench_http.py"), "--rows", str(rows), "--work", str(work)]
    argv += ["--rounds", str(rounds), "--skip-metrics", "--json-out", str(out)]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    summary: dict[str, Any] = orjson.loads(out.read_bytes())
    return summary


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000_000)
    p.add_argument("--work", default="/tmp/bench100")
    p.add_argument("--core", type=int, default=1, help="the core lookups are pinned to")
    p.add_argument("--lookups", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--http-rounds", type=int, default=6)
    p.add_argument("--build-only", action="store_true", help="the build and its baseline only")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"rows": args.rows, "machine": bench_core.machine()}
    result["synth_s"] = synth(work, args.rows)
    data = DataDir(work / "data")
    shutil.rmtree(data.root, ignore_errors=True)
    result["build"] = bench_core.bench_build(files(work, args.rows)["extract"], data, 2)
    result["append_baseline"] = raw_append(work, args.rows)
    result["build"]["ratio_vs_append"] = round(
        result["build"]["rows_per_s"] / result["append_baseline"]["rows_per_s"], 3
    )
    if args.build_only:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    result["http"] = http(work, args.rows, args.http_rounds)
    result["delta_s"] = apply_delta(work, data)
    ids = bench_http.sample_cccds(data.root, args.lookups)
    result["worker"] = worker(data, ids, args.core)
    keys = [int(i).to_bytes(8, "big") for i in ids]
    os.sched_setaffinity(0, {args.core})
    result["core"] = bench_core.bench_lookups(data.current_path(), keys, args.repeat)
    result["reconcile_s"] = reconcile(work, args.rows, data)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
