"""The load test itself, run for real (SPEC.md 6, loadtests/): a short Locust run against
`lookup serve` passes, and a run against a snapshot that does not match LOOKUP_EXTRACT fails on
wrong answers. Latency limits are relaxed here: this proves the wiring and the answer checks on
any machine; speed is measured by the longer runs in loadtests/README.md."""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lookup.clock import today_in_vietnam
from lookup.facilities.importer import import_registry
from lookup.ingest.build import build
from lookup.store import DataDir
from lookup.synth import synthesize

pytestmark = [
    pytest.mark.slow,
    # Not imported here: importing locust monkey-patches the whole process with gevent.
    pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust not installed"),
]

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
ROWS = 5000
GATEWAY_PASSWORD = "smoke-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> tuple[Path, str]:
    """A synthetic extract laid around today in Vietnam, and that date; beside it the facility
    registry its cards name (facilities.csv), which the served data imports."""
    day = today_in_vietnam()
    path = tmp_path_factory.mktemp("extract") / "extract.csv"
    synthesize(str(path), ROWS, seed=11, as_of=day, facilities=str(registry_of(path)))
    return path, day.isoformat()


def registry_of(extract: Path) -> Path:
    return extract.with_name("facilities.csv")


def gateway_user(registry: Path) -> str:
    """The login of the first facility that registered officers: the desks must ask as them."""
    with open(registry, encoding="utf-8", newline="") as f:
        code = next(row["facility_code"] for row in csv.DictReader(f) if row["officer_cccd"])
    return f"{code}_BV"


def serve_data(root: Path, source: Path, registry: Path) -> tuple[Path, str]:
    """Build a store from `source`, import the facility `registry` (answers name facilities,
    the gateway checks officers) and add the load test's key (`lookup keys add`)."""
    data = root / "data"
    build(DataDir(data), str(source))
    import_registry(data, str(registry))
    key = subprocess.run(
        [
            sys.executable,
            "-m",
            "lookup",
            "keys",
            "add",
            "loadtest",
            "--scopes",
            "his,batch,vneid",
            "--rate",
            "0",
            "--username",
            gateway_user(registry),
            "--password",
            GATEWAY_PASSWORD,
            "--data",
            str(data),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return data, key


class Server:
    """`python -m lookup serve --workers 1` on a free port."""

    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / "serve.log"
        with open(self.log, "w") as log:
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
                    "1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the server did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def run_locust(server: Server, key: str, extract: Path, day: str, cache: Path, seconds: int):
    env = {
        **os.environ,
        "LOOKUP_API_KEY": key,
        "LOOKUP_GATEWAY_USER": gateway_user(registry_of(extract)),
        "LOOKUP_GATEWAY_PASSWORD": GATEWAY_PASSWORD,
        "LOOKUP_EXTRACT": str(extract),
        "LOOKUP_FACILITIES": str(registry_of(extract)),
        "LOOKUP_DATE": day,
        "LOOKUP_CACHE_DIR": str(cache),
        # Wiring, not speed: a loaded CI machine must not fail this test on a p99.
        **{
            f"LOOKUP_{kind}_P{p}_MS": "5000"
            for kind in ("SINGLE", "BATCH", "LOGIN")
            for p in ("95", "99")
        },
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--host",
            server.url,
            "--headless",
            "-u",
            "20",
            "-r",
            "20",
            "-t",
            f"{seconds}s",
            "--only-summary",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_run_against_the_right_snapshot_passes(extract, tmp_path):
    source, day = extract
    data, key = serve_data(tmp_path, source, registry_of(source))
    server = Server(data)
    try:
        result = run_locust(server, key, source, day, tmp_path / "cache", 10)
    finally:
        server.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "all thresholds held" in output, output
    assert "wrong answer" not in output, output
    for name in (
        "/api/egw/KQNhanLichSuKCB2024",
        "/v1/entitlements/[id]",
        "/v1/vneid/cards/[cccd]",
        "/v1/entitlements/batch",
    ):
        assert name in output, output


def test_a_run_against_another_snapshot_fails_on_wrong_answers(extract, tmp_path):
    """The served data differs from LOOKUP_EXTRACT in statuses and names only, all HTTP 200."""
    source, day = extract
    altered = tmp_path / "altered.csv"
    with open(source, newline="", encoding="utf-8") as f, open(altered, "w", newline="") as out:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(out, reader.fieldnames or [])
        writer.writeheader()
        for n, row in enumerate(reader):
            if n % 2 == 0:
                row["status"] = "revoked" if row["status"] in ("", "active") else "active"
            if n % 3 == 0:
                row["full_name"] = "Đặng " + row["full_name"]
            writer.writerow(row)
    data, key = serve_data(tmp_path, altered, registry_of(source))
    server = Server(data)
    try:
        result = run_locust(server, key, source, day, tmp_path / "cache", 5)
    finally:
        server.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "wrong answer" in output, output
    assert "THRESHOLDS BROKEN" in output, output
