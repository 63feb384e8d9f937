"""`lookup serve` and `lookup demo` as real processes on loopback (lookup/service/supervisor.py,
demo.py): workers restarted after SIGKILL, a SIGTERM drain that completes in-flight requests, and
an audit record for every answer a client received, even from a worker killed mid-load (SPEC.md
5)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import http.client
import json
import os
import queue
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import aiohttp
import psutil
import pytest

from lookup.ingest.build import build
from lookup.service.audit import load_secret
from lookup.service.clients import ClientStore
from lookup.store import DataDir

from helpers.files import person, write_csv

PEOPLE = 300
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, str, list[str]]:
    """A built data directory, an unlimited key with every scope, and the CCCDs it holds."""
    root = tmp_path_factory.mktemp("serve")
    rows = [person(n) for n in range(PEOPLE)]
    build(DataDir(root / "data"), str(write_csv(root / "extract.csv", rows)))
    key = ClientStore(root / "data").add("tester", ["his", "vneid", "batch", "admin"], rate_per_s=0)
    return root / "data", key, [row["cccd"] for row in rows]


class Lines:
    """A process's output, line by line, with a timeout (a thread reads the pipe).

    select() on a buffered pipe is not enough: one read may pull several lines into Python's
    buffer, and select then waits for bytes that already arrived.
    """

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.queue.put(line)
        self.queue.put("")  # EOF

    def readline(self, timeout: float) -> str:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s") from None

    def rest(self, timeout: float = 30) -> str:
        self.thread.join(timeout)
        out = []
        while not self.queue.empty():
            out.append(self.queue.get())
        return "".join(out)


class Server:
    """A `python -m lookup serve` subprocess."""

    def __init__(self, data: Path, *args: str, workers: int = 2, open_files: int = 0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # stderr to a file: a pipe nobody reads could fill up and stall the workers.
        self.errors = data.parent / f"serve-{self.port}.err"
        with open(self.errors, "w") as errors:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "lookup",
                    "serve",
                    "--data",
                    str(data),
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                    *args,
                ],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                # open_files: the open-file limit, soft and hard, of the supervisor and workers.
                preexec_fn=(
                    (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files,) * 2))
                    if open_files
                    else None
                ),
            )
        self.out = Lines(self.proc.stdout)
        self.first_line = self.out.readline(timeout=30)
        assert self.first_line.startswith(f"serving {self.url} with {workers} worker"), (
            self.first_line + self.stderr()
        )

    def stderr(self) -> str:
        return self.errors.read_text()

    def workers(self) -> list[int]:
        return sorted(p.pid for p in psutil.Process(self.proc.pid).children())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def server(store):
    server = Server(store[0])
    yield server
    assert server.stop() == 0


def get(url: str, key: str | None = None) -> tuple[int, bytes]:
    async def main():
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
            return r.status, await r.read()

    return asyncio.run(main())


def wait_until(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_serves_with_two_workers_each_its_own_process(store, server):
    data, key, cccds = store
    assert "snapshot " + DataDir(data).current_id() in server.first_line
    status, body = get(f"{server.url}/v1/entitlements/{cccds[0]}", key)
    assert status == 200 and json.loads(body)["person"]["cccd"] == cccds[0]
    assert get(f"{server.url}/v1/entitlements/{cccds[0]}")[0] == 401
    workers = server.workers()
    assert len(workers) == 2 and server.proc.pid not in workers
    seen = wait_until(
        lambda: len({json.loads(get(f"{server.url}/readyz")[1])["pid"] for _ in range(20)}) == 2,
        what="both workers to answer /readyz",
    )
    assert seen
    metrics = get(f"{server.url}/metrics", key)[1].decode()
    assert "lookup_workers 2" in metrics


def test_a_killed_worker_is_restarted_and_serves(store, server):
    data, key, cccds = store
    before = server.workers()
    os.kill(before[0], signal.SIGKILL)
    after = wait_until(
        lambda: (w := server.workers()) and len(w) == 2 and before[0] not in w and w,
        what="the supervisor to restart the worker",
    )
    assert before[1] in after
    # The new worker listens too: every answer comes back, whichever worker the kernel picks.
    for cccd in cccds[:40]:
        assert get(f"{server.url}/v1/entitlements/{cccd}", key)[0] == 200
    pids = wait_until(
        lambda: (
            (p := {json.loads(get(f"{server.url}/readyz")[1])["pid"] for _ in range(30)})
            == set(after)
            and p
        ),
        what="the restarted worker to answer",
    )
    assert pids == set(after)
    metrics = get(f"{server.url}/metrics", key)[1].decode()
    assert re.search(r"^lookup_worker_restarts_total [1-9]", metrics, re.M), metrics
    assert f"(pid {before[0]}) was killed by signal 9; restarting" in server.stderr()


def audit_counts(data: Path) -> Counter:
    found: Counter = Counter()
    for path in (data / "audit").glob("audit-*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                found.update(zip(record["ids"], record["results"], strict=True))
    return found


def keyed_hash(secret: bytes, id: str) -> str:
    """The audit's hash_id, computed independently (keyed BLAKE2b-128)."""
    return hashlib.blake2b(id.encode(), key=secret, digest_size=16).hexdigest()


