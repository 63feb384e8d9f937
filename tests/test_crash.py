"""A build or delta killed with SIGKILL at any point leaves the previous snapshot current and
intact, and the next writer proceeds (SPEC.md 1; brief: nothing is lost)."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psutil
import pytest

from lookup.query import Entitlements
from lookup.store import DataDir

from helpers.cli import lookup
from helpers.files import person, write_csv

DAY = date(2026, 6, 1)
SAMPLE = [0, 17, 399]


def state(data: DataDir) -> tuple[str | None, str, list[str]]:
    """CURRENT, a digest of the current store's files (base and overlay), and the answers to
    a few ids."""
    path = data.current_path()
    digest = hashlib.sha256((path / "data.mdb").read_bytes())
    if (path / "overlay" / "data.mdb").exists():
        digest.update((path / "overlay" / "data.mdb").read_bytes())
    with Entitlements(str(path)) as entitlements:
        answers = [entitlements.answer(person(i)["cccd"], DAY).decode() for i in SAMPLE]
    return data.current_id(), digest.hexdigest(), answers


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extracts")
    first = write_csv(folder / "first.csv", [person(i) for i in range(400)])
    second = write_csv(
        folder / "second.csv", [person(i, full_name="Phạm Thị Hoa") for i in range(20000)]
    )
    delta = write_csv(
        folder / "delta.csv",
        [dict(person(i, full_name="Đỗ Văn Nam"), op="upsert") for i in range(50)],
    )
    return first, second, delta


@pytest.fixture(scope="module")
def build_seconds(extracts, tmp_path_factory):
    """How long building the second extract takes here, so kills land inside the build."""
    started = time.monotonic()
    done = lookup("build", str(extracts[1]), "--data", str(tmp_path_factory.mktemp("timing")))
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


@pytest.fixture
def data(tmp_path, extracts):
    data = DataDir(tmp_path / "data")
    assert lookup("build", str(extracts[0]), "--data", str(data.root)).returncode == 0
    return data


def assert_recovers(data: DataDir, before, extract: Path) -> None:
    assert state(data) == before
    assert "Nguyễn Văn An" in before[2][0]
    done = lookup("build", str(extract), "--data", str(data.root))
    assert done.returncode == 0, done.stderr
    assert data.current_id() != before[0]
    assert not (data.root / "staging").exists()


SPLIT = {"LOOKUP_BUILD_MIN_SPLIT": "1"}  # workers read ranges of even a small extract


@pytest.mark.parametrize(
    "point",
    [
        "workers-started",
        "after-read",
        "after-write-people",
        "after-write-cards",
        "before-publish",
        "before-current",
    ],
)
def test_build_killed_at_a_point(data, extracts, point):
    before = state(data)
    killed = lookup(
        "build",
        str(extracts[1]),
        "--data",
        str(data.root),
        "--jobs",
        "2",
        env={"LOOKUP_CRASH_AT": point, **SPLIT},
    )
    assert killed.returncode == -signal.SIGKILL
    assert_recovers(data, before, extracts[1])


def start_build_and_catch_workers(data: DataDir, extract: Path) -> tuple[subprocess.Popen, list]:
    """Start a build with two workers and stop them (SIGSTOP) while they read; the slow
    reference core gives time to catch them. Its standard error goes to data/stderr (a pipe
    would stay open as long as a worker does)."""
    with open(data.root / "stderr", "w") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lookup",
                "build",
                str(extract),
                "--data",
                str(data.root),
                "--jobs",
                "3",
            ],
            env={**os.environ, **SPLIT, "LOOKUP_CORE": "python"},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    build = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    while len(workers := build.children()) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "no workers seen"
        time.sleep(0.002)
    time.sleep(0.05)  # past their start-up
    for worker in workers:
        worker.suspend()
    return proc, workers


def test_build_killed_while_workers_read(data, extracts):
    before = state(data)
    proc, workers = start_build_and_catch_workers(data, extracts[1])
    for worker in workers:  # a worker keeps no copy of the writer lock
        assert not [f for f in worker.open_files() if f.path.endswith(".writer.lock")]
    proc.kill()
    proc.wait()
    # The workers die with the build, stopped as they are: nothing is left running.
    deadline = time.monotonic() + 10
    while any(map(running, workers)):
        assert time.monotonic() < deadline, "a worker outlived the build"
        time.sleep(0.01)
    assert_recovers(data, before, extracts[1])


def running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE  # a zombie is dead, not yet reaped
    except psutil.NoSuchProcess:
        return False


def test_a_killed_worker_fails_the_build(data, extracts):
    before = state(data)
    proc, workers = start_build_and_catch_workers(data, extracts[1])
    workers[0].kill()
    for worker in workers[1:]:
        worker.resume()
    assert proc.wait(timeout=60) == 1
    stderr = (data.root / "stderr").read_text()
    assert re.search(
        r"^lookup build: build worker \d \(bytes [\d,]+-[\d,]+ of .*second.csv\) was killed by "
        r"SIGKILL \(out of memory\?\); nothing was published$",
        stderr,
        re.MULTILINE,
    ), stderr
    assert state(data) == before
    assert not (data.root / "staging").exists()
    assert not any(map(running, workers))


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.7, 0.9])
def test_build_killed_at_a_moment(data, extracts, build_seconds, fraction):
    before = state(data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookup", "build", str(extracts[1]), "--data", str(data.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(fraction * build_seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if data.current_id() != before[0]:
        # CURRENT was replaced before the kill (or the build finished): the new snapshot is
        # whole, and the old one is still there, unchanged, for a rollback.
        assert "Phạm Thị Hoa" in state(data)[2][0]
        old = data.snapshots / before[0] / "data.mdb"
        assert hashlib.sha256(old.read_bytes()).hexdigest() == before[1]
        return
    assert_recovers(data, before, extracts[1])


@pytest.mark.parametrize("point", ["delta-overlay-linked", "delta-before-publish"])
@pytest.mark.parametrize("parent", ["base", "overlaid"])
def test_delta_killed_before_publish(data, extracts, point, parent):
    """Killed while writing an overlay beside the parent's base (a base alone), or while
    merging the parent's overlay into a new base (a parent with an overlay: the small store
    makes any overlay past the share that merges): the parent stays current and intact."""
    if parent == "overlaid":
        assert lookup("apply", str(extracts[2]), "--data", str(data.root)).returncode == 0
        assert (data.current_path() / "overlay").exists()
    before = state(data)
    base = data.current_path() / "data.mdb"
    links = base.stat().st_nlink
    killed = lookup(
        "apply",
        str(extracts[2]),
        "--data",
        str(data.root),
        env={"LOOKUP_CRASH_AT": point},
    )
    merging = parent == "overlaid"
    if merging and point == "delta-overlay-linked":  # a merge links nothing: it just runs
        assert killed.returncode == 0, killed.stderr
        return
    assert killed.returncode == -signal.SIGKILL
    assert state(data) == before
    done = lookup("apply", str(extracts[2]), "--data", str(data.root))
    assert done.returncode == 0, done.stderr
    assert "Đỗ Văn Nam" in state(data)[2][0]
    # The killed writer's staging copy (a link to the base, when overlaid) is gone; the new
    # snapshot shares the base unless it merged.
    assert base.stat().st_nlink == links + (0 if merging else 1)
