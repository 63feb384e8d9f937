"""Run the standard benchmarks, each against its baseline in the same run, and record them.

    python benchmarks/run_all.py --rows 10000000 --work /tmp/bench10

1. benchmarks/bench_core.py (lookups pinned to --client-core, the build on every core):
   the build against a raw py-lmdb append,
   the compiled core's single and batch answers against a raw py-lmdb get loop (in-process);
2. benchmarks/bench_http.py: single lookups and 1000-id batches over HTTP against
   benchmarks/minimal_app.py, latency at fixed rates, metrics on against off (the server on
   --server-core, wrk and the open-loop client on --client-core).

Then rewrites the generated section of BENCHMARKS.md, between `<!-- run_all:begin -->` and
`<!-- run_all:end -->` (appended at the end the first time; the file is created with its
machine description if missing; all other text is left as it is), and draws
benchmarks/results.png (throughput against the baselines and targets, latency against offered
load), linked from that section. The JSON of each run is kept in WORK/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_core import proc_field  # beside this file: Python puts its folder on sys.path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BEGIN, END = "<!-- run_all:begin -->", "<!-- run_all:end -->"

NEW_FILE = """# Benchmarks

These machines are shared and noisy: absolute figures drift between runs, so every figure is
given with its baseline measured **in the same run**, and the ratio is what counts.

## Machine

{machine}

## Commands

    python benchmarks/run_all.py --rows 10000000 --work /tmp/bench10

runs `benchmarks/bench_core.py` and `benchmarks/bench_http.py` (see their docstrings) and
rewrites the section below.
"""


def machine() -> dict[str, Any]:
    memory_kib = (proc_field("/proc/meminfo", "MemTotal") or "0 kB").split()[0]
    return {
        "cpu": proc_field("/proc/cpuinfo", "model name") or "unknown",
        "cores": os.cpu_count(),
        "memory_mib": int(memory_kib) // 1024,
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def run(argv: list[str], label: str) -> str:
    print(f"run_all: {label}: {' '.join(argv)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"run_all: {label} failed (exit {proc.returncode})")
    print(f"run_all: {label} took {time.monotonic() - started:.0f} s", file=sys.stderr)
    return proc.stdout


def run_core(args: argparse.Namespace) -> tuple[dict[str, Any], str, str]:
    argv = [
        sys.executable,
        str(HERE / "bench_core.py"),
        "--rows",
        str(args.rows),
        "--work",
        args.work,
        "--core",
        str(args.client_core),
    ]
    out = run(argv, "bench_core")
    result, end = json.JSONDecoder().raw_decode(out.lstrip())
    table = out.lstrip()[end:].strip()
    return result, table, shown(argv)


def run_http(args: argparse.Namespace, json_out: Path) -> tuple[dict[str, Any], str, str]:
    argv = [
        sys.executable,
        str(HERE / "bench_http.py"),
        "--rows",
        str(args.rows),
        "--work",
        args.work,
        "--duration",
        str(args.duration),
        "--rounds",
        str(args.rounds),
        "--server-core",
        str(args.server_core),
        "--client-core",
        str(args.client_core),
        "--json-out",
        str(json_out),
    ]
    out = run(argv, "bench_http")
    result = json.loads(json_out.read_text())
    table = out[out.index("| measurement") :].strip()
    return result, table, shown([a for a in argv if a not in ("--json-out", str(json_out))])


def shown(argv: list[str]) -> str:
    """A command as a reader would type it from the repository's root."""
    words = ["python" if a == sys.executable else a for a in argv]
    return " ".join(os.path.relpath(a, ROOT) if a.startswith(str(HERE)) else a for a in words)


