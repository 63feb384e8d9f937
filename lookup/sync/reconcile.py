"""`lookup reconcile`: compare the national population register with the store (SPEC.md 4).

The population extract is read once, in file order, and each row is looked up in the snapshot
that was current when the command started (held open to the end, whatever is published
meanwhile): the report says, row for row, whether the register and the store agree. The core's
reader judges the well-formed rows in C from the file's bytes (docs/DESIGN.md 8), and hands
every other row to the plain-Python rules (lookup.reference.reconcile) through `slow`: invalid
rows, names outside its letter table, and mismatches when corrections are asked for (a
correction is the whole stored row). The CCCDs found (8 bytes
each: 800 MB for the whole country) are sorted and merged with the store's people, in key
order, for the insured people the register lacks (`not_in_register`, last in the report).

The report and the corrections delta are written beside their final names and renamed into
place when complete, so a killed reconcile leaves no partial file under either name.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from array import array
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any, NamedTuple

from lookup import _core
from lookup._os import crash_point
from lookup.clock import pack_day, today_in_vietnam
from lookup.errors import RowError
from lookup.ingest import parallel
from lookup.ingest.extract import Extract
from lookup.progress import Progress
from lookup.schema import COLUMNS, GENDERS
from lookup.store import DataDir
from lookup.store.strings import Strings

__all__ = ("REPORT_COLUMNS", "STATUSES", "reconcile")

REPORT_COLUMNS = ("cccd", "status", "fields")
STATUSES = ("match", "mismatch", "deceased", "not_insured", "not_in_register", "invalid")
FIELDS = ("full_name", "full_name_diacritics", "dob", "dob_precision", "gender")
PROGRESS_EVERY = 65_536  # rows between progress updates


def reconcile(
    data: DataDir,
    population: str,
    *,
    report: str | None = None,
    corrections: str | None = None,
    today: int | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    min_split: int = parallel.MIN_SPLIT,
) -> dict[str, Any]:
    """Compare `population` (SPEC.md 1.3) with the current snapshot; return the summary.

    The report goes to `report` (default DATA/reports/reconcile-<snapshot>.csv); with
    `corrections`, the delta that makes the store agree with the register goes there.
    `today` (packed yyyymmdd, default today in Vietnam) decides who has died. A plain file of
    at least `min_split` bytes is read by `jobs` processes (default: the CPUs, at most
    parallel.MAX_JOBS) over byte ranges cut at line ends, with the same report as one.
    """
    started = time.monotonic()
    progress = progress or Progress(enabled=False)
    day = today or pack_day(today_in_vietnam())
    snapshot = data.current_path()
    report_path = (
        Path(report) if report else data.root / "reports" / f"reconcile-{snapshot.name}.csv"
    )
    with ExitStack() as stack:
        extract = stack.enter_context(Extract(population, kind="population"))
        size = extract.position()[1]
        starts = [0]
        if not extract.compressed and size >= min_split:
            starts = parallel.range_starts(population, size, jobs or parallel.default_jobs())
        out = stack.enter_context(_Staged(report_path)).file
        out.write(",".join(REPORT_COLUMNS).encode() + b"\n")
        fixes = None
        if corrections:
            fixes = stack.enter_context(_Staged(Path(corrections))).file
            fixes.write(",".join(("op", *COLUMNS)).encode() + b"\r\n")  # csv's own line end
        parts = stack.enter_context(tempfile.TemporaryDirectory(dir=report_path.parent))
        task = _Task(str(snapshot), extract.columns, day, Path(parts), corrections is not None)
        done = _reconcile_ranges(extract, starts, task, progress)
        if done is None:  # a quoted line end straddled a cut: read the file in one go instead
            extract.close()
            extract = stack.enter_context(Extract(population, kind="population"))
            done = _reconcile_ranges(extract, [0], task, progress)
            assert done is not None  # one range starts where it should
        for part in done:
            _append(out, part.report)
            if fixes is not None:
                _append(fixes, part.corrections)
        progress.phase("insured people the register lacks")
        with _core.SnapshotReader(str(snapshot)) as reader:
            missing = array("Q")
            missing.frombytes(reader.missing(b"".join(part.found for part in done)))
        for number in missing:
            out.write(b"%012d,not_in_register,\n" % number)
        progress.done()
        crash_point("reconcile-written")  # all written, nothing renamed yet (crash tests)
        counts = sum((part.counts for part in done), Counter[str]())
        counts["not_in_register"] += len(missing)
        fields = sum((part.fields for part in done), Counter[str]())
    # Leaving the block renamed the report and the corrections into place.
    return _summary(snapshot.name, population, report_path, corrections, counts, fields, started)


class _Task(NamedTuple):
    """What every range's reader needs to know."""

    snapshot: str
    columns: tuple[str, ...]
    day: int
    parts: Path  # a folder for the ranges' report and corrections parts
    corrections: bool


