"""A real server on loopback for the HTTP tests, and a plain client for it.

`LiveServer` runs `make_app` under `ServiceRunner` on 127.0.0.1 in a thread with its own event
loop (uvloop, as `lookup serve` uses), so tests talk to it over real TCP with an ordinary
blocking client (`http.client`) or raw bytes, and need no async test plugin.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import uvloop
from aiohttp import web

from lookup.clock import today_in_vietnam
from lookup.ingest.build import build
from lookup.service.clients import ClientStore
from lookup.store import DataDir
from lookup.web.app import ServiceConfig, ServiceRunner, make_app

from helpers.files import person, write_csv

__all__ = (
    "LiveServer",
    "Reply",
    "WorkerProcess",
    "add_key",
    "build_data",
    "days_from_today",
    "dmy",
    "parse_raw",
    "person",
)


def days_from_today(days: int) -> str:
    """Return the date `days` from today in Vietnam (the service's today) as YYYY-MM-DD."""
    return (today_in_vietnam() + timedelta(days=days)).isoformat()


def build_data(folder: Path, rows: list[dict[str, str]], name: str = "extract.csv") -> DataDir:
    """Write rows as an extract in `folder`, build and publish a snapshot from it."""
    data = DataDir(folder / "data")
    build(data, str(write_csv(folder / name, rows)))
    return data


def add_key(data: DataDir, name: str, scopes: list[str], **kwargs: Any) -> str:
    """Add an API client (unlimited rate unless given) and return its key."""
    kwargs.setdefault("rate_per_s", 0)
    return ClientStore(data.root).add(name, scopes, **kwargs)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class HttpClient:
    """A blocking client for a server on 127.0.0.1:`port`."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        body: bytes | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one request on a fresh connection and return the reply."""
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        if json is not None:
            body = orjson.dumps(json)
            all_headers.setdefault("Content-Type", "application/json")
        elif form is not None:
            body = urlencode(form).encode()
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if query:
            path += "?" + urlencode(query)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)

    def raw(self, data: bytes) -> bytes:
        """Send raw bytes and return everything the server answers before closing."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


class LiveServer(HttpClient):
    """make_app(config) served on 127.0.0.1:<free port> from a background thread."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.app: web.Application = make_app(config)
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> LiveServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    def _run(self) -> None:
        loop = self.loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = ServiceRunner(self.app)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as exc:  # handed to the test thread
            self._error = exc
            self._ready.set()
            loop.run_until_complete(runner.cleanup())
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def call(self, fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Run a coroutine on the server's loop and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(30)


class WorkerProcess(HttpClient):
    """make_app(config) served from a separate process, as another `lookup serve` worker is."""

    def __init__(self, data_dir: str, worker_index: int, workers: int) -> None:
        self.args = [data_dir, str(worker_index), str(workers)]
        self.port = 0

    def __enter__(self) -> WorkerProcess:
        tests = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests.parent), str(tests)])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "helpers.server", *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the worker process did not start"
        self.port = int(line)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()  # the worker stops when its stdin closes
        self.process.wait(30)
        self.process.stdout.close()


def parse_raw(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    """Split a raw HTTP/1.1 reply into (status, headers with lower-case names, body)."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def dmy(iso: str) -> str:
    """YYYY-MM-DD as dd/MM/yyyy."""
    return date.fromisoformat(iso).strftime("%d/%m/%Y")


if __name__ == "__main__":  # WorkerProcess: serve DATA_DIR as worker INDEX of COUNT
    data_dir, index, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    config = ServiceConfig(data_dir=data_dir, worker_index=index, workers=count)
    with LiveServer(config) as server:
        print(server.port, flush=True)
        sys.stdin.read()
