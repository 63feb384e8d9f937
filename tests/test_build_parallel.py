"""`lookup build --jobs N`: workers read byte ranges of the extract (lookup/ingest/parallel.py), and
the snapshot and rejects file are the serial build's, byte for byte, on both implementations: rows
sharing keys across ranges, invalid rows in every range, blank lines, quoted line ends, and a
quoted value spanning lines across a cut (the ranges after it are read again)."""

from __future__ import annotations

import csv
import gzip
import io
import multiprocessing
import os
import signal
from datetime import date
from pathlib import Path

import lmdb
import orjson
import psutil
import pytest

from lookup import _core
from lookup.errors import ExtractError, StoreError
from lookup.ingest import parallel
from lookup.ingest.build import _range_starts, build
from lookup.store import DataDir

from helpers.files import person
from helpers.rows import COLUMNS
from helpers.twins import use_implementation

ROWS = 3000


@pytest.fixture(autouse=True)
def split_small_files(monkeypatch, impl):
    """Split files of any size, and run the build on the implementation under test (the
    workers are forked: they use it too)."""
    monkeypatch.setenv("LOOKUP_BUILD_MIN_SPLIT", "1")
    use_implementation(monkeypatch, impl)


def encode(rows: list[dict[str, str]], line_end: str) -> list[bytes]:
    """Each row as write_csv (tests/helpers/files.py) writes it, the header first."""
    out = []
    for values in [COLUMNS, *([row.get(name, "") for name in COLUMNS] for row in rows)]:
        text = io.StringIO()
        csv.writer(text, lineterminator=line_end).writerow(values)
        out.append(text.getvalue().encode())
    return out


