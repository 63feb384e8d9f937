"""Before and after a change of the store's format: each checkout on the store it builds, in
alternating rounds (issue 14). `bench_http.py --against` needs one store both can read; this
does not.

    python benchmarks/bench_ab_stores.py core NEW_SNAPSHOT OLD_CHECKOUT OLD_SNAPSHOT [--rounds 4]
    python benchmarks/bench_ab_stores.py http NEW_DATA OLD_CHECKOUT OLD_DATA [--rounds 8]

OLD_CHECKOUT is another checkout with its own .venv (e.g. `git worktree add /tmp/old REV`,
then its README's install). `core` runs bench_core.bench_lookups in a child of each checkout's
python (200,000 random existing CCCDs, seed 42, pinned to core 1, 3 repeats); `http` serves
each DATA with its checkout's `lookup serve --workers 1` on core 0 and drives single lookups
with wrk on core 1 (32 connections, 4 s), over CCCDs sampled from NEW_DATA. Prints each round
and the median of the new/old pairs with their range.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CORE_CHILD = """
import os, random, sys
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
import bench_core, lmdb, orjson
path = sys.argv[2]
rng = random.Random(42)
with lmdb.open(path, readonly=True, lock=False, max_dbs=4) as env:
    with env.begin(db=env.open_db(b"people", create=False)) as txn:
        keys = list(txn.cursor().iternext(values=False))
keys = [keys[rng.randrange(len(keys))] for _ in range(200000)]
os.sched_setaffinity(0, {1})
r = bench_core.bench_lookups(bench_core.Path(path), keys, 3)
print(orjson.dumps({"raw": r["raw_get_per_s"], **r["compiled"]}).decode())
"""


def pairs(rounds: int, run: dict[str, object]) -> dict[str, list[float]]:
    """Run each side once a round, the order alternating; return each side's results."""
    results: dict[str, list] = {"new": [], "old": []}
    for r in range(rounds):
        for side in ("new", "old") if r % 2 == 0 else ("old", "new"):
            results[side].append(run[side]())  # type: ignore[operator]
            print(r, side, results[side][-1], flush=True)
    return results


def summary(new: list[float], old: list[float]) -> str:
    ratios = [n / o for n, o in zip(new, old, strict=True)]
    middle, low, high = statistics.median(ratios), min(ratios), max(ratios)
    return f"new/old median {middle:.3f}x (pairs {low:.2f}-{high:.2f}x)"


def core(args: argparse.Namespace) -> None:
    import orjson

    def child(python: str, checkout: str, snapshot: str):
        def run() -> dict:
            out = subprocess.run(
                [python, "-c", CORE_CHILD, checkout, snapshot], check=True, capture_output=True
            ).stdout
            return orjson.loads(out)

        return run

    old_python = str(Path(args.old_checkout) / ".venv" / "bin" / "python")
    results = pairs(
        args.rounds,
        {
            "new": child(sys.executable, str(HERE.parent), args.new),
            "old": child(old_python, args.old_checkout, args.old),
        },
    )
    for field in ("single_per_s", "batch_ids_per_s"):
        new = [r[field] for r in results["new"]]  # type: ignore[index]
        old = [r[field] for r in results["old"]]  # type: ignore[index]
        print(field, summary(new, old))


def http(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    import bench_http as bh

    from lookup.service.clients import ClientStore

    scratch = Path(tempfile.mkdtemp(prefix="ab-stores-"))
    ids = scratch / "ids.txt"
    ids.write_text("\n".join(bh.sample_cccds(Path(args.new), 100_000)) + "\n")
    script = scratch / "single.lua"
    script.write_text(bh.SINGLE_LUA)
    old_python = str(Path(args.old_checkout) / ".venv" / "bin" / "python")
    servers = {}
    try:
        for side, python, data in (
            ("new", sys.executable, args.new),
            ("old", old_python, args.old),
        ):
            key = ClientStore(data).add(f"ab-stores-{os.getpid()}", ["his"], rate_per_s=0)
            bh.warm(Path(data))
            port = bh.free_port()
            argv = [python, "-m", "lookup", "serve", "--data", data, "--workers", "1"]
            server = bh.Server(side, [*argv, "--port", str(port)], port, 0, scratch / f"{side}.log")
            servers[side] = (server, key)

        def wrk(side: str):
            server, key = servers[side]
            return lambda: bh.wrk(
                server.url,
                script,
                [str(ids), key, str(server.port)],
                core=1,
                connections=32,
                seconds=4.0,
            )["rps"]

        results = pairs(args.rounds, {"new": wrk("new"), "old": wrk("old")})
        print("single req/s", summary(results["new"], results["old"]))  # type: ignore[arg-type]
    finally:
        for server, _ in servers.values():
            server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("what", choices=["core", "http"])
    p.add_argument("new", help="this checkout's snapshot (core) or data directory (http)")
    p.add_argument("old_checkout")
    p.add_argument("old", help="the old checkout's snapshot (core) or data directory (http)")
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    core(args) if args.what == "core" else http(args)


if __name__ == "__main__":
    main()