class _Part(NamedTuple):
    """One range's outcome: its report and corrections parts, counts, and the CCCDs found."""

    report: Path
    corrections: Path
    counts: Counter[str]
    fields: Counter[str]
    found: bytes
    end: int  # where reading stopped: the next range's start, when the cut was clean


def _reconcile_ranges(
    extract: Extract, starts: list[int], task: _Task, progress: Progress
) -> list[_Part] | None:
    """Reconcile the first range here while workers do the others; return the parts in order,
    or None when a range did not start where the one before it stopped."""
    ends = [*starts[1:], None]
    workers = [
        parallel.Worker(
            f"reconcile worker {index} (bytes {starts[index]:,}- of {extract.path})",
            _worker_range,
            extract.path,
            starts[index],
            ends[index],
            task,
            index,
        )
        for index in range(1, len(starts))
    ]
    try:
        progress.phase("reconcile", starts[1] if len(starts) > 1 else extract.position()[1])
        parts = [_range(extract, ends[0], task, 0, progress)]
        for worker, start in zip(workers, starts[1:], strict=True):
            if parts[-1].end != start:
                return None
            parts.append(worker.result())
        return parts
    finally:
        for worker in workers:
            worker.stop()


def _worker_range(path: str, start: int, stop: int | None, task: _Task, index: int) -> _Part:
    """In a forked worker: reconcile the rows from byte `start` (LMDB opened after the fork)."""
    line = parallel.line_at(path, start)
    with Extract(path, kind="population", start=start, line=line, columns=task.columns) as extract:
        return _range(extract, stop, task, index, Progress(enabled=False))


def _range(
    extract: Extract, stop: int | None, task: _Task, index: int, progress: Progress
) -> _Part:
    """Reconcile the extract's rows up to the first row boundary at or past byte `stop`."""
    counts: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    columns, cccd_at = task.columns, task.columns.index("cccd")
    report_part = task.parts / f"report-{index}.csv"
    corrections_part = task.parts / f"corrections-{index}.csv"
    with (
        _core.SnapshotReader(task.snapshot) as reader,
        open(report_part, "wb") as out,
        open(corrections_part, "w", newline="", encoding="utf-8") as fixes_file,
    ):
        fixes = csv.writer(fixes_file) if task.corrections else None
        strings = Strings(reader.strings)

        def slow(line: int, values: list[str]) -> tuple[bytes, int]:
            """Judge a row the core did not find a plain match (lookup.reference.reconcile)."""
            status, differ, found = _one(values, columns, line, reader, task.day, strings)
            counts[status] += 1
            if status == "mismatch":
                fields.update(differ.split(";"))
                if fixes is not None:
                    fixes.writerow(_correction(found, differ, strings))
            cccd = values[cccd_at] if cccd_at < len(values) else ""
            return _csv_line(cccd, status, differ), int(found.row.cccd) if found else -1

        with extract.reading() as rows:
            if stop is not None:
                rows.stop_at(stop - extract.start)

            def tick(read: int) -> None:
                progress.update(extract.position()[0], read)

            # A correction needs the whole stored row: with corrections, mismatches go to `slow`.
            done_in_core, fields_in_core, found = reader.reconcile(
                rows,
                columns,
                slow,
                out.write,
                task.day,
                fixes is None,
                tick if progress.enabled else None,
                PROGRESS_EVERY,
            )
            end = extract.start + rows.offset
    counts.update(done_in_core)
    fields.update(fields_in_core)
    return _Part(report_part, corrections_part, counts, fields, found, end)


