"""Prometheus metrics shared by all workers (SPEC.md 3: `GET /metrics`).

The supervisor maps one anonymous shared block (`SharedCounters`) before it forks; each worker
writes only its own slot range, so increments never race and need no lock, and `/metrics` on any
worker sums every worker's range. Counting a request is three array increments: labels are
mapped to slot numbers up front from small fixed sets (unknown values count as "other"), so no
label dict is built per request.

Layout, in unsigned 64-bit slots:

    header      [restarts, workers, 6 spare]                 written by the supervisor only
    worker i    requests[route][status]
                histogram[route][bucket] (not cumulative; the last bucket is +Inf)
                duration_sum_seconds[route]   (a float64 in the same slot size)
                results[code]
"""

from __future__ import annotations

import mmap
from bisect import bisect_left
from collections.abc import Iterable

from lookup import schema

__all__ = ("BUCKETS", "RESULT_CODES", "ROUTES", "STATUSES", "Metrics", "SharedCounters")

# Route labels are the path templates a user reads in the API description (lookup.schema.ROUTES),
# and "other" for any path the API does not have; the short names are accepted as aliases.
ROUTES = (*(route.path for route in schema.ROUTES), "other")
ALIASES = {route.label: route.path for route in schema.ROUTES}
# SPEC.md 3 lists every status the API answers; anything else (a bug) is "other".
STATUSES = (200, 400, 401, 403, 404, 405, 408, 413, 429, 500, 503)
# A code the schema does not know (a bug) is counted as "other".
RESULT_CODES = (*schema.RESULT_CODES, "other")
# Seconds. A point read answers in well under a millisecond; a 1000-id batch in a few tens.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

NR, NS, NB, NC = len(ROUTES), len(STATUSES) + 1, len(BUCKETS) + 1, len(RESULT_CODES)
HEADER = 8
RESTARTS, WORKERS = 0, 1
REQUESTS = 0
HISTOGRAM = REQUESTS + NR * NS
DURATION_SUM = HISTOGRAM + NR * NB
RESULTS = DURATION_SUM + NR
PER_WORKER = RESULTS + NC
SLOT = 8  # bytes


class SharedCounters:
    """An anonymous shared-memory block of counters for `workers` processes; map before fork."""

    def __init__(self, workers: int) -> None:
        self.workers = int(workers)
        # mmap(-1, ...) is MAP_SHARED | MAP_ANONYMOUS: forked children write the same pages.
        self._map = mmap.mmap(-1, (HEADER + self.workers * PER_WORKER) * SLOT)
        self.slots = memoryview(self._map).cast("Q")
        # The same memory seen as doubles, for the duration sums (no int conversion per request).
        self.seconds = memoryview(self._map).cast("d")
        self.slots[WORKERS] = self.workers

    def add_restart(self) -> None:
        """Count one worker restart (the supervisor calls this)."""
        self.slots[RESTARTS] += 1

    def set_workers(self, count: int) -> None:
        """Record how many workers are running (the supervisor calls this)."""
        self.slots[WORKERS] = count

    def close(self) -> None:
        self.slots.release()
        self.seconds.release()
        self._map.close()


