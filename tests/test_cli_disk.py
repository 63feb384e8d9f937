"""Commands on a full or read-only disk (issue 16), on a real small file system: a tmpfs of
2 MiB mounted for the test (skipped where mounting is not allowed). Each failure is one line
saying which disk, what is free and, for a build, what it needs; a JSON error with --json;
exit 1; never a traceback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.cli import lookup

SIZE = 2 * 2**20


@pytest.fixture
def disk(tmp_path):
    """A 2 MiB tmpfs at tmp_path/disk, unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def synth(folder: Path, rows: int) -> dict[str, Path]:
    files = {name: folder / f"{name}.csv" for name in ("extract", "population", "delta")}
    made = lookup(
        "synth",
        "--rows",
        str(rows),
        "--out",
        str(files["extract"]),
        "--population",
        str(files["population"]),
        "--delta",
        str(files["delta"]),
        "--changes",
        "20",
    )
    assert made.returncode == 0, made.stderr
    return files


def one_line_failure(done: subprocess.CompletedProcess, command: str) -> str:
    """Assert exit 1 with a single line on stderr and no traceback; return the line."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"lookup {command}: ")
    return lines[0]


def json_error(done: subprocess.CompletedProcess) -> dict:
    (line,) = done.stdout.splitlines()
    body = json.loads(line)
    assert list(body) == ["error"]
    return dict(body["error"])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_build_larger_than_the_disk_says_the_disk_is_full_and_what_it_needs(tmp_path, disk, jobs):
    extract = synth(tmp_path, 50_000)["extract"]  # ~10 MB of CSV: a ~5 MB snapshot
    data = disk / "data"
    # With 2 jobs a forked reader fills the disk with its sorted runs: its OSError comes back.
    split = {"LOOKUP_BUILD_MIN_SPLIT": str(2**20)}
    done = lookup("build", str(extract), "--data", str(data), "--jobs", jobs, env=split)
    line = one_line_failure(done, "build")
    # "is full" when the error names ENOSPC, "is too full for this" when LMDB says EIO
    assert re.search(f"the disk holding {re.escape(str(data))} is (too )?full", line), line
    assert "free of 2.0 MiB" in line and "MiB needed" in line
    assert line.endswith("nothing was published")
    done = lookup("build", str(extract), "--data", str(data), "--json")
    one_line_failure(done, "build")
    error = json_error(done)
    assert error["code"] == "disk_full" and error["path"] == str(data)
    assert error["total_bytes"] == SIZE
    assert error["needed_bytes"] > error["free_bytes"]
    assert not (data / "CURRENT").exists()


def test_every_writing_command_on_a_full_disk_fails_in_one_line(tmp_path, disk):
    files = synth(tmp_path, 200)
    data = str(disk / "data")
    assert lookup("build", str(files["extract"]), "--data", data).returncode == 0
    assert lookup("apply", str(files["delta"]), "--data", data).returncode == 0
    with open(disk / "filler", "wb", buffering=0) as filler:  # every last block, unbuffered:
        # a buffered file would fail again on close, flushing what did not fit
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    for command in (
        ["apply", str(files["delta"])],
        ["build", str(files["extract"])],
        ["keys", "add", "his", "--scopes", "his"],
        ["reconcile", str(files["population"])],
        ["rollback"],
    ):
        done = lookup(*command, "--data", data, "--json")
        line = one_line_failure(done, command[0])
        assert f"the disk holding {data} is" in line and "lookup prune --keep N" in line
        error = json_error(done)
        assert error["code"] == "disk_full", error
        assert error["free_bytes"] < 64 * 1024
    # Nothing half-done was left behind: the data directory still serves its snapshot.
    assert lookup("get", "001085000001", "--data", data).returncode == 0


def test_synth_on_a_full_disk_names_its_output_disk(tmp_path, disk):
    done = lookup("synth", "--rows", "50000", "--out", str(disk / "x.csv"), "--json")
    line = one_line_failure(done, "synth")
    assert f"the disk holding {disk} is full (No space left on device)" in line
    assert "prune" not in line  # no snapshots there to delete
    assert json_error(done)["code"] == "disk_full"


def test_a_read_only_file_system_says_so(tmp_path, disk):
    extract = synth(tmp_path, 100)["extract"]
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    done = lookup("build", str(extract), "--data", str(disk / "data"), "--json")
    line = one_line_failure(done, "build")
    assert f"the file system holding {disk}" in line and "is read-only" in line
    assert json_error(done)["code"] == "read_only"