def test_every_answer_received_is_audited_even_from_a_killed_worker(store, server):
    data, key, cccds = store
    secret = load_secret(data)
    before = audit_counts(data)
    received: Counter = Counter()
    failures = 0
    killed = []

    async def client(session, n):
        nonlocal failures
        i = n
        while time.monotonic() < stop_at:
            cccd = cccds[i % len(cccds)]
            i += 7
            try:
                async with session.get(f"{server.url}/v1/entitlements/{cccd}") as r:
                    if r.status == 200:
                        body = await r.json()
                        received[(keyed_hash(secret, cccd), body["result"]["code"])] += 1
            except (TimeoutError, aiohttp.ClientError):
                failures += 1  # the killed worker's connections: no answer, nothing owed

    async def killer():
        await asyncio.sleep(0.6)
        victim = server.workers()[0]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    async def main():
        nonlocal stop_at
        stop_at = time.monotonic() + 2.0
        headers = {"Authorization": f"Bearer {key}"}
        connector = aiohttp.TCPConnector(limit=32, force_close=False)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            await asyncio.gather(killer(), *(client(session, n) for n in range(24)))

    stop_at = 0.0
    asyncio.run(main())
    assert killed and sum(received.values()) > 200
    audited = audit_counts(data) - before
    missing = {k: n - audited[k] for k, n in received.items() if audited[k] < n}
    assert not missing, f"answers without an audit record: {missing}"
    # The clear id is in no audit file.
    text = "".join(p.read_text() for p in (data / "audit").iterdir())
    assert not any(cccd in text for cccd in cccds)
    wait_until(lambda: len(server.workers()) == 2, what="the restart after the load")


def test_sigterm_drains_in_flight_requests_and_exits_zero(store):
    """Every request sent up to the signal is answered in full; the workers then exit and the
    service exits 0."""
    data, key, cccds = store
    server = Server(data)
    body = {"ids": [cccds[i % len(cccds)] for i in range(1000)]}
    results = []
    stopping = asyncio.Event()

    async def main():
        headers = {"Authorization": f"Bearer {key}"}
        connector = aiohttp.TCPConnector(limit=40)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            # Open the connections first: the drain is about connections a worker has
            # accepted, not about those still in a closing listener's queue.
            await asyncio.gather(*(session.get(f"{server.url}/healthz") for _ in range(40)))

            async def batches():
                # Batch after batch until SIGTERM is sent, so some are in flight when it lands
                # and some are sent just as it does, however fast the service answers.
                while not stopping.is_set():
                    async with session.post(f"{server.url}/v1/entitlements/batch", json=body) as r:
                        answer = await r.read()
                        results.append(
                            (r.status, len(json.loads(answer)["results"]), time.monotonic())
                        )

            tasks = [asyncio.ensure_future(batches()) for _ in range(40)]
            await asyncio.sleep(0.3)
            stopping.set()
            server.proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await asyncio.gather(*tasks)
            return signalled

    try:
        signalled = asyncio.run(main())
        assert results and {(status, n) for status, n, _ in results} == {(200, 1000)}
        assert any(done > signalled for _, _, done in results), "all finished before SIGTERM"
        assert server.proc.wait(timeout=30) == 0
        assert "stopped" in server.out.rest()
    finally:
        server.stop()


def test_after_sigterm_an_open_connection_is_still_answered_and_told_to_close(store):
    """A request sent on a kept-alive connection just after SIGTERM (the client could not know)
    is answered, with `Connection: close`, not dropped."""
    data, key, cccds = store
    server = Server(data, workers=1)
    request = (
        f"GET /v1/entitlements/{cccds[0]} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(request)
            first = _read_answer(client)
            assert first.startswith(b"HTTP/1.1 200") and b"Connection: close" not in first
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)  # the worker has stopped listening and is draining
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
            client.sendall(request)
            second = _read_answer(client)
            assert second.startswith(b"HTTP/1.1 200") and b"Connection: close" in second
            assert client.recv(1) == b""  # then the worker closes it
        assert server.proc.wait(timeout=30) == 0
    finally:
        server.stop()


