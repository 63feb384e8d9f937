"""The `lookup` command end to end, as the README shows it: real files, real processes."""

from __future__ import annotations

import json

import pytest

from helpers.cli import lookup


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    extract, delta = folder / "extract.csv.gz", folder / "delta.csv"
    synth = lookup(
        "synth",
        "--rows",
        "2000",
        "--seed",
        "3",
        "--as-of",
        "2026-06-01",
        "--out",
        str(extract),
        "--delta",
        str(delta),
        "--changes",
        "40",
        "--json",
    )
    assert synth.returncode == 0, synth.stderr
    assert json.loads(synth.stdout)["rows"] == 2000
    built = lookup("build", str(extract), "--data", str(folder / "data"))
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("published snapshot ")
    return folder


def first_cccd(folder) -> str:
    import gzip

    with gzip.open(folder / "extract.csv.gz", "rt", encoding="utf-8") as f:
        f.readline()
        return f.readline().split(",")[0]


def test_get_prints_the_entitlement_json(store):
    cccd = first_cccd(store)
    out = lookup(
        "get", f" {cccd[:4]} {cccd[4:]} ", "--date", "2026-06-01", "--data", str(store / "data")
    )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["person"]["cccd"] == cccd and body["id_type"] == "cccd"
    assert body["date"] == "2026-06-01" and body["in_route"] is None


def test_get_with_facility_reports_in_route(store):
    cccd = first_cccd(store)
    data = ["--data", str(store / "data"), "--date", "2026-06-01"]
    body = json.loads(lookup("get", cccd, *data).stdout)
    facility = body["card"]["facility_code"] if body["card"] else "01832"
    there = json.loads(lookup("get", cccd, "--facility", facility.lower(), *data).stdout)
    assert there["in_route"] is (body["card"] is not None)


def test_malformed_id_is_an_answer_not_an_error(store):
    out = lookup("get", "12345", "--data", str(store / "data"))
    assert out.returncode == 0
    result = json.loads(out.stdout)["result"]
    assert result["code"] == "205" and "5 digits" in result["message_en"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "001085000001", "--date", "2026-02-30"], "date: not a real date"),
        (["get", "001085000001", "--facility", "1"], "facility: must be 5 characters"),
        (["synth", "--rows", "0", "--out", "x.csv"], "must be at least 1"),
        (["build"], "the following arguments are required: FILE"),
        (["prune", "--keep", "two"], "not a whole number"),
    ],
)
def test_usage_errors_exit_2_with_a_message(store, args, message):
    out = lookup(*args, "--data", str(store / "data"), cwd=store)
    assert out.returncode == 2 and message in out.stderr


def test_runtime_failures_exit_1_saying_what_to_do(tmp_path):
    out = lookup("get", "001085000001", "--data", str(tmp_path / "none"))
    assert out.returncode == 1 and "lookup build EXTRACT" in out.stderr
    out = lookup("build", str(tmp_path / "missing.csv"), "--data", str(tmp_path / "d"))
    assert out.returncode == 1 and "missing.csv: cannot open" in out.stderr
    # With --json, the same as a JSON error on stdout (the line stays on stderr).
    out = lookup("get", "001085000001", "--data", str(tmp_path / "none"), "--json")
    assert out.returncode == 1 and "lookup build EXTRACT" in out.stderr
    error = json.loads(out.stdout)["error"]
    assert error["code"] == "failed" and "lookup build EXTRACT" in error["message"]


def test_an_os_error_is_one_line_not_a_traceback(tmp_path):
    (tmp_path / "data").write_text("a file where the data directory belongs")
    out = lookup("keys", "add", "x", "--scopes", "his", "--data", str(tmp_path / "data"), "--json")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith("lookup keys: ")
    assert json.loads(out.stdout)["error"]["code"] == "os"


def test_apply_snapshots_rollback_prune(store):
    data = ["--data", str(store / "data")]
    applied = lookup("apply", str(store / "delta.csv"), *data, "--json")
    assert applied.returncode == 0, applied.stderr
    summary = json.loads(applied.stdout)
    assert summary["added"] + summary["changed"] + summary["deleted"] == 40
    listed = json.loads(lookup("snapshots", *data, "--json").stdout)
    assert [s["kind"] for s in listed] == ["build", "delta"] and listed[1]["current"]
    assert lookup("rollback", *data).stdout.strip() == f"current snapshot is now {listed[0]['id']}"
    # The newest is kept and so is the current one, even when it is older.
    assert json.loads(lookup("prune", "--keep", "1", *data, "--json").stdout) == {"deleted": []}
    assert lookup("rollback", listed[1]["id"], *data).returncode == 0
    pruned = json.loads(lookup("prune", "--keep", "1", *data, "--json").stdout)
    assert pruned == {"deleted": [listed[0]["id"]]}
    human = lookup("snapshots", *data).stdout
    assert f"* {listed[1]['id']}" in human and "1 snapshot(s)" in human
