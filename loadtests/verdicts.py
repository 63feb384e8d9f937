"""Pass or fail a load test run: thresholds per kind of request, checked when Locust quits.

Each request name belongs to a kind (`single`, `batch`, `login`); each kind has a failure-ratio
limit and p95/p99 limits, from the environment (defaults in LIMITS). On `quitting` (master or
local runner; a worker's stats are partial), every broken threshold is printed and
`environment.process_exit_code` set to 1. A wrong answer is a failure (the users mark it), so
it breaks the failure-ratio threshold (0 by default).

Also reported: the load generator's CPU (a saturated Locust measures its own queueing, not the
server's latency) and, when LOOKUP_SERVER_PID names the server's supervisor on this machine, the
server's memory at the start and end of the run.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

__all__ = ("Limits", "Verdict", "limits_from_env")

# kind -> (p95 ms, p99 ms), overridable as LOOKUP_<KIND>_P95_MS / LOOKUP_<KIND>_P99_MS.
LIMITS = {
    "single": (25.0, 50.0),  # one lookup: REST, VNeID, gateway check, and the bad traffic
    "batch": (400.0, 800.0),  # 1000 ids, ~700 KB of answers
    "login": (1000.0, 2000.0),  # token take, first check after it: a 70 ms scrypt per login
}


@dataclass(frozen=True)
class Limits:
    p95_ms: float
    p99_ms: float
    max_fail_ratio: float


def limits_from_env(env: dict[str, str] | None = None) -> dict[str, Limits]:
    """Return the limits per kind, with LOOKUP_<KIND>_P95_MS etc. applied."""
    env = dict(os.environ if env is None else env)
    fail = float(env.get("LOOKUP_MAX_FAIL_RATIO") or 0.0)
    out = {}
    for kind, (p95, p99) in LIMITS.items():
        prefix = f"LOOKUP_{kind.upper()}_"
        out[kind] = Limits(
            p95_ms=float(env.get(prefix + "P95_MS") or p95),
            p99_ms=float(env.get(prefix + "P99_MS") or p99),
            max_fail_ratio=fail,
        )
    return out


def cpu_seconds() -> float | None:
    """This process's CPU time so far (user + system), or None without psutil."""
    try:
        import psutil

        times = psutil.Process().cpu_times()
        return float(times.user + times.system)
    except Exception:
        return None


def _rss(pid: int) -> dict[str, float] | None:
    """The server's memory (supervisor and workers), MiB: RSS, and private = RSS - file-backed.

    The snapshot is a memory map: RSS grows as lookups touch more of it, which is page cache,
    not a leak. `private` leaves those pages out.
    """
    try:
        import psutil

        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
        rss = private = 0
        for p in procs:
            info = p.memory_info()
            rss += info.rss
            private += info.rss - getattr(info, "shared", 0)
        return {"rss_mib": rss / 2**20, "private_mib": private / 2**20, "processes": len(procs)}
    except Exception:  # no psutil, no such process, not ours: report nothing
        return None


