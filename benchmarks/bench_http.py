"""Benchmark the HTTP service against a minimal aiohttp app, in one run (issue 3).

    python benchmarks/bench_http.py --rows 10000000 --work /tmp/bench10

On one synthetic store (`lookup synth --seed 1 --as-of 2026-06-01`, as bench_core.py makes it,
reused with its store when present), with an API key, the audit log and metrics on, the server
pinned to one core (--server-core, default 0) and the load generator to another (--client-core,
default 1):

  single   GET /v1/entitlements/{cccd} over random existing CCCDs, `wrk` (one thread, a fixed
           number of connections) at full speed: requests/s of `lookup serve --workers 1`
           against benchmarks/minimal_app.py (same aiohttp + uvloop, a fixed 300-byte body);
           rounds alternate between the two and the medians count (target >= 0.75x);
  latency  p50/p99 at fixed request rates (a share of the service's peak; the issue asks for
           half), from an open-loop client of our own (asyncio + uvloop, below): requests go out
           on a fixed schedule whatever the answers do, and latency counts from the scheduled
           time, so a stall is not hidden by the client waiting for it (wrk's closed loop
           would). Same rates against the minimal app, for reference;
  batch    POST /v1/entitlements/batch with 1000 random ids: ids/s (target >= 500,000), against
           the minimal app answering a canned body of the same size;
  metrics  the same single-lookup run against `lookup serve` with metrics on and with
           `--no-metrics` (target: under 5% apart).

With `--against PYTHON` (the python of another checkout's virtual environment, e.g. the commit
before a change) it measures only `single` and `batch`, of this checkout's service against that
one's, in alternating rounds on the same store: the before/after of a change in one sitting.

wrk must be installed (apt-get install wrk). Prints a JSON summary and a Markdown table;
`--json-out FILE` also writes the JSON (benchmarks/run_all.py reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
BATCH = 1000
AS_OF = "2026-06-01"  # as bench_core.py synthesises, so both can share one store

SINGLE_LUA = r"""
local ids = {}
init = function(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  math.randomseed(os.time() + tonumber(args[3] or "0"))
  wrk.headers["Authorization"] = "Bearer " .. args[2]
end
request = function()
  return wrk.format("GET", "/v1/entitlements/" .. ids[math.random(#ids)])
end
"""

BATCH_LUA = r"""
local bodies = {}
local n = 0
init = function(args)
  local ids = {}
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  math.randomseed(os.time() + tonumber(args[3] or "0"))
  for b = 1, 32 do
    local chunk = {}
    for i = 1, 1000 do chunk[i] = ids[math.random(#ids)] end
    bodies[b] = '{"ids":["' .. table.concat(chunk, '","') .. '"]}'
  end
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
end
request = function()
  n = n % #bodies + 1
  return wrk.format("POST", "/v1/entitlements/batch", nil, bodies[n])
end
"""


# -- setup -----------------------------------------------------------------------------------------
def run_lookup(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "lookup", *args], check=True, stdout=subprocess.DEVNULL)


def prepare_store(work: Path, rows: int) -> tuple[Path, dict[str, Any]]:
    """Return the data directory of a store of `rows` people, building it only if needed."""
    from lookup.store import DataDir

    extract = work / f"extract-{rows}.csv"
    if not extract.exists():
        run_lookup(
            "synth", "--rows", str(rows), "--seed", "1", "--as-of", AS_OF, "--out", str(extract)
        )
    data = DataDir(work / "data")
    try:
        manifest = data.list()[-1].manifest if data.list() else {}
        current = data.current_path()
    except Exception:
        manifest, current = {}, None
    if current is None or manifest.get("rows") != rows:
        shutil.rmtree(data.root, ignore_errors=True)
        run_lookup("build", str(extract), "--data", str(data.root))
        manifest = data.list()[-1].manifest
    return Path(data.root), manifest


def sample_cccds(data: Path, count: int, seed: int = 42) -> list[str]:
    """Random existing CCCDs, by reservoir over the people keys (no list of 10M keys kept)."""
    import lmdb

    from lookup.store import DataDir

    rng = random.Random(seed)
    chosen: list[bytes] = []
    with lmdb.open(str(DataDir(data).current_path()), readonly=True, lock=False, max_dbs=4) as env:
        db = env.open_db(b"people", create=False)
        with env.begin(db=db) as txn:
            for n, key in enumerate(txn.cursor().iternext(values=False)):
                if n < count:
                    chosen.append(key)
                else:
                    j = rng.randrange(n + 1)
                    if j < count:
                        chosen[j] = key
    return [f"{int.from_bytes(k, 'big'):012d}" for k in chosen]


def warm(data: Path) -> None:
    """Load the snapshot into the page cache as a publish leaves it (in 2 MB pieces where the
    kernel can), so a store built long ago, whose cache the kernel has since reclaimed or split,
    is measured as the service serves a fresh snapshot."""
    from lookup.store import DATA_FILE, DataDir
    from lookup.store.pagecache import load_in_large_pages

    load_in_large_pages(DataDir(data).current_path() / DATA_FILE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process pinned to a core, started and stopped by this script."""

    def __init__(self, name: str, argv: list[str], port: int, core: int, log: Path) -> None:
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                ["taskset", "-c", str(core), *argv], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 120
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{name} did not start:\n{log.read_text()}")
            time.sleep(0.2)

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def pids(self) -> list[int]:
        try:
            import psutil

            proc = psutil.Process(self.proc.pid)
            return [proc.pid] + [c.pid for c in proc.children(recursive=True)]
        except Exception:
            return [self.proc.pid]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- wrk ---------------------------------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    return float(m[1]) * _UNITS[m[2]]


def steal_ticks() -> int:
    """The machine's CPU time taken by the hypervisor for others since boot, in clock ticks."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def wrk(
    url: str, script: Path, args: list[str], *, core: int, connections: int, seconds: float
) -> dict[str, Any]:
    """Run wrk (one thread) pinned to `core`; return requests/s, latency, error counts and the
    share of the machine's CPU time the hypervisor gave to other tenants meanwhile (steal)."""
    stolen = steal_ticks()
    out = subprocess.run(
        [
            "taskset",
            "-c",
            str(core),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stolen = (steal_ticks() - stolen) / (os.sysconf("SC_CLK_TCK") * seconds * (os.cpu_count() or 1))
    result: dict[str, Any] = {
        "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out)[1]),
        "steal": round(stolen, 3),
    }
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        result[f"p{pct}_ms"] = round(_ms(m[1]), 3) if m else None
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result["non_2xx"] = int(non2xx[1]) if non2xx else 0
    result["socket_errors"] = errors[1] if errors else None
    if result["non_2xx"]:
        raise SystemExit(f"wrk got {result['non_2xx']} non-2xx answers from {url}:\n{out}")
    return result


# -- the open-loop client ----------------------------------------------------------------------
class _Conn(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, client: _OpenLoop) -> None:
        self.client = client
        self.buffer = b""
        self.started: tuple[float, float] | None = None  # (scheduled, sent)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, request: bytes, scheduled: float) -> None:
        self.started = (scheduled, time.perf_counter())
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        # Kept lean: this client must outrun the server on one core.
        if self.buffer:
            data, self.buffer = self.buffer + data, b""
        end = data.find(b"\r\n\r\n")
        at = data.find(b"Content-Length: ", 0, end)  # aiohttp's spelling
        if end < 0 or at < 0:
            self.buffer = data
            return
        total = end + 4 + int(data[at + 16 : data.find(b"\r", at)])
        if len(data) < total:
            self.buffer = data
            return
        self.buffer = data[total:]
        started, self.started = self.started, None
        if started is not None:
            self.client.done(self, data[9:12] == b"200", started)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.lost(self)


class _OpenLoop:
    """Send requests at `rate` per second on a fixed schedule; record latency per request."""

    def __init__(self, requests: list[bytes], rate: float, seconds: float) -> None:
        self.requests = requests
        self.rate = rate
        self.total = int(rate * seconds)
        self.idle: list[_Conn] = []
        self.waiting: deque[float] = deque()  # scheduled times of requests with no free conn
        self.latency: list[float] = []  # from the scheduled time (what a caller sees)
        self.service: list[float] = []  # from the moment it was written
        self.errors = 0
        self.lost_in_flight = 0
        self.completed = 0
        self.n = 0
        self.finished = asyncio.Event()

    def _request(self) -> bytes:
        return self.requests[self.n % len(self.requests)]

    def done(self, conn: _Conn, ok: bool, started: tuple[float, float]) -> None:
        now = time.perf_counter()
        self.latency.append(now - started[0])
        self.service.append(now - started[1])
        self.completed += 1
        if not ok:
            self.errors += 1
        if self.waiting:
            conn.send(self._request(), self.waiting.popleft())
        else:
            self.idle.append(conn)
        if self.completed + self.lost_in_flight >= self.total:
            self.finished.set()

    def lost(self, conn: _Conn) -> None:
        if conn.started is not None:
            self.errors += 1
            self.lost_in_flight += 1
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)

    async def run(self, host: str, port: int, connections: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for _ in range(connections):
            _, conn = await loop.create_connection(lambda: _Conn(self), host, port)
            self.idle.append(conn)
        start = time.perf_counter() + 0.05
        interval = 1.0 / self.rate
        while self.n < self.total:
            due = start + self.n * interval
            wait = due - time.perf_counter()
            if wait > 0.002:
                await asyncio.sleep(wait - 0.001)
                continue
            if wait > 0:
                await asyncio.sleep(0)  # spin: this core is the client's alone
                continue
            if self.idle:
                self.idle.pop().send(self._request(), due)
            else:
                self.waiting.append(due)
            self.n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.finished.wait(), 30)
        elapsed = time.perf_counter() - start
        return self.summary(elapsed)

    def summary(self, elapsed: float) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float | None:
            if not values:
                return None
            values = sorted(values)
            return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 3)

        return {
            "target_rps": round(self.rate),
            "achieved_rps": round(self.completed / elapsed),
            "completed": self.completed,
            "errors": self.errors,
            "p50_ms": pct(self.latency, 0.50),
            "p90_ms": pct(self.latency, 0.90),
            "p99_ms": pct(self.latency, 0.99),
            "p999_ms": pct(self.latency, 0.999),
            "max_ms": pct(self.latency, 1.0),
            "service_p50_ms": pct(self.service, 0.50),
            "service_p99_ms": pct(self.service, 0.99),
        }


def openloop_main(args: argparse.Namespace) -> None:
    """`--openloop`: run the client (in its own process, pinned by the caller) and print JSON."""
    import uvloop

    ids = Path(args.ids_file).read_text().split()
    auth = f"Authorization: Bearer {args.key}\r\n" if args.key else ""
    requests = [
        f"GET /v1/entitlements/{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
        for i in random.Random(7).sample(ids, min(len(ids), 20_000))
    ]
    client = _OpenLoop(requests, args.rate, args.seconds)
    result = uvloop.run(client.run("127.0.0.1", args.port, args.connections))
    print(orjson.dumps(result).decode())


def openloop(
    port: int,
    ids: Path,
    key: str | None,
    rate: float,
    seconds: float,
    *,
    core: int,
    connections: int,
) -> dict[str, Any]:
    argv = [
        "taskset",
        "-c",
        str(core),
        sys.executable,
        __file__,
        "--openloop",
        "--port",
        str(port),
        "--ids-file",
        str(ids),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--connections",
        str(connections),
    ]
    if key:
        argv += ["--key", key]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return orjson.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- the benchmark -------------------------------------------------------------------------------
def median_of(runs: list[dict[str, Any]], key: str = "rps") -> float:
    return statistics.median(r[key] for r in runs)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from lookup.service.clients import ClientStore

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data, manifest = prepare_store(work, args.rows)
    scratch = Path(tempfile.mkdtemp(prefix="bench-http-", dir=work))
    clients = ClientStore(str(data))
    name = f"bench-http-{os.getpid()}-{int(time.time())}"
    key = clients.add(name, ["his", "batch", "vneid", "admin"], rate_per_s=0)
    servers: list[Server] = []
    core, client = args.server_core, args.client_core
    try:
        ids = scratch / "ids.txt"
        ids.write_text("\n".join(sample_cccds(data, args.ids)) + "\n")
        single, batch = scratch / "single.lua", scratch / "batch.lua"
        single.write_text(SINGLE_LUA)
        batch.write_text(BATCH_LUA)
        warm(data)

        def start(label: str, argv: list[str]) -> Server:
            port = free_port()
            server = Server(
                label, [*argv, "--port", str(port)], port, core, scratch / f"{label}.log"
            )
            servers.append(server)
            return server

        service = start(
            "service",
            [sys.executable, "-m", "lookup", "serve", "--data", str(data), "--workers", "1"],
        )
        batch_bytes = len(_post_batch(service.port, key, ids))
        if args.against:  # the other checkout's service stands where the minimal app would
            baseline = start(
                "against",
                [args.against, "-m", "lookup", "serve", "--data", str(data), "--workers", "1"],
            )
        else:
            baseline = start(
                "minimal",
                [sys.executable, str(HERE / "minimal_app.py"), "--batch-bytes", str(batch_bytes)],
            )

        def measure(server: Server, script: Path, seconds: float) -> dict[str, Any]:
            return wrk(
                server.url,
                script,
                [str(ids), key, str(server.port)],
                core=client,
                connections=args.connections,
                seconds=seconds,
            )

        for server in (service, baseline):  # warm-up: caches, the JIT-less interpreter's dicts
            measure(server, single, 3)
            measure(server, batch, 2)

        result: dict[str, Any] = {
            "rows": manifest.get("rows"),
            "published": manifest.get("published"),
            "store_bytes": manifest.get("store_bytes"),
            "batch_answer_bytes": batch_bytes,
            "settings": {
                "duration_s": args.duration,
                "rounds": args.rounds,
                "connections": args.connections,
                "server_core": core,
                "client_core": client,
                "audit_fsync": "interval",
            },
        }

        def paired(a: Server, b: Server, script: Path, rounds: int) -> dict[str, Any]:
            """Runs of a and b back to back, order alternating: the ratio is the median of each
            pair's ratio, so drift on a shared machine between pairs cancels out."""
            ra, rb = [], []
            for r in range(rounds):
                order = [(a, ra), (b, rb)]
                for server, runs in order if r % 2 == 0 else order[::-1]:
                    runs.append(measure(server, script, args.duration))
            ratios = sorted(x["rps"] / y["rps"] for x, y in zip(ra, rb, strict=True))
            return {
                "a": ra,
                "b": rb,
                "ratio": statistics.median(ratios),
                "ratios": [round(x, 3) for x in ratios],
            }

        single_runs = paired(service, baseline, single, args.rounds)
        batch_runs = paired(service, baseline, batch, args.rounds)
        if args.against:
            result["against"] = {
                "python": args.against,
                **{
                    kind: {
                        "ratio": round(runs["ratio"], 3),
                        "pair_ratios": runs["ratios"],
                        "this_rps": round(median_of(runs["a"]), 1),
                        "against_rps": round(median_of(runs["b"]), 1),
                        "steal": round(median_of(runs["a"] + runs["b"], "steal"), 3),
                        "steal_max": max(r["steal"] for r in runs["a"] + runs["b"]),
                    }
                    for kind, runs in (("single", single_runs), ("batch", batch_runs))
                },
            }
            return result
        svc_rps, min_rps = median_of(single_runs["a"]), median_of(single_runs["b"])
        result["single"] = {
            "service_rps": round(svc_rps),
            "minimal_rps": round(min_rps),
            "ratio": round(single_runs["ratio"], 3),
            "pair_ratios": single_runs["ratios"],
            "service_runs": [round(r["rps"]) for r in single_runs["a"]],
            "minimal_runs": [round(r["rps"]) for r in single_runs["b"]],
            "steal": round(median_of(single_runs["a"] + single_runs["b"], "steal"), 3),
            "steal_max": max(r["steal"] for r in single_runs["a"] + single_runs["b"]),
            "wrk_service_p50_ms": median_of(single_runs["a"], "p50_ms"),
            "wrk_service_p99_ms": median_of(single_runs["a"], "p99_ms"),
        }
        svc_b, min_b = median_of(batch_runs["a"]), median_of(batch_runs["b"])
        result["batch"] = {
            "service_ids_per_s": round(svc_b * BATCH),
            "service_batches_per_s": round(svc_b, 1),
            "minimal_batches_per_s": round(min_b, 1),
            "ratio": round(batch_runs["ratio"], 3),
            "service_runs_ids_per_s": [round(r["rps"] * BATCH) for r in batch_runs["a"]],
            "wrk_service_p50_ms": median_of(batch_runs["a"], "p50_ms"),
            "wrk_service_p99_ms": median_of(batch_runs["a"], "p99_ms"),
        }

        curve = []
        for share in args.latency_shares:
            rate = share * svc_rps
            point = {"share_of_service_peak": share}
            for server, label in ((service, "service"), (baseline, "minimal")):
                point[label] = openloop(
                    server.port,
                    ids,
                    key,
                    rate,
                    args.duration,
                    core=client,
                    connections=args.openloop_connections,
                )
            curve.append(point)
        result["latency"] = curve
        half = min(curve, key=lambda p: abs(p["share_of_service_peak"] - 0.5))
        result["latency_at_half_peak"] = {
            "rate_rps": half["service"]["target_rps"],
            "achieved_rps": half["service"]["achieved_rps"],
            "p50_ms": half["service"]["p50_ms"],
            "p99_ms": half["service"]["p99_ms"],
            "minimal_p50_ms": half["minimal"]["p50_ms"],
            "minimal_p99_ms": half["minimal"]["p99_ms"],
            "client": "open loop (asyncio + uvloop, fixed schedule, latency from the scheduled "
            "time)",
        }

        if not args.skip_metrics:
            # Both fresh, alike but for the switch (the first service has served batches).
            on = start(
                "metrics-on",
                [sys.executable, "-m", "lookup", "serve", "--data", str(data), "--workers", "1"],
            )
            off = start(
                "metrics-off",
                [
                    sys.executable,
                    "-m",
                    "lookup",
                    "serve",
                    "--data",
                    str(data),
                    "--workers",
                    "1",
                    "--no-metrics",
                ],
            )
            for server in (on, off):
                measure(server, single, 3)
            # A few percent is the question: twice the rounds of the other measurements.
            m = paired(on, off, single, 2 * args.rounds)
            result["metrics"] = {
                "on_rps": round(median_of(m["a"])),
                "off_rps": round(median_of(m["b"])),
                "cost": round(1 - m["ratio"], 4),
                "pair_costs": [round(1 - x, 3) for x in m["ratios"]],
                "on_runs": [round(r["rps"]) for r in m["a"]],
                "off_runs": [round(r["rps"]) for r in m["b"]],
                "how": "`lookup serve --workers 1` against `lookup serve --workers 1 --no-metrics`",
            }
        return result
    finally:
        for server in servers:
            server.stop()
        with contextlib.suppress(Exception):
            clients.revoke(name)
        shutil.rmtree(scratch, ignore_errors=True)


def _post_batch(port: int, key: str, ids: Path) -> bytes:
    """One real 1000-id answer (its size sets the minimal app's canned batch body)."""
    import http.client

    chosen = ids.read_text().split()[:BATCH]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/v1/entitlements/batch",
            body=orjson.dumps({"ids": chosen}),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        reply = conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise SystemExit(f"batch answered {reply.status}: {body[:200]!r}")
        return body
    finally:
        conn.close()


def markdown(r: dict[str, Any]) -> str:
    if "against" in r:
        st = r["settings"]
        lines = [
            "| measurement | this checkout | the other | ratio (median of pairs) | pairs |",
            "|---|---|---|---|---|",
        ]
        for kind, unit in (("single", "req/s"), ("batch", "batches/s")):
            a = r["against"][kind]
            lines.append(
                f"| {kind} | {a['this_rps']:,} {unit} | {a['against_rps']:,} {unit} | "
                f"{a['ratio']:.3f}x | {min(a['pair_ratios']):.2f}-{max(a['pair_ratios']):.2f}x |"
            )
        steal = r["against"]["single"]
        return "\n".join(lines) + (
            f"\n\nStore: {r['rows']:,} rows; both `lookup serve --workers 1` pinned to core "
            f"{st['server_core']}, wrk on core {st['client_core']}; {st['rounds']} alternating "
            f"rounds of {st['duration_s']:g} s; steal median {steal['steal']:.0%} "
            f"(at most {steal['steal_max']:.0%})."
        )
    s, b, h = r["single"], r["batch"], r["latency_at_half_peak"]
    rows = [
        (
            "minimal aiohttp app, fixed 300-byte body",
            f"{s['minimal_rps']:,} req/s",
            "1.00x (baseline)",
        ),
        (
            "`GET /v1/entitlements/{cccd}`, random ids",
            f"{s['service_rps']:,} req/s",
            f"{s['ratio']:.2f}x (target >= 0.75x)"
            + (
                f"; pairs {min(s['pair_ratios']):.2f}-{max(s['pair_ratios']):.2f}x"
                if s.get("pair_ratios")
                else ""
            ),
        ),
        (
            f"latency at {h['rate_rps']:,} req/s offered (half the peak), open loop",
            f"p50 {h['p50_ms']:.2f} ms, p99 {h['p99_ms']:.2f} ms",
            f"minimal app: p50 {h['minimal_p50_ms']:.2f} ms, p99 {h['minimal_p99_ms']:.2f} ms",
        ),
        (
            "minimal app, canned batch answer of the same size",
            f"{b['minimal_batches_per_s']:,} batches/s",
            "1.00x (baseline)",
        ),
        (
            "`POST /v1/entitlements/batch`, 1000 random ids",
            f"{b['service_ids_per_s']:,} ids/s",
            f"{b['ratio']:.2f}x; target >= 500,000 ids/s",
        ),
    ]
    if "metrics" in r:
        m = r["metrics"]
        costs = m.get("pair_costs") or [m["cost"]]
        rows.append(
            (
                "metrics on vs off (single lookups)",
                f"{m['on_rps']:,} vs {m['off_rps']:,} req/s",
                f"{m['cost']:+.1%} cost, median of {len(costs)} pairs "
                f"({min(costs):+.1%} to {max(costs):+.1%}); target < 5%",
            )
        )
    table = "| measurement | rate | vs baseline |\n|---|---|---|\n" + "\n".join(
        f"| {m} | {rate} | {ratio} |" for m, rate, ratio in rows
    )
    st = r["settings"]
    return (
        f"{table}\n\nStore: {r['rows']:,} rows; `lookup serve --workers 1` (audit fsync "
        f"{st['audit_fsync']}, metrics on) pinned to core {st['server_core']}, wrk "
        f"(1 thread, {st['connections']} connections) and the open-loop client pinned to core "
        f"{st['client_core']}; {st['rounds']} alternating rounds of {st['duration_s']:g} s "
        "(metrics: twice as many); ratios are medians of back-to-back pairs. Other tenants "
        f"took a median {s.get('steal', 0):.0%} (at most {s.get('steal_max', 0):.0%}) of the "
        "machine's CPU time during the single-lookup runs (steal). Latency counts "
        "from each request's scheduled send time (open loop, so a stall shows in full); on a "
        "VM an idle vCPU's wake-up adds to it at low rates, which the minimal app's figures "
        "at the same rate show."
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--work", default="/tmp/lookup-bench")
    # Many short rounds rather than a few long ones: the two runs of a pair are then seconds
    # apart, and this machine's noise (other tenants) changes over tens of seconds.
    p.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    p.add_argument("--rounds", type=int, default=12, help="alternating rounds; medians count")
    p.add_argument("--connections", type=int, default=32, help="wrk connections")
    p.add_argument("--openloop-connections", type=int, default=32)
    p.add_argument("--ids", type=int, default=100_000, help="random existing CCCDs to ask")
    p.add_argument(
        "--latency-shares",
        type=float,
        nargs="+",
        default=[0.25, 0.5, 0.75, 0.9],
        help="open-loop rates, as shares of the service's peak",
    )
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--skip-metrics", action="store_true")
    p.add_argument(
        "--against",
        metavar="PYTHON",
        help="compare with the service of another checkout's virtual environment python",
    )
    p.add_argument("--json-out", metavar="FILE")
    # Internal: the pinned helper processes this script starts.
    p.add_argument("--openloop", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--ids-file", help=argparse.SUPPRESS)
    p.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--key", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.openloop:
        return openloop_main(args)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    result = bench(args)
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    print(text)
    print(markdown(result))


if __name__ == "__main__":
    main()
