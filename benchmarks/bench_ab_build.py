"""The build before and after a change: each checkout builds the same extract, in alternating
rounds, with a raw LMDB append measured in each round as the baseline (issue 14).

    python benchmarks/bench_ab_build.py EXTRACT OLD_CHECKOUT [--rounds 3] [--work DIR]

Both checkouts, this one and OLD_CHECKOUT, run in their own .venv (`git worktree add /tmp/old
REV`, then its README's install). Each round runs `lookup build EXTRACT --jobs 2` in each
(the order alternating, the store removed after each) and bench_national.raw_append (8-byte
keys, 100-byte values, at most 10M, in memory), and samples the steal over each build. Prints
each round, the median of the new/old pairs with their range, and the new build's rate against
the baseline of its round.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_national  # noqa: E402
from bench_ab_stores import pairs, summary  # noqa: E402
from bench_http import steal_ticks  # noqa: E402

from lookup.store import DataDir  # noqa: E402


def build(checkout: Path, extract: str, work: Path) -> Callable[[], dict[str, float]]:
    def run() -> dict[str, float]:
        data = DataDir(work / "data")
        stolen, started = steal_ticks(), time.perf_counter()
        python = str(checkout / ".venv" / "bin" / "python")
        argv = [python, "-m", "lookup", "build", extract, "--data", str(data.root), "--jobs", "2"]
        # In the checkout: `-m` puts the working directory first on the path.
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=checkout)
        seconds = time.perf_counter() - started
        ticks = os.sysconf("SC_CLK_TCK") * seconds * (os.cpu_count() or 1)
        rows = data.list()[-1].manifest["rows"]
        shutil.rmtree(data.root)
        append = bench_national.raw_append(work, rows)["rows_per_s"]
        return {
            "seconds": round(seconds, 2),
            "steal": round((steal_ticks() - stolen) / ticks, 4),
            "ratio_vs_append": round(rows / seconds / append, 3),
        }

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("extract")
    p.add_argument("old_checkout")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", help="scratch folder (default: a new one in the temp folder)")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="ab-build-"))
    work.mkdir(parents=True, exist_ok=True)
    extract = str(Path(args.extract).resolve())
    results = pairs(
        args.rounds,
        {
            "new": build(HERE.parent, extract, work),
            "old": build(Path(args.old_checkout).resolve(), extract, work),
        },
    )
    seconds = {side: [r["seconds"] for r in results[side]] for side in results}  # type: ignore[index]
    print("build seconds", summary(seconds["new"], seconds["old"]))
    for side in ("new", "old"):
        ratios = [r["ratio_vs_append"] for r in results[side]]  # type: ignore[index]
        print(side, "against the raw append: median", statistics.median(ratios), ratios)


if __name__ == "__main__":
    main()