class Verdict:
    """Collects what the verdict needs during the run; `judge` prints it and sets the exit code."""

    def __init__(self, kinds: dict[str, str], limits: dict[str, Limits] | None = None) -> None:
        self.kinds = kinds  # request name -> kind
        self.limits = limits or limits_from_env()
        self.worker_cpu: dict[str, list[float]] = {}  # (master) each worker's 5-second CPU %
        self.server_pid = int(os.environ.get("LOOKUP_SERVER_PID") or 0) or None
        growth = os.environ.get("LOOKUP_MAX_MEMORY_GROWTH")  # e.g. 0.10
        self.max_growth = float(growth) if growth else None
        self.memory_baseline_s = float(os.environ.get("LOOKUP_MEMORY_BASELINE_S") or 60)
        self.memory: list[tuple[float, dict[str, float]]] = []
        self.started = time.monotonic()

    # -- hooks (bound in locustfile.py) ---------------------------------------------------------
    def on_worker_cpu(self, worker: str, cpu_percent: float) -> None:
        self.worker_cpu.setdefault(worker, []).append(cpu_percent)

    def on_test_start(self) -> None:
        self.started = time.monotonic()
        self.cpu_at_start = cpu_seconds()
        self.sample_memory()

    def sample_memory(self) -> None:
        if self.server_pid:
            found = _rss(self.server_pid)
            if found:
                self.memory.append((time.monotonic() - self.started, found))

    # -- the verdict ------------------------------------------------------------------------------
    def judge(self, environment: Any, out: Any = None) -> list[str]:
        """Print the verdict; set environment.process_exit_code = 1 if a threshold broke."""
        out = out or sys.stderr
        self.sample_memory()
        stats = environment.stats
        broken: list[str] = []
        lines = []
        total = stats.total
        if total.num_requests == 0:
            broken.append("no request was made")
        for entry in sorted(stats.entries.values(), key=lambda e: (e.name, e.method)):
            kind = self.kinds.get(entry.name, "single")
            limit = self.limits[kind]
            p95 = entry.get_response_time_percentile(0.95) or 0
            p99 = entry.get_response_time_percentile(0.99) or 0
            problems = []
            if entry.fail_ratio > limit.max_fail_ratio:
                problems.append(
                    f"failures {entry.num_failures}/{entry.num_requests} "
                    f"({entry.fail_ratio:.2%} > {limit.max_fail_ratio:.2%})"
                )
            if p95 > limit.p95_ms:
                problems.append(f"p95 {p95:.0f} ms > {limit.p95_ms:.0f}")
            if p99 > limit.p99_ms:
                problems.append(f"p99 {p99:.0f} ms > {limit.p99_ms:.0f}")
            label = f"{entry.method} {entry.name}" if entry.method else entry.name
            lines.append(
                f"  {'FAIL' if problems else 'ok  '}  {label:58} {entry.num_requests:>9,} req "
                f"{entry.num_failures:>6,} fail  p95 {p95:>5.0f} ms (<= {limit.p95_ms:.0f})  "
                f"p99 {p99:>5.0f} ms (<= {limit.p99_ms:.0f})  [{kind}]"
            )
            broken.extend(f"{label}: {p}" for p in problems)
        memory = self._memory_lines(broken)
        seconds = max(1e-9, (total.last_request_timestamp or 0) - (total.start_time or 0))
        print(
            f"\nload test verdict ({total.num_requests:,} requests, "
            f"{total.num_failures:,} failed, {total.num_requests / seconds:,.0f} req/s "
            "over the run):",
            file=out,
        )
        for line in lines:
            print(line, file=out)
        for line in self._cpu_lines(environment):
            print(line, file=out)
        for line in memory:
            print(line, file=out)
        if broken:
            print("THRESHOLDS BROKEN:", file=out)
            for reason in broken:
                print(f"  - {reason}", file=out)
            environment.process_exit_code = 1
        else:
            print("all thresholds held", file=out)
            runner = environment.runner
            if total.num_failures and not getattr(runner, "exceptions", None):
                environment.process_exit_code = 0  # failures within LOOKUP_MAX_FAIL_RATIO
        return broken

    def _cpu_lines(self, environment: Any) -> list[str]:
        """The load generator's CPU over the run: this process's, or (master) each worker's."""
        end, start = cpu_seconds(), getattr(self, "cpu_at_start", None)
        elapsed = time.monotonic() - self.started
        if self.worker_cpu:
            means = {w: sum(v) / len(v) for w, v in self.worker_cpu.items() if v}
            mean = max(means.values())
            text = (
                f"workers' CPU, mean over the run: {', '.join(f'{m:.0f}%' for m in means.values())}"
                f" (peak 5-s span {max(max(v) for v in self.worker_cpu.values()):.0f}%)"
            )
        elif start is not None and end is not None:
            mean = 100 * (end - start) / max(1e-9, elapsed)
            text = f"load generator CPU: {mean:.0f}% of one core on average over the run"
        else:
            return []
        if mean >= 85:
            text += (
                " -- Locust was saturated: the request rate is Locust's limit and latencies "
                "include its own queueing; add workers (loadtests/README.md)"
            )
        return [f"  {text}"]

    def _memory_lines(self, broken: list[str]) -> list[str]:
        if len(self.memory) < 2:
            return []
        start = self.memory[0][1]
        # Growth counts from the first sample after the warm-up (buffers, caches and the
        # audit writer settle in the first minute), or from the start of a shorter run.
        t0, first = next(
            ((t, m) for t, m in self.memory[:-1] if t >= self.memory_baseline_s), self.memory[0]
        )
        t1, last = self.memory[-1]
        growth = (last["private_mib"] - first["private_mib"]) / max(1e-9, first["private_mib"])
        lines = [
            f"  server memory ({last['processes']} processes): private {start['private_mib']:.1f}"
            f" MiB at the start, {first['private_mib']:.1f} at {t0:.0f} s, "
            f"{last['private_mib']:.1f} at {t1:.0f} s ({growth:+.1%}); RSS "
            f"{start['rss_mib']:.1f} -> {last['rss_mib']:.1f} MiB (RSS includes the snapshot's "
            "mapped pages)"
        ]
        if self.max_growth is not None and growth > self.max_growth:
            broken.append(f"server private memory grew {growth:.1%} > {self.max_growth:.0%}")
        return lines