def chart(core: dict[str, Any] | None, http: dict[str, Any] | None, path: Path) -> bool:
    """Draw throughput against baselines and targets, and latency against offered load."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "run_all: matplotlib not installed (pip install -e '.[bench]'): no chart",
            file=sys.stderr,
        )
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    bars: list[tuple[str, float, float]] = []  # label, ratio to its baseline, target ratio
    if core:
        c = core.get("lookups", {}).get("compiled", {})
        if c:
            bars += [
                ("core single\nvs raw get", c["single_ratio"], 0.8),
                ("core batch\nvs raw get", c["batch_ratio"], 1.5),
            ]
        if "build" in core:
            bars.append(("build vs\nraw append", core["build"]["ratio_vs_append"], 0.2))
    if http:
        bars.append(("HTTP single vs\nminimal app", http["single"]["ratio"], 0.75))
        bars.append(
            ("HTTP batch ids/s\nvs 500k target", http["batch"]["service_ids_per_s"] / 500_000, 1.0)
        )
        if "metrics" in http:
            m = http["metrics"]
            bars.append(("metrics on\nvs off", m["on_rps"] / m["off_rps"], 0.95))
    xs = range(len(bars))
    left.bar(
        xs, [b[1] for b in bars], color=["tab:green" if b[1] >= b[2] else "tab:red" for b in bars]
    )
    left.scatter(
        xs, [b[2] for b in bars], marker="_", s=900, color="black", zorder=3, label="target"
    )
    left.set_xticks(list(xs), [b[0] for b in bars], fontsize=8)
    left.set_ylabel("ratio to the baseline measured in the same run")
    left.set_title("Throughput (green: target met)")
    left.legend()
    if http and http.get("latency"):
        for label, style in (("service", "-o"), ("minimal", "--s")):
            points = [
                (p[label]["target_rps"], p[label]["p50_ms"], p[label]["p99_ms"])
                for p in http["latency"]
            ]
            rates = [p[0] for p in points]
            right.plot(rates, [p[1] for p in points], style, label=f"{label} p50")
            right.plot(rates, [p[2] for p in points], style, label=f"{label} p99", alpha=0.6)
        right.set_yscale("log")
        right.set_xlabel("offered load, requests/s (open loop)")
        right.set_ylabel("latency, ms (from the scheduled send time)")
        right.set_title("GET /v1/entitlements/{cccd}: latency against load")
        right.legend(fontsize=8)
        right.grid(True, which="both", alpha=0.3)
    rows = (http or core or {}).get("rows")
    fig.suptitle(f"BHYT lookup benchmarks, {rows:,} people" if rows else "BHYT lookup benchmarks")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def section(
    m: dict[str, Any],
    args: argparse.Namespace,
    core: Any,
    http: Any,
    has_chart: bool,
    chart_path: Path,
    out: Path,
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.2f}" for x in m["load_average"])
    lines = [
        BEGIN,
        "## Latest suite run (generated by `benchmarks/run_all.py`; do not edit by hand)",
        "",
        f"{when}: {m['cores']} cores ({m['cpu']}), {m['memory_mib']:,} MiB, {m['os']}, "
        f"Python {m['python']}; load average at the start {load}.",
        "",
        "    " + " ".join(["python benchmarks/run_all.py", *sys.argv[1:]]),
        "",
    ]
    if core:
        table, command = core
        lines += ["### Store and compiled core", "", f"    {command}", "", table, ""]
    if http:
        table, command = http
        lines += ["### HTTP service", "", f"    {command}", "", table, ""]
    if has_chart:
        rel = os.path.relpath(chart_path.resolve(), out.resolve().parent)
        lines += [f"![throughput and latency]({rel})", ""]
    lines.append(END)
    return "\n".join(lines)


def write_benchmarks(path: Path, text: str, m: dict[str, Any]) -> None:
    if path.exists():
        current = path.read_text()
    else:
        desc = (
            f"{m['cores']} cores ({m['cpu']}), {m['memory_mib']:,} MiB RAM, {m['os']}, "
            f"Python {m['python']}."
        )
        current = NEW_FILE.format(machine=desc)
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        new = head + text + tail
    else:
        new = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--work", default="/tmp/lookup-bench")
    p.add_argument("--duration", type=float, default=4.0, help="bench_http seconds per run")
    p.add_argument("--rounds", type=int, default=12, help="bench_http alternating rounds")
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--skip-core", action="store_true")
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    p.add_argument("--chart", default=str(HERE / "results.png"))
    args = p.parse_args()
    m = machine()
    results = Path(args.work) / "results"  # the raw JSON of every run, outside the repository
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    core = http = None
    core_md = http_md = None
    if not args.skip_core:
        core, table, command = run_core(args)
        core_md = (table, command)
        (results / f"core-{args.rows}-{stamp}.json").write_text(json.dumps(core, indent=2))
    if not args.skip_http:
        http, table, command = run_http(args, results / f"http-{args.rows}-{stamp}.json")
        http_md = (table, command)
    has_chart = chart(core, http, Path(args.chart))
    out = Path(args.out)
    write_benchmarks(out, section(m, args, core_md, http_md, has_chart, Path(args.chart), out), m)
    print(f"run_all: wrote {args.out}" + (f" and {args.chart}" if has_chart else ""))


if __name__ == "__main__":
    main()
