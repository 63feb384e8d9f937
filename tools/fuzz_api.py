"""Fuzz the live HTTP API with schemathesis: every operation of /openapi.json, every check.

    python -m tools.fuzz_api [--examples N] [--seed S] [--workdir DIR]

(--examples defaults to $LOOKUP_FUZZ_EXAMPLES, else 50).

Builds a small snapshot, adds a client with every scope and a gateway login, starts a real
`lookup serve` on loopback and runs `schemathesis run` against it (tools/fuzz_hooks.py supplies
the credentials). Prints the figures (operations, cases, failures, seconds) and exits 1 when
schemathesis found anything: a 5xx, a response the OpenAPI document does not describe, a
request it should have refused. tests/test_fuzz_api.py runs it with a small budget; the longer
run and its figures are in docs/ROBUSTNESS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from tools.sample_rows import COLUMNS, person, write_rows

__all__ = ("FuzzResult", "fuzz", "live_server", "prepare_data")

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PEOPLE = 300
USERNAME = "01832_BV"  # DOMAIN 5: facility code + _BV
PASSWORD = "fuzz-password"
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Cases per operation and phase; CI's budget, 10x for the documented longer run.
DEFAULT_EXAMPLES = int(os.environ.get("LOOKUP_FUZZ_EXAMPLES", "50"))


@dataclass
class FuzzResult:
    returncode: int
    operations: int
    cases: int
    failures: int
    errors: int
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        """Say whether schemathesis ran and found nothing."""
        return self.returncode == 0 and self.failures == 0 and self.errors == 0


def prepare_data(folder: Path) -> tuple[Path, str]:
    """Build a snapshot of PEOPLE sample persons and add the fuzzing client; return its key."""
    data = folder / "data"
    extract = write_rows(folder / "extract.csv", [person(n) for n in range(PEOPLE)], COLUMNS)
    _lookup("build", str(extract), "--data", str(data))
    key = _lookup(
        "keys",
        "add",
        "fuzz",
        "--scopes",
        "his,vneid,batch,admin",
        "--username",
        USERNAME,
        "--password",
        PASSWORD,
        "--rate",
        "0",  # unlimited: a 429 would hide what the request would have met
        "--data",
        str(data),
    )
    return data, key.strip()


def _lookup(*args: str) -> str:
    done = subprocess.run([str(BIN / "lookup"), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"lookup {args[0]} failed: {done.stderr}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_server(data: Path, log: Path) -> Iterator[str]:
    """Run `lookup serve` (one worker) on a free loopback port until the block ends."""
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "lookup"), "serve", "--data", str(data), "--port", str(port)]
            + ["--host", "127.0.0.1", "--workers", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lookup serve exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as reply:
                if reply.status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError("lookup serve did not become ready in 60 s")


def fuzz(workdir: Path, examples: int = DEFAULT_EXAMPLES, seed: int = 1) -> FuzzResult:
    """Fuzz a fresh live server in `workdir`; return the figures and schemathesis's output."""
    data, key = prepare_data(workdir)
    report = workdir / "report.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "SCHEMATHESIS_HOOKS": "tools.fuzz_hooks",
        "LOOKUP_FUZZ_KEY": key,
        "LOOKUP_FUZZ_USERNAME": USERNAME,
        "LOOKUP_FUZZ_PASSWORD": hashlib.md5(PASSWORD.encode(), usedforsecurity=False).hexdigest(),
    }
    started = time.monotonic()
    with live_server(data, workdir / "serve.log") as url:
        env["LOOKUP_FUZZ_URL"] = url
        done = subprocess.run(
            [
                str(BIN / "schemathesis"),
                "--config-file",
                str(CONFIG),
                "run",
                f"{url}/openapi.json",
                "--max-examples",
                str(examples),
                "--seed",
                str(seed),
                "--workers",
                "1",  # hypothesis's lambda descriptions are not thread-safe on Python 3.11
                "--request-timeout",
                "30",
                "--continue-on-failure",
                "--report",
                "json",
                "--report-json-path",
                str(report),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=workdir,
        )
    seconds = time.monotonic() - started
    operations, cases, failures, errors = _figures(report)
    output = done.stdout + done.stderr
    return FuzzResult(done.returncode, operations, cases, failures, errors, seconds, output)


def _figures(report: Path) -> tuple[int, int, int, int]:
    """Return (operations tested, cases, cases with failures, errors) from the JSON report."""
    if not report.exists():
        return 0, 0, 0, 0
    data = orjson.loads(report.read_bytes())
    cases = data["test_cases"]
    errors = cases["errored"] + data["operations"]["errored"] + len(data["errors"])
    return data["operations"]["tested"], cases["generated"], cases["with_failures"], errors


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzing campaign from the command line; exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, metavar="N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep the data, logs and report here")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lookup-fuzz-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = fuzz(workdir, args.examples, args.seed)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(result.output)
    print(
        f"fuzz: {result.operations} operations, {result.cases} cases, "
        f"{result.failures} with failures, {result.errors} errors, {result.seconds:.0f} s"
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
