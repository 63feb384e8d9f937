"""A build or delta killed with SIGKILL at any point leaves the previous snapshot current and
intact, and the next writer proceeds (SPEC.md 1; brief: nothing is lost)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from files import person, write_csv

from lookup.entitlements import Entitlements
from lookup.store import DataDir

DAY = date(2026, 6, 1)
SAMPLE = [0, 17, 399]


def lookup(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lookup", *args], env={**os.environ, **(env or {})},
        capture_output=True, text=True, **kw,
    )  # fmt: skip


def state(data: DataDir) -> tuple[str | None, str, list[str]]:
    """CURRENT, a digest of the current store's file, and the answers to a few ids."""
    path = data.current_path()
    digest = hashlib.sha256((path / "data.mdb").read_bytes()).hexdigest()
    with Entitlements(str(path)) as entitlements:
        answers = [entitlements.answer(person(i)["cccd"], DAY).decode() for i in SAMPLE]
    return data.current_id(), digest, answers


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


@pytest.mark.parametrize(
    "point",
    ["after-read", "after-write-people", "after-write-cards", "before-publish", "before-current"],
)
def test_build_killed_at_a_point(data, extracts, point):
    before = state(data)
    killed = lookup(
        "build", str(extracts[1]), "--data", str(data.root), env={"LOOKUP_CRASH_AT": point}
    )
    assert killed.returncode == -signal.SIGKILL
    assert_recovers(data, before, extracts[1])


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.7, 0.9])
def test_build_killed_at_a_moment(data, extracts, build_seconds, fraction):
    before = state(data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookup", "build", str(extracts[1]), "--data", str(data.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
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


def test_delta_killed_before_publish(data, extracts):
    before = state(data)
    killed = lookup(
        "apply", str(extracts[2]), "--data", str(data.root),
        env={"LOOKUP_CRASH_AT": "delta-before-publish"},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert state(data) == before
    done = lookup("apply", str(extracts[2]), "--data", str(data.root))
    assert done.returncode == 0, done.stderr
    assert "Đỗ Văn Nam" in state(data)[2][0]
