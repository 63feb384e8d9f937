"""Benchmark `lookup reconcile` against DuckDB doing the same comparison, in one run (issue 13).

    pip install -e '.[bench]'      # DuckDB is a benchmark-only dependency
    python benchmarks/bench_reconcile.py --rows 2000000 --work /tmp/bench-reconcile

On one synthetic country (`lookup synth --seed 1 --as-of 2026-06-01 --population`, insured records
spoiled at the default 2%), built beforehand into a snapshot, and loaded beforehand into a DuckDB
database as the table `insured` (as the store is built beforehand):

  lookup   `lookup reconcile POPULATION --out REPORT` (the compiled core where it has one);
  duckdb   `SET threads = 2`; the population CSV read, left-joined on `cccd` to `insured`, the
           statuses and fields of SPEC.md 4 computed in SQL (names: NFC, lower case, accents
           stripped for the diacritics class; it has no tone-placement rule, so it does a little
           less), the insured rows without a register row appended, the report written as CSV.

Rounds alternate between the two; each side's time is the median of its rounds, the ratio the
median of the rounds' ratios (DuckDB's time over ours: above 1 means we are faster). Prints a
JSON summary and a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

AS_OF = "2026-06-01"

DUCKDB_REPORT = """
COPY (
  WITH pop AS (
    SELECT * FROM read_csv(?, header = true, all_varchar = true)
  ),
  joined AS (
    SELECT p.cccd, p.full_name AS r_name, p.dob AS r_dob, p.gender AS r_gender, p.death_date,
           i.full_name AS s_name, i.dob AS s_dob, i.gender AS s_gender,
           i.cccd IS NOT NULL AS insured
    FROM pop p LEFT JOIN insured i ON i.cccd = p.cccd
  ),
  judged AS (
    SELECT cccd,
      CASE
        WHEN NOT regexp_full_match(cccd, '[0-9]{12}') THEN 'invalid'
        WHEN NOT insured THEN 'not_insured'
        WHEN death_date IS NOT NULL AND death_date <> '' AND death_date <= ? THEN 'deceased'
        ELSE 'compare'
      END AS status,
      CASE WHEN lower(nfc_normalize(r_name)) = lower(nfc_normalize(s_name)) THEN NULL
           WHEN strip_accents(replace(replace(lower(r_name), 'đ', 'd'), 'Đ', 'd'))
              = strip_accents(replace(replace(lower(s_name), 'đ', 'd'), 'Đ', 'd'))
             THEN 'full_name_diacritics'
           ELSE 'full_name' END AS f_name,
      CASE WHEN r_dob = s_dob THEN NULL
           WHEN starts_with(r_dob, s_dob) THEN 'dob_precision'
           WHEN starts_with(s_dob, r_dob) THEN NULL
           ELSE 'dob' END AS f_dob,
      CASE WHEN r_gender = s_gender THEN NULL ELSE 'gender' END AS f_gender
    FROM joined
  )
  SELECT cccd,
         CASE WHEN status <> 'compare' THEN status
              WHEN concat_ws(';', f_name, f_dob, f_gender) = '' THEN 'match'
              ELSE 'mismatch' END AS status,
         CASE WHEN status <> 'compare' THEN '' ELSE concat_ws(';', f_name, f_dob, f_gender) END
           AS fields
  FROM judged
  UNION ALL
  SELECT i.cccd, 'not_in_register', '' FROM insured i ANTI JOIN pop p ON p.cccd = i.cccd
) TO ? (HEADER, DELIMITER ',')
"""


def lookup(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "lookup", *args], check=True, stdout=subprocess.DEVNULL)


def prepare(work: Path, rows: int) -> dict[str, Path]:
    """Synthesise, build the store and load DuckDB's table, once per size (kept in `work`)."""
    import duckdb

    extract, population = work / f"insured-{rows}.csv", work / f"population-{rows}.csv"
    data, database = work / f"data-{rows}", work / f"insured-{rows}.duckdb"
    if not population.exists():
        lookup(
            "synth",
            "--rows",
            str(rows),
            "--seed",
            "1",
            "--as-of",
            AS_OF,
            "--out",
            str(extract),
            "--population",
            str(population),
        )
    if not (data / "CURRENT").exists():
        shutil.rmtree(data, ignore_errors=True)
        lookup("build", str(extract), "--data", str(data))
    if not database.exists():
        with duckdb.connect(str(database)) as con:
            con.execute(
                "CREATE TABLE insured AS SELECT cccd, full_name, dob, gender "
                "FROM read_csv(?, header = true, all_varchar = true)",
                [str(extract)],
            )
    return {"population": population, "data": data, "database": database}


def run_lookup(files: dict[str, Path], report: Path) -> float:
    started = time.perf_counter()
    lookup(
        "reconcile", str(files["population"]), "--data", str(files["data"]), "--out", str(report)
    )
    return time.perf_counter() - started


def run_duckdb(files: dict[str, Path], report: Path) -> float:
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(str(files["database"]), read_only=True) as con:
        con.execute("SET threads = 2")
        con.execute(DUCKDB_REPORT, [str(files["population"]), AS_OF, str(report)])
    return time.perf_counter() - started


def bench(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    files = prepare(work, args.rows)
    ours, theirs = [], []
    stolen, started = steal_ticks(), time.monotonic()
    for r in range(args.rounds):
        order = [("lookup", ours), ("duckdb", theirs)]
        for name, times in order if r % 2 == 0 else order[::-1]:
            report = work / f"report-{name}.csv"
            run = run_lookup if name == "lookup" else run_duckdb
            times.append(run(files, report))
    ticks = os.sysconf("SC_CLK_TCK") * (time.monotonic() - started) * (os.cpu_count() or 1)
    steal = (steal_ticks() - stolen) / ticks
    lines = {name: _lines(work / f"report-{name}.csv") for name in ("lookup", "duckdb")}
    ratios = [t / o for o, t in zip(ours, theirs, strict=True)]
    return {
        "rows": args.rows,
        "commit": _commit(),
        "cpus": os.cpu_count(),
        "steal": round(steal, 4),
        "lookup_s": round(statistics.median(ours), 3),
        "duckdb_s": round(statistics.median(theirs), 3),
        "duckdb_over_lookup": round(statistics.median(ratios), 3),
        "ratios": sorted(round(x, 3) for x in ratios),
        "lookup_runs_s": [round(x, 3) for x in ours],
        "duckdb_runs_s": [round(x, 3) for x in theirs],
        "report_lines": lines,
    }


def steal_ticks() -> int:
    """The machine's CPU time taken by the hypervisor for others since boot, in clock ticks."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def _commit() -> str:
    here = Path(__file__).parent
    command = ["git", "-C", str(here), "rev-parse", "--short", "HEAD"]
    return subprocess.run(command, capture_output=True, text=True).stdout.strip()


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def markdown(r: dict[str, Any]) -> str:
    return (
        "| rows | commit | `lookup reconcile` | DuckDB, 2 threads | DuckDB's time / ours "
        "| steal |\n"
        "|---|---|---|---|---|---|\n"
        f"| {r['rows']:,} | {r['commit']} | {r['lookup_s']:.2f} s | {r['duckdb_s']:.2f} s | "
        f"**{r['duckdb_over_lookup']:.3f}x** (rounds {min(r['ratios']):.2f}-"
        f"{max(r['ratios']):.2f}x) | {100 * r['steal']:.1f}% |"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--work", default="/tmp/bench-reconcile")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    result = bench(args)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    print(markdown(result))


if __name__ == "__main__":
    main()