def tricky_rows() -> list[dict[str, str]]:
    """Valid people, and in every part of the file: invalid rows, rows flagged for data quality,
    quoted values spanning lines, and rows sharing a CCCD, a bhxh_code or a card code with rows
    far away (in other ranges)."""
    rows = [person(i) for i in range(ROWS)]
    for i in range(7, ROWS, 250):
        rows[i]["gender"] = "9"
        rows[i + 1]["cccd"] = f"003085{i:06d}"  # unknown province: kept, counted
        rows[i + 2]["address"] = 'Số 1, ngõ "Hạnh Phúc",\nHà Nội'
    for i in (ROWS // 3 + 1, 2 * ROWS // 3 + 1, ROWS - 10):
        rows[i] = dict(rows[100])  # the same person three times: "also on lines a, b"
    shared = rows[20]["bhxh_code"]
    rows[ROWS // 2 + 3].update(bhxh_code=shared, card_no="HC401" + shared)
    rows[ROWS - 40]["prev_card_no"] = rows[40]["card_no"]
    return rows


def write(
    path: Path, rows: list[dict[str, str]], line_end: str = "\n", blank_every: int = 0
) -> Path:
    lines = encode(rows, line_end)
    if blank_every:
        lines = [line + (b"\n" if i % blank_every == 5 else b"") for i, line in enumerate(lines)]
    path.write_bytes(b"".join(lines))
    return path


def write_across_cut(path: Path, rows: list, jobs: int, cut: int, line_end: str = "\n") -> Path:
    """Write rows with one more whose quoted address spans 100 lines, placed so that the build's
    cut number `cut` (of jobs - 1) falls inside it; check that it does."""
    across = person(ROWS + 1, address="x\n" * 99 + "x")  # 199 characters once normalised
    lines = encode(rows, line_end)
    size = sum(map(len, lines)) + len(encode([across], line_end)[1])
    nominal = cut * size // jobs
    offset, at = 0, 0
    while offset + len(lines[at]) <= nominal:  # the row the nominal cut falls in
        offset += len(lines[at])
        at += 1
    write(path, rows[: at - 1] + [across] + rows[at - 1 :], line_end)
    data = path.read_bytes()
    start = parallel.range_starts(str(path), len(data), jobs)[cut]
    assert offset < start < offset + len(encode([across], line_end)[1]), "not across the cut"
    return path


def dump(data: DataDir) -> dict:
    """Every entry of every database of the current snapshot."""
    with lmdb.open(str(data.current_path()), readonly=True, lock=False, max_dbs=4) as env:
        out = {}
        for name in (b"people", b"bhxh", b"cards", b"meta"):
            with env.begin(db=env.open_db(name, create=False)) as txn:
                out[name] = list(txn.cursor())
    # The manifest says which snapshot it is and when it was made; the rest must match too.
    meta = dict(out[b"meta"])
    out[b"meta"] = {
        k: v
        for k, v in orjson.loads(meta.pop(b"manifest")).items()
        if k not in ("id", "created_at")
    }
    out[b"strings"] = meta.pop(b"strings")  # the string table, in the order records added to it
    assert not meta
    return out


def build_both(tmp_path: Path, extract: Path, jobs: int) -> tuple:
    """Build the extract serially and with `jobs` processes: (stores, rejects, summaries)."""
    results = []
    for n in (1, jobs):
        data = DataDir(tmp_path / f"jobs-{n}")
        summary = build(data, str(extract), max_reject_ratio=0.5, jobs=n)
        rejects = Path(summary.pop("rejects_file")).read_bytes()
        for key in ("snapshot", "seconds"):
            summary.pop(key)
        results.append((dump(data), rejects, summary))
    return results


@pytest.mark.parametrize("jobs", [2, 3, 4])
@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_ranges_build_what_one_process_builds(tmp_path, jobs, line_end):
    extract = write(tmp_path / "x.csv", tricky_rows(), line_end, blank_every=97)
    assert len(_range_starts(str(extract), jobs)) == jobs
    serial, parallel_ = build_both(tmp_path, extract, jobs)
    assert parallel_ == serial
    rejects = serial[1].decode().splitlines()
    assert sum("duplicate, also on lines" in line for line in rejects) == 4
    assert sum("gender" in line for line in rejects) == len(range(7, ROWS, 250))
    assert any("bhxh_code: shared" in line for line in rejects)
    assert any("prev_card_no: shared" in line for line in rejects)


@pytest.mark.parametrize(("jobs", "cut"), [(2, 1), (3, 1), (3, 2), (4, 2)])
def test_a_quoted_value_across_a_cut(tmp_path, jobs, cut):
    # The range after the cut starts inside a quoted value: what it (and any later range) read
    # is thrown away, and the parent reads on from where the range before it stopped.
    extract = write_across_cut(tmp_path / "x.csv", tricky_rows(), jobs, cut, "\r\n")
    serial, parallel_ = build_both(tmp_path, extract, jobs)
    assert parallel_ == serial
    assert serial[2]["rows"] == ROWS + 1


def test_a_synthetic_extract(tmp_path):
    from lookup.synth import synthesize

    extract = tmp_path / "synth.csv"
    synthesize(str(extract), 4000, seed=11, as_of=date(2026, 6, 1), invalid_rate=0.02)
    serial, parallel_ = build_both(tmp_path, extract, 3)
    assert parallel_ == serial


def test_gzip_and_small_extracts_are_read_by_one_process(tmp_path, monkeypatch):
    rows = [person(i) for i in range(50)]
    plain = write(tmp_path / "x.csv", rows)
    (tmp_path / "x.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert _range_starts(str(tmp_path / "x.csv.gz"), 4) == [0]
    assert _range_starts(str(plain), 1) == [0]
    assert len(_range_starts(str(plain), 4)) == 4
    monkeypatch.delenv("LOOKUP_BUILD_MIN_SPLIT")
    assert _range_starts(str(plain), 4) == [0]  # under parallel.MIN_SPLIT


def test_a_bad_file_in_a_later_range_fails_as_the_serial_build_does(tmp_path):
    rows = [person(i) for i in range(ROWS)]
    rows[ROWS - 30]["address"] = "x" * (70 * 1024)  # over csvrows.FIELD_LIMIT: broken quoting
    extract = write(tmp_path / "x.csv", rows)
    messages = []
    for jobs in (1, 3):
        data = DataDir(tmp_path / f"jobs-{jobs}")
        with pytest.raises(ExtractError, match=f"line {ROWS - 28}: not valid CSV") as err:
            build(data, str(extract), jobs=jobs)
        messages.append(str(err.value))
        assert data.current_id() is None and not (data.root / "staging").exists()
    assert messages[0] == messages[1]
    assert _build_workers() == []  # the workers are gone


def _build_workers() -> list[psutil.Process]:
    """This process's children but multiprocessing's resource tracker, which a spawn pool
    (lookup synth's, in an earlier test) starts once and leaves for the whole session."""
    return [
        child
        for child in psutil.Process().children()
        if "multiprocessing.resource_tracker" not in " ".join(child.cmdline())
    ]


@pytest.mark.parametrize("dies", [True, False], ids=["killed", "short"])
@pytest.mark.parametrize("merge", ["bhxh", "people", "cards"])
def test_a_merge_streamed_short_publishes_nothing(tmp_path, monkeypatch, merge, dies):
    """The merges of the write phase stream from a forked worker through a pipe: a worker that
    stops after some entries, at an entry's end (killed, or ending early), fails the build."""
    extract = write(tmp_path / "x.csv", tricky_rows())
    data = DataDir(tmp_path / "data")
    good = build(data, str(extract), jobs=1, max_reject_ratio=1)["snapshot"]
    real_write_run = _core.write_run

    def write_run(items, path):  # in the worker
        if multiprocessing.current_process().name != f"{merge} merge":
            return real_write_run(items, path)
        sent = real_write_run(list(items)[:-1], path)  # all but the last
        if dies:
            os.kill(os.getpid(), signal.SIGKILL)
        return sent

    monkeypatch.setattr(_core, "write_run", write_run)
    reason = "was killed by SIGKILL" if dies else r"sent [\d,]+ entries of [\d,]+"
    with pytest.raises(StoreError, match=f"^{merge} merge {reason}"):
        build(data, str(extract), jobs=2, max_reject_ratio=1)
    assert data.current_id() == good and [s.id for s in data.list()] == [good]
    assert not (data.root / "staging").exists()
    assert _build_workers() == []