def _read_answer(client: socket.socket) -> bytes:
    """Read one HTTP answer with a Content-Length from the socket."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = client.recv(65536)
        assert chunk, f"connection closed mid-answer: {got[:200]!r}"
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
    while len(body) < length:
        chunk = client.recv(65536)
        assert chunk, "connection closed mid-answer"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_flood_of_idle_sockets_does_not_shut_out_a_new_client(store):
    """Issue 16: idle connections past the open-file limit once left a worker unable to accept
    (and to poll for snapshots): a normal client got no answer at all."""
    data, key, cccds = store
    server = Server(data, workers=1, open_files=300)
    flood: list[socket.socket] = []
    try:
        for _ in range(600):  # twice the worker's open-file limit, sending nothing
            flood.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        time.sleep(0.5)
        answered = 0
        for n in range(15):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            try:
                conn.request(
                    "GET",
                    f"/v1/entitlements/{cccds[n]}",
                    headers={"Authorization": f"Bearer {key}"},
                )
                answered += conn.getresponse().status == 200
            except OSError:
                pass
            finally:
                conn.close()
        assert answered == 15
    finally:
        for sock in flood:
            sock.close()
        assert server.stop() == 0
    errors = server.stderr()
    assert "the open-file limit (300) allows 200 connections per worker" in errors
    assert "ERROR" not in errors and "Traceback" not in errors, errors


def test_serve_fails_clearly_without_a_snapshot_or_with_the_port_taken(tmp_path, store):
    empty = subprocess.run(
        [
            sys.executable,
            "-m",
            "lookup",
            "serve",
            "--data",
            str(tmp_path / "none"),
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert empty.returncode == 1 and "lookup build" in empty.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, "-m", "lookup", "serve", "--data", str(store[0]), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert busy.returncode == 1 and f"port {port}" in busy.stderr and "--port" in busy.stderr


def test_demo_prints_curl_lines_that_work(tmp_path):
    port = free_port()
    errors = tmp_path / "demo.err"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lookup",
                "demo",
                "--data",
                str(tmp_path / "data"),
                "--port",
                str(port),
                "--workers",
                "1",
                "--rows",
                "3000",
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        out, lines = Lines(proc.stdout), []
        while not any("Ctrl-C" in line for line in lines):
            lines.append(out.readline(timeout=120))
            assert lines[-1], "".join(lines) + errors.read_text()  # "" is EOF: the demo died
        script = [line.rstrip("\n") for line in lines if line.startswith(("curl", "TOKEN", "ID_"))]
        assert (tmp_path / "data" / "demo-extract.csv.gz").exists()
        outputs = []
        for line in script:
            code, out, err = shell("set -eo pipefail\n" + "\n".join(outputs_env(script, line)))
            assert code == 0, (line, err)
            outputs.append(out)
        answers = [json.loads(o) for o in outputs if o.strip().startswith(("{", "["))]
        one = answers[0]
        assert one["result"]["code"] == "000", one
        # The demo imported the registry its cards name: answers name the facility.
        assert (tmp_path / "data" / "demo-facilities.csv").exists()
        assert one["card"]["facility_name"] and one["card"]["facility_level"], one["card"]
        batch = next(a for a in answers if "results" in a)
        assert [r["result"]["code"] for r in batch["results"]][-2:] == ["050", "205"]
        gateway = next(a for a in answers if "maKetQua" in a and "maThe" in a)
        assert gateway["maKetQua"] == "000", gateway
        assert any("lookup_requests_total" in o for o in outputs)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, errors.read_text()
        proc.stdout.close()


def shell(script: str, timeout: float = 30) -> tuple[int, str, str]:
    """Run a bash script in its own process group; kill the whole group if it hangs."""
    proc = subprocess.Popen(
        ["bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # curl too, which would hold the pipes open
        out, err = proc.communicate()
        raise AssertionError(f"timed out: {script}\n{err}") from None
    return proc.returncode, out, err


def outputs_env(script: list[str], line: str) -> list[str]:
    """Return the commands to run for `line`: the variable assignments before it, then it."""
    before = script[: script.index(line)]
    return [*(s for s in before if re.match(r"[A-Z_]+=", s)), line]


def test_demo_second_run_reuses_data_and_replaces_its_key(tmp_path):
    from lookup import demo

    data = tmp_path / "data"
    rows = [person(n, valid_from="2000-01-01", valid_to="2099-12-31") for n in range(50)]
    data.mkdir()
    write_csv(data / "demo-extract.csv", rows)
    with gzip.open(data / demo.EXTRACT, "wb") as f:
        f.write((data / "demo-extract.csv").read_bytes())
    first = demo._demo_client(data)
    second = demo._demo_client(data)
    clients = ClientStore(data)
    assert clients.authenticate(first) is None  # the previous demo key is revoked
    assert clients.authenticate(second).name == "demo-2"
    examples = demo.pick_examples(data / demo.EXTRACT)
    assert examples["valid"]["cccd"] != examples["other"]["cccd"]
