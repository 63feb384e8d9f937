"""`lookup push` to a directory that a real nginx serves, `lookup pull` over HTTP from it.

The builder and the replica are two data directories; the replica only ever sees what it pulled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
import pytest

from lookup.cli import main
from lookup.ingest.build import build
from lookup.ingest.delta import apply_delta
from lookup.query import Entitlements
from lookup.store import DataDir

from helpers.files import person, write_csv
from helpers.proxies import Nginx

DELTA_COLUMNS = ["op", *person(0)]


def answer(data: DataDir, cccd: str) -> dict:
    with Entitlements.open_current(data) as entitlements:
        return orjson.loads(entitlements.answer(cccd, None, None))


def run(capsys, *argv: str) -> tuple[int, dict]:
    """Run `lookup ARGV --json` in this process; return its status and JSON output."""
    status = main([*argv, "--json"])
    out = capsys.readouterr().out
    return status, orjson.loads(out) if out.strip() else {}


@pytest.fixture
def builder(tmp_path):
    data = DataDir(tmp_path / "builder")
    build(data, str(write_csv(tmp_path / "base.csv", [person(i) for i in range(300)])))
    return data


@pytest.fixture
def served(tmp_path):
    """The pushed directory, and nginx serving it."""
    bucket = tmp_path / "bucket"
    with Nginx(bucket, tmp_path / "nginx") as nginx:
        yield bucket, nginx.url


@pytest.fixture
def replica(tmp_path):
    return DataDir(tmp_path / "replica")


def test_pushed_snapshot_is_pulled_over_http_and_answers_alike(builder, served, replica, capsys):
    bucket, url = served
    status, pushed = run(capsys, "push", str(bucket), "--data", str(builder.root))
    assert status == 0 and pushed["snapshot"] == builder.current_id()
    assert pushed["uploaded_bytes"] == pushed["bytes"] > 0
    status, pulled = run(capsys, "pull", url, "--data", str(replica.root))
    assert status == 0 and pulled["changed"] and pulled["snapshot"] == builder.current_id()
    cccd = person(7)["cccd"]
    assert answer(replica, cccd) == answer(builder, cccd)
    manifest = replica.get(pulled["snapshot"]).manifest
    assert manifest["files"]["data.mdb"]["sha256"] and manifest["id"] == pulled["snapshot"]


def test_pulling_the_same_snapshot_twice_is_a_no_op(builder, served, replica, capsys):
    bucket, url = served
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    run(capsys, "pull", url, "--data", str(replica.root))
    before = (replica.root / "CURRENT").stat().st_mtime_ns
    status, again = run(capsys, "pull", url, "--data", str(replica.root))
    assert status == 0 and not again["changed"] and again["downloaded_bytes"] == 0
    assert (replica.root / "CURRENT").stat().st_mtime_ns == before
    assert len(replica.list()) == 1
    # A second push of the same snapshot uploads nothing either.
    status, repushed = run(capsys, "push", str(bucket), "--data", str(builder.root))
    assert status == 0 and repushed["uploaded_bytes"] == 0


def test_overlay_snapshot_round_trips_moving_only_the_overlay(
    builder, served, replica, tmp_path, capsys
):
    bucket, url = served
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    run(capsys, "pull", url, "--data", str(replica.root))
    base = replica.get(replica.current_id())
    renamed = dict(person(5, full_name="Trần Thị Bình"), op="upsert")
    rows = [renamed, dict(person(900), op="upsert"), {"op": "delete", "cccd": person(6)["cccd"]}]
    apply_delta(builder, str(write_csv(tmp_path / "delta.csv", rows, DELTA_COLUMNS)))
    assert (builder.current_path() / "overlay" / "data.mdb").exists()

    status, pushed = run(capsys, "push", str(bucket), "--data", str(builder.root))
    overlay_size = (builder.current_path() / "overlay" / "data.mdb").stat().st_size
    assert status == 0 and pushed["uploaded_bytes"] == overlay_size  # the base is there already
    status, pulled = run(capsys, "pull", url, "--data", str(replica.root))
    assert status == 0 and pulled["downloaded_bytes"] == overlay_size
    new = replica.current_path()
    assert os.stat(new / "data.mdb").st_ino == os.stat(base.path / "data.mdb").st_ino  # linked
    for n in (5, 6, 900, 7):
        assert answer(replica, person(n)["cccd"]) == answer(builder, person(n)["cccd"])
    assert answer(replica, person(5)["cccd"])["person"]["full_name"] == "Trần Thị Bình"


def test_a_damaged_blob_is_refused_with_a_clear_message(builder, served, replica, capsys):
    bucket, url = served
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    blob = next((bucket / "blobs").iterdir())
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    blob.write_bytes(bytes(damaged))

    status = main(["pull", url, "--data", str(replica.root)])
    err = capsys.readouterr().err
    assert status == 1
    assert "data.mdb of snapshot" in err and "fails its checksum" in err
    assert "nothing was published" in err and "push it again" in err
    assert replica.current_id() is None and replica.list() == []
    assert not list((replica.root / "staging").glob("*"))


def test_an_interrupted_pull_leaves_nothing_visible(builder, served, replica, tmp_path, capsys):
    bucket, url = served
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    size = (builder.current_path() / "data.mdb").stat().st_size
    # The same files through a slow nginx: the pull is killed while data.mdb is arriving.
    with Nginx(bucket, tmp_path / "slow", limit_rate=f"{max(size // 20, 1024)}") as slow:
        process = subprocess.Popen(
            [sys.executable, "-m", "lookup", "pull", slow.url, "--data", str(replica.root)]
        )
        staged = replica.root / "staging" / builder.current_id()
        deadline = time.monotonic() + 20
        while not staged.exists():  # the download has begun
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        time.sleep(1)  # a twentieth of the bytes have come
        assert process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
    partial = staged / "data.mdb"
    assert not partial.exists() or partial.stat().st_size < size  # killed half-way
    assert replica.current_id() is None and replica.list() == []
    # The next pull cleans the leftovers and publishes the whole snapshot.
    status, pulled = run(capsys, "pull", url, "--data", str(replica.root))
    assert status == 0 and pulled["changed"] and not staged.exists()
    assert answer(replica, person(1)["cccd"]) == answer(builder, person(1)["cccd"])


def test_killed_before_publishing_keeps_the_previous_snapshot(
    builder, served, replica, tmp_path, capsys
):
    bucket, url = served
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    run(capsys, "pull", url, "--data", str(replica.root))
    first = replica.current_id()
    apply_delta(
        builder, str(write_csv(tmp_path / "d.csv", [dict(person(901), op="upsert")], DELTA_COLUMNS))
    )
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    env = {**os.environ, "LOOKUP_CRASH_AT": "pull-before-publish"}
    cmd = [sys.executable, "-m", "lookup", "pull", url, "--data", str(replica.root)]
    assert subprocess.run(cmd, env=env).returncode == -signal.SIGKILL
    assert replica.current_id() == first and [s.id for s in replica.list()] == [first]


def test_a_builder_rollback_is_pulled_without_a_download(
    builder, served, replica, tmp_path, capsys
):
    bucket, url = served
    first = builder.current_id()
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    run(capsys, "pull", url, "--data", str(replica.root))
    apply_delta(
        builder, str(write_csv(tmp_path / "d.csv", [dict(person(902), op="upsert")], DELTA_COLUMNS))
    )
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    run(capsys, "pull", url, "--data", str(replica.root), "--keep", "5")
    run(capsys, "rollback", "--data", str(builder.root))
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    status, pulled = run(capsys, "pull", url, "--data", str(replica.root))
    assert status == 0 and pulled["changed"] and pulled["downloaded_bytes"] == 0
    assert replica.current_id() == first


def test_nothing_pushed_or_nothing_listening_is_one_clear_line(replica, served, capsys):
    _, url = served
    assert main(["pull", url, "--data", str(replica.root)]) == 1
    assert "latest.json is missing: run `lookup push" in capsys.readouterr().err
    assert main(["pull", "http://127.0.0.1:9/x", "--data", str(replica.root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lookup pull: cannot reach http://127.0.0.1:9/x") and "\n" == err[-1]


def test_the_sidecar_loop_publishes_each_new_push(builder, served, replica, tmp_path, capsys):
    bucket, url = served
    run(capsys, "push", str(bucket), "--data", str(builder.root))
    cmd = [sys.executable, "-m", "lookup", "pull", url, "--every", "0.2", "--keep", "2"]
    process = subprocess.Popen([*cmd, "--data", str(replica.root)], stdout=subprocess.PIPE)
    try:
        for n in range(3):
            wanted = builder.current_id()
            deadline = time.monotonic() + 15
            while replica.current_id() != wanted:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
            delta = write_csv(
                tmp_path / f"d{n}.csv", [dict(person(910 + n), op="upsert")], DELTA_COLUMNS
            )
            apply_delta(builder, str(delta))
            run(capsys, "push", str(bucket), "--data", str(builder.root))
    finally:
        process.terminate()
        out = process.communicate(10)[0].decode()
    assert out.count("published snapshot") >= 3
    assert len(replica.list()) <= 2  # --keep 2