class Metrics:
    """One worker's view of the counters: cheap `request()`/`result()`, and `render()`."""

    def __init__(self, shared: SharedCounters | None, worker_index: int) -> None:
        if shared is None:  # one process (tests, `lookup get`-style use): a private block
            self._private = bytearray((HEADER + PER_WORKER) * SLOT)
            self._slots = memoryview(self._private).cast("Q")
            self._seconds = memoryview(self._private).cast("d")
            self._slots[WORKERS] = 1
            self._workers = 1
            worker_index = 0
        else:
            if not 0 <= worker_index < shared.workers:
                raise ValueError(f"worker_index {worker_index} outside 0..{shared.workers - 1}")
            self._slots = shared.slots
            self._seconds = shared.seconds
            self._workers = shared.workers
        base = HEADER + worker_index * PER_WORKER
        route_index = {name: i for i, name in enumerate(ROUTES)}
        route_index.update({alias: route_index[path] for alias, path in ALIASES.items()})
        # Precomputed slot offsets: request() does two dict lookups and three adds, no more.
        self._route_slots = {
            name: (base + REQUESTS + i * NS, base + HISTOGRAM + i * NB, base + DURATION_SUM + i)
            for name, i in route_index.items()
        }
        self._other_route = self._route_slots["other"]
        self._statuses = {status: i for i, status in enumerate(STATUSES)}
        self._other_status = len(STATUSES)
        self._results = {code: base + RESULTS + i for i, code in enumerate(RESULT_CODES)}
        self._other_result = base + RESULTS + RESULT_CODES.index("other")

    def request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        requests, histogram, duration = self._route_slots.get(route, self._other_route)
        slots = self._slots
        slots[requests + self._statuses.get(status, self._other_status)] += 1
        slots[histogram + bisect_left(BUCKETS, seconds)] += 1
        self._seconds[duration] += seconds

    def result(self, code: str, count: int = 1) -> None:
        """Count `count` answers with this result code."""
        self._slots[self._results.get(code, self._other_result)] += count

    # -- reading ----------------------------------------------------------------------------
    def totals(self) -> list[float]:
        """Return the per-worker slots summed over all workers (duration sums as floats)."""
        totals: list[float] = [0] * PER_WORKER
        for w in range(self._workers):
            start = HEADER + w * PER_WORKER
            counts = self._slots[start : start + PER_WORKER].tolist()
            sums = self._seconds[start + DURATION_SUM : start + RESULTS].tolist()
            counts[DURATION_SUM:RESULTS] = sums
            for i, value in enumerate(counts):
                totals[i] += value
        return totals

    def render(
        self, *, snapshot_id: str | None, snapshot_age_s: float | None, audit_backlog: int
    ) -> str:
        """Return every series in the Prometheus text exposition format (version 0.0.4)."""
        t = self.totals()
        out: list[str] = []

        def family(name: str, kind: str, help: str, samples: Iterable[str]) -> None:
            out.append(f"# HELP {name} {help}\n# TYPE {name} {kind}\n")
            out.extend(samples)

        family(
            "lookup_requests_total",
            "counter",
            "HTTP requests answered, by route and status.",
            (
                f'lookup_requests_total{{route="{route}",status="{status}"}} {n}\n'
                for r, route in enumerate(ROUTES)
                for s, status in enumerate((*map(str, STATUSES), "other"))
                if (n := t[REQUESTS + r * NS + s])
            ),
        )
        family(
            "lookup_request_duration_seconds",
            "histogram",
            "Time from request to response, by route.",
            self._histogram(t),
        )
        family(
            "lookup_results_total",
            "counter",
            "Answers by result code (SPEC.md 3.1).",
            (
                f'lookup_results_total{{code="{code}"}} {n}\n'
                for i, code in enumerate(RESULT_CODES)
                if (n := t[RESULTS + i])
            ),
        )
        family(
            "lookup_snapshot_info",
            "gauge",
            "The snapshot this worker answers from.",
            [f'lookup_snapshot_info{{snapshot="{_escape(snapshot_id)}"}} 1\n']
            if snapshot_id
            else [],
        )
        family(
            "lookup_snapshot_age_seconds",
            "gauge",
            "Seconds since the served snapshot was built.",
            [f"lookup_snapshot_age_seconds {snapshot_age_s:.3f}\n"]
            if snapshot_age_s is not None
            else [],
        )
        family(
            "lookup_audit_backlog",
            "gauge",
            "Audit records accepted but not yet written, in the answering worker.",
            [f"lookup_audit_backlog {int(audit_backlog)}\n"],
        )
        family(
            "lookup_worker_restarts_total",
            "counter",
            "Workers the supervisor restarted after they died.",
            [f"lookup_worker_restarts_total {self._slots[RESTARTS]}\n"],
        )
        family(
            "lookup_workers",
            "gauge",
            "Worker processes serving.",
            [f"lookup_workers {self._slots[WORKERS]}\n"],
        )
        return "".join(out)

    def _histogram(self, t: list[float]) -> Iterable[str]:
        bounds = [*(f"{b:g}" for b in BUCKETS), "+Inf"]
        name = "lookup_request_duration_seconds"
        for r, route in enumerate(ROUTES):
            counts = [int(n) for n in t[HISTOGRAM + r * NB : HISTOGRAM + (r + 1) * NB]]
            total = sum(counts)
            if not total:
                continue
            running = 0
            for bound, n in zip(bounds, counts, strict=True):
                running += n  # Prometheus buckets are cumulative: le="x" counts all <= x
                yield f'{name}_bucket{{route="{route}",le="{bound}"}} {running}\n'
            yield f'{name}_sum{{route="{route}"}} {t[DURATION_SUM + r]:.6f}\n'
            yield f'{name}_count{{route="{route}"}} {total}\n'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
