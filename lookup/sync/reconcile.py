"""`lookup reconcile`: compare the national population register with the store (SPEC.md 4).

The population extract is read once, in file order, and each row is looked up in the snapshot
that was current when the command started (held open to the end, whatever is published
meanwhile): the report says, row for row, whether the register and the store agree. The CCCDs
found go to an external sorter; merged at the end with the store's people, in key order, they
give the insured people the register lacks (`not_in_register`, last in the report). Memory stays
flat at any size: a row at a time, and the sorter's bounded buffer.

The report and the corrections delta are written beside their final names and renamed into
place when complete, so a killed reconcile leaves no partial file under either name.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any, NamedTuple

import lmdb

from lookup import _core
from lookup.clock import pack_day, today_in_vietnam
from lookup.errors import RowError
from lookup.ingest.extract import Extract
from lookup.progress import Progress
from lookup.schema import COLUMNS
from lookup.store import DataDir

__all__ = ("REPORT_COLUMNS", "STATUSES", "reconcile")

REPORT_COLUMNS = ("cccd", "status", "fields")
STATUSES = ("match", "mismatch", "deceased", "not_insured", "not_in_register", "invalid")
FIELDS = ("full_name", "full_name_diacritics", "dob", "dob_precision", "gender")
GENDER_CODES = {"male": "1", "female": "2", "unknown": "3"}
PROGRESS_EVERY = 65_536  # rows between progress updates


def reconcile(
    data: DataDir,
    population: str,
    *,
    report: str | None = None,
    corrections: str | None = None,
    today: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Compare `population` (SPEC.md 1.3) with the current snapshot; return the summary.

    The report goes to `report` (default DATA/reports/reconcile-<snapshot>.csv); with
    `corrections`, the delta that makes the store agree with the register goes there.
    `today` (packed yyyymmdd, default today in Vietnam) decides who has died.
    """
    started = time.monotonic()
    progress = progress or Progress(enabled=False)
    day = today or pack_day(today_in_vietnam())
    snapshot = data.current_path()
    report_path = (
        Path(report) if report else data.root / "reports" / f"reconcile-{snapshot.name}.csv"
    )
    counts: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    with ExitStack() as stack:
        extract = stack.enter_context(Extract(population, kind="population"))
        env = stack.enter_context(
            lmdb.open(str(snapshot), readonly=True, lock=False, max_dbs=4, subdir=True)
        )
        txn = stack.enter_context(env.begin())
        people = env.open_db(b"people", txn=txn, create=False)
        out = stack.enter_context(_Staged(report_path))
        report_rows = csv.writer(out.file, lineterminator="\n")
        report_rows.writerow(REPORT_COLUMNS)
        fixes = None
        if corrections:
            fixes = csv.writer(stack.enter_context(_Staged(Path(corrections))).file)
            fixes.writerow(("op", *COLUMNS))
        seen = stack.enter_context(_core.ExternalSorter(8, str(report_path.parent), 64 * 2**20))
        progress.phase("reconcile", extract.position()[1])
        columns = extract.columns
        cccd_at = columns.index("cccd")
        for line, values in extract:
            status, differ, found = _one(values, columns, line, txn, people, day)
            if found is not None:
                seen.add(found.key, b"")
            if status == "mismatch":
                fields.update(differ.split(";"))
                if fixes is not None:
                    fixes.writerow(_correction(found, differ))
            counts[status] += 1
            cccd = values[cccd_at] if cccd_at < len(values) else ""
            report_rows.writerow((cccd, status, differ))
            if line % PROGRESS_EVERY == 0:
                progress.update(extract.position()[0], line)
        progress.phase("insured people the register lacks")
        for key in _unseen(txn, people, seen.items()):
            report_rows.writerow((f"{int.from_bytes(key, 'big'):012d}", "not_in_register", ""))
            counts["not_in_register"] += 1
        progress.done()
    # Leaving the block renamed the report and the corrections into place.
    return _summary(snapshot.name, population, report_path, corrections, counts, fields, started)


class _Found(NamedTuple):
    """A register row whose CCCD the store holds, with the stored record."""

    key: bytes
    row: Any  # the twin's RegisterRow
    stored: bytes


def _one(
    values: list[str], columns: tuple[str, ...], line: int, txn: Any, people: Any, day: int
) -> tuple[str, str, _Found | None]:
    """Return the status and fields of one population row, and what the store holds of it."""
    if len(values) != len(columns):
        reason = f"row: {len(values)} fields; the header has {len(columns)}"
        return "invalid", f"line {line}: {reason}", None
    try:
        row = _core.check_register_row(values, columns)
    except RowError as exc:
        return "invalid", f"line {line}: {exc.message}", None
    key = int(row.cccd).to_bytes(8, "big")
    stored = txn.get(key, db=people)
    if stored is None:
        return "not_insured", "", None
    status, differ = _core.compare_register_row(row, stored, day)
    return status, differ, _Found(key, row, stored)


def _correction(found: _Found | None, differ: str) -> list[str]:
    """Return the upsert row that gives the stored person what the register says where they
    differ (name, birth date, sex); the rest of the row is the store's, unchanged."""
    assert found is not None  # a mismatch was found in the store
    person, register = _core.decode_record(found.stored), found.row
    fields = set(differ.split(";"))
    name_differs = bool(fields & {"full_name", "full_name_diacritics"})
    dob_differs = bool(fields & {"dob", "dob_precision"})
    row = {
        "cccd": register.cccd,
        "bhxh_code": person.bhxh_code,
        "card_no": person.card_no,
        "full_name": register.full_name if name_differs else person.full_name,
        "dob": _date(register.dob if dob_differs else person.dob),
        "gender": GENDER_CODES[register.gender if "gender" in fields else person.gender],
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


def _unseen(txn: Any, people: Any, seen: Iterator[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """Yield the store's keys that are not among `seen` (sorted, repeats allowed)."""
    pending = next(seen, None)
    for key in txn.cursor(db=people).iternext(values=False):
        while pending is not None and pending[0] < key:
            pending = next(seen, None)
        if pending is None or pending[0] != key:
            yield key


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
        self.file: IO[str] = os.fdopen(fd, "w", newline="", encoding="utf-8")

    def __enter__(self) -> _Staged:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.file.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)