def _append(out: IO[bytes], part: Path) -> None:
    """Copy a range's part to the end of the output."""
    with open(part, "rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)


class _Found(NamedTuple):
    """A register row whose CCCD the store holds, with the stored record."""

    row: Any  # the twin's RegisterRow
    stored: bytes


def _csv_line(*values: str) -> bytes:
    """Return one CSV line (RFC 4180 quoting where a value needs it)."""
    quoted = (
        '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v for v in values
    )
    # A value that was not UTF-8 in the file (surrogates, from csvrows) is written back as it was.
    return (",".join(quoted) + "\n").encode("utf-8", "surrogateescape")


def _one(
    values: list[str],
    columns: tuple[str, ...],
    line: int,
    reader: Any,
    day: int,
    strings: Strings,
) -> tuple[str, str, _Found | None]:
    """Return the status and fields of one population row, and what the store holds of it."""
    if len(values) != len(columns):
        reason = f"row: {len(values)} fields; the header has {len(columns)}"
        return "invalid", f"line {line}: {reason}", None
    try:
        row = _core.check_register_row(values, columns)
    except RowError as exc:
        return "invalid", f"line {line}: {exc.message}", None
    stored = reader.stored_record(int(row.cccd))
    if stored is None:
        return "not_insured", "", None
    status, differ = _core.compare_register_row(row, stored, day, strings)
    return status, differ, _Found(row, stored)


def _correction(found: _Found | None, differ: str, strings: Strings) -> list[str]:
    """Return the upsert row that gives the stored person what the register says where they
    differ (name, birth date, sex); the rest of the row is the store's, unchanged."""
    assert found is not None  # a mismatch was found in the store
    person, register = _core.decode_record(found.stored, strings), found.row
    fields = set(differ.split(";"))
    name_differs = bool(fields & {"full_name", "full_name_diacritics"})
    dob_differs = bool(fields & {"dob", "dob_precision"})
    row = {
        "cccd": register.cccd,
        "bhxh_code": person.bhxh_code,
        "card_no": person.card_no,
        "full_name": register.full_name if name_differs else person.full_name,
        "dob": _date(register.dob if dob_differs else person.dob),
        "gender": str(GENDERS.index(register.gender if "gender" in fields else person.gender)),
        "address": person.address or "",
        "facility_code": person.facility_code,
        "valid_from": _date(person.valid_from),
        "valid_to": _date(person.valid_to),
        "five_year_date": _date(person.five_year_date),
        "region_code": person.region_code or "",
        "status": person.status,
        "managed_by": person.managed_by,
        "prev_card_no": person.prev_card_no or "",
        "prev_valid_to": _date(person.prev_valid_to),
        "issuer": person.issuer or "",
    }
    return ["upsert", *(row[name] for name in COLUMNS)]


def _date(packed: int | None) -> str:
    """Format a packed date as the files write it: YYYY-MM-DD, or YYYY-MM / YYYY when partial."""
    if not packed:
        return ""
    year, month, day = packed // 10000, packed // 100 % 100, packed % 100
    if month == 0:
        return f"{year:04d}"
    return f"{year:04d}-{month:02d}" if day == 0 else f"{year:04d}-{month:02d}-{day:02d}"


def _summary(
    snapshot: str,
    population: str,
    report: Path,
    corrections: str | None,
    counts: Counter[str],
    fields: Counter[str],
    started: float,
) -> dict[str, Any]:
    rows = sum(counts[s] for s in STATUSES if s != "not_in_register")

    def share(n: int, of: int) -> float:
        return round(100 * n / of, 3) if of else 0.0

    return {
        "snapshot": snapshot,
        "population": population,
        "report": str(report),
        "corrections": corrections,
        "population_rows": rows,
        "statuses": {s: {"count": counts[s], "pct": share(counts[s], rows)} for s in STATUSES},
        "fields": {f: {"count": fields[f], "pct": share(fields[f], rows)} for f in FIELDS},
        "seconds": round(time.monotonic() - started, 3),
    }


class _Staged:
    """A file written under a temporary name beside `path`, renamed to it on a clean exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def __enter__(self) -> _Staged:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.file.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)
