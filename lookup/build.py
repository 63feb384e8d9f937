"""Build a snapshot from a full extract (SPEC.md 1.1) and publish it atomically.

The build streams: rows are validated one at a time by the core and handed to external sorters
(bounded memory, spilling sorted runs to disk), so 100 million rows build in a few GB.

    read     CSV row -> RowValidator -> four sorters:
               ids    cccd -> line                      (finds duplicate CCCDs cheaply)
               people cccd -> line + record
               bhxh   bhxh -> cccd + line
               cards  card -> cccd + line + which       (current and previous card codes)
    check    merge ids, bhxh, cards: every line in a group of equal keys is rejected
    write    merge people, bhxh, cards in key order -> LMDB append (no page splits, full pages)
    publish  fsync, rename staging -> snapshots, rename CURRENT (lookup.store)
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import lmdb
import orjson

from lookup import _core
from lookup.errors import RowError, StoreError
from lookup.extract import Extract
from lookup.progress import Progress
from lookup.store import DataDir, crash_point

__all__ = ("build", "BuildRejected", "open_store_for_writing")

FORMAT_VERSION = 1
SORT_MEMORY = 256 * 2**20  # per sorter; four sorters stay near 1 GB whatever the extract size
COMMIT_EVERY = 1_000_000  # entries per write transaction: bounds LMDB's dirty-page list
QUALITY_FLAGS = {
    1: "cccd_sex_or_century_mismatch",
    2: "cccd_birth_year_mismatch",
    4: "cccd_unknown_province",
}
CURRENT, PREVIOUS = b"\x00", b"\x01"
MAX_LINES_NAMED = 5


class BuildRejected(StoreError):
    """Too many rows were rejected: nothing was published."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


def build(
    data: DataDir,
    source: str,
    *,
    rejects_path: str | None = None,
    max_reject_ratio: float = 0.001,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build a snapshot from the extract at `source`, publish it, and return a summary."""
    progress = progress or Progress(enabled=False)
    started = time.monotonic()
    with data.writer():
        snapshot_id, staging = data.new_staging()
        rejects_file = Path(rejects_path) if rejects_path else data.rejects / f"{snapshot_id}.csv"
        with _Rejects(rejects_file) as rejects, _Sorters(staging / "sort") as sorters:
            read = _read(source, sorters, rejects, progress)
            crash_point("after-read")
            rejected_lines = _find_shared_keys(sorters, rejects, progress)
            rejected = read["invalid"] + len(rejected_lines)
            summary: dict[str, Any] = {
                "snapshot": snapshot_id,
                "source": str(source),
                "rows": read["rows"],
                "rejected": rejected,
                "published": read["rows"] - rejected,
                "rejects_file": str(rejects_file) if rejected else None,
                "data_quality": read["data_quality"],
            }
            if read["rows"] == 0 or rejected > max_reject_ratio * read["rows"]:
                raise BuildRejected(_too_many_rejected(summary, max_reject_ratio), summary)
            identity = snapshot_identity(snapshot_id, "build", source)
            counts = _write_store(
                staging, sorters, rejected_lines, read["record_bytes"], identity, progress
            )
        shutil.rmtree(staging / "sort")
        summary["entries"] = counts
        summary["store_bytes"] = (staging / "data.mdb").stat().st_size
        summary["seconds"] = round(time.monotonic() - started, 3)
        crash_point("before-publish")
        progress.phase("publishing")
        manifest = {
            **identity,
            **{k: summary[k] for k in ("rows", "rejected", "published", "data_quality")},
            "entries": counts,
            "store_bytes": summary["store_bytes"],
        }
        data.publish(snapshot_id, manifest)
        progress.done()
    return summary


# -- read -----------------------------------------------------------------------------------
def _read(source: str, sorters: _Sorters, rejects: _Rejects, progress: Progress) -> dict[str, Any]:
    quality = dict.fromkeys(QUALITY_FLAGS.values(), 0)
    rows = invalid = record_bytes = 0
    with Extract(source) as extract:
        validate = _core.impl.validate.RowValidator(extract.columns).validate
        add_id, add_person = sorters.ids.add, sorters.people.add
        add_bhxh, add_card = sorters.bhxh.add, sorters.cards.add
        progress.phase("reading", total=extract.position()[1])
        for line, values in extract:
            rows += 1
            if rows % 65536 == 0:
                progress.update(extract.position()[0], rows)
            try:
                row = validate(values)
            except RowError as exc:
                invalid += 1
                rejects.add(line, exc.field, exc.message)
                continue
            tag = line.to_bytes(4, "little")
            key = row.cccd_key
            add_id(key, tag)
            add_person(key, tag + row.record)
            add_bhxh(row.bhxh_key, key + tag)
            add_card(row.card_no, key + tag + CURRENT)
            if row.prev_card_no is not None:
                add_card(row.prev_card_no, key + tag + PREVIOUS)
            record_bytes += len(row.record)
            if row.quality:
                for bit, name in QUALITY_FLAGS.items():
                    if row.quality & bit:
                        quality[name] += 1
    return {"rows": rows, "invalid": invalid, "record_bytes": record_bytes, "data_quality": quality}


# -- cross-row checks -----------------------------------------------------------------------
def _find_shared_keys(sorters: _Sorters, rejects: _Rejects, progress: Progress) -> set[int]:
    """Reject every row of a group sharing a CCCD, a bhxh_code or a card code (SPEC 1.1)."""
    progress.phase("checking duplicates")
    rejected: set[int] = set()
    found: list[tuple[int, str, str]] = []

    def reject_groups(groups: Iterable[list[tuple[int, str]]], message: Callable[[str], str]):
        for group in groups:
            lines = [line for line, _ in group]
            for line, field in group:
                if line not in rejected:
                    others = [other for other in lines if other != line]
                    found.append((line, field, message(field) + _name_lines(others)))
            rejected.update(lines)

    # CCCD first: two copies of one person share everything, and the CCCD is the real reason.
    reject_groups(
        _equal_key_groups(sorters.ids.items(), lambda v: (_line(v, 0), "cccd")),
        lambda field: "cccd: duplicate, also on ",
    )
    reject_groups(
        _equal_key_groups(sorters.bhxh.items(), lambda v: (_line(v, 8), "bhxh_code")),
        lambda field: f"{field}: shared with ",
    )
    reject_groups(
        _equal_key_groups(
            sorters.cards.items(),
            lambda v: (_line(v, 8), "card_no" if v[12:13] == CURRENT else "prev_card_no"),
        ),
        lambda field: f"{field}: shared with ",
    )
    for line, field, message in sorted(found):
        rejects.add(line, field, message)
    return rejected


def _equal_key_groups(
    items: Iterator[tuple[bytes, bytes]], describe: Callable[[bytes], tuple[int, str]]
) -> Iterator[list[tuple[int, str]]]:
    """Yield (line, field) lists for runs of two or more equal keys in sorted items."""
    previous_key, group = None, []
    for key, value in items:
        if key != previous_key:
            if len(group) > 1:
                yield group
            previous_key, group = key, []
        group.append(describe(value))
    if len(group) > 1:
        yield group


def _line(value: bytes, offset: int) -> int:
    return int.from_bytes(value[offset : offset + 4], "little")


def _name_lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:MAX_LINES_NAMED])
    more = f" and {len(lines) - MAX_LINES_NAMED} more" if len(lines) > MAX_LINES_NAMED else ""
    return ("line " if len(lines) == 1 else "lines ") + shown + more


def _too_many_rejected(summary: dict[str, Any], ratio: float) -> str:
    if summary["rows"] == 0:
        return f"{summary['source']}: no rows after the header; nothing published"
    share = summary["rejected"] / summary["rows"]
    return (
        f"{summary['rejected']} of {summary['rows']} rows rejected ({share:.3%}), more than "
        f"--max-reject-ratio {ratio}; nothing published. Reasons by line: {summary['rejects_file']}"
    )


# -- write ----------------------------------------------------------------------------------
def open_store_for_writing(path: Path, map_size: int) -> lmdb.Environment:
    """Open a staging snapshot for writing: one writer, no readers, so no lock file."""
    return lmdb.open(
        str(path), map_size=map_size, max_dbs=4, lock=False, sync=False, metasync=False,
        lib_version=0, subdir=True,
    )  # fmt: skip


def snapshot_identity(snapshot_id: str, kind: str, source: str, **extra: Any) -> dict[str, Any]:
    """Return what a snapshot says about itself, in its `meta` db and its manifest.json."""
    return {
        "id": snapshot_id,
        "format": FORMAT_VERSION,
        "kind": kind,
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "core": _core.CORE,
        "source": str(source),
        **extra,
    }


def write_identity(env: lmdb.Environment, identity: dict[str, Any]) -> None:
    """Store the identity in the `meta` db, where readers take the snapshot id from."""
    with env.begin(write=True, db=env.open_db(b"meta")) as txn:
        txn.put(b"manifest", orjson.dumps(identity))


def _write_store(
    staging: Path,
    sorters: _Sorters,
    rejected: set[int],
    record_bytes: int,
    identity: dict[str, Any],
    progress: Progress,
) -> dict[str, int]:
    entries = len(sorters.people) + len(sorters.bhxh) + len(sorters.cards)
    # Appended pages are full; twice the payload plus per-entry overhead is ample headroom.
    map_size = 2 * (record_bytes + entries * 48) + 64 * 2**20
    env = open_store_for_writing(staging, map_size)
    try:
        counts = {}
        for name, sorter, value_start in (
            ("people", sorters.people, 4),
            ("bhxh", sorters.bhxh, 0),
            ("cards", sorters.cards, 0),
        ):
            progress.phase(f"writing {name}", total=len(sorter))
            counts[name] = _append_all(env, name, sorter.items(), rejected, value_start, progress)
            crash_point(f"after-write-{name}")
        write_identity(env, identity)
        env.sync(True)
    finally:
        env.close()
    return counts


def _append_all(env, name, items, rejected, value_start, progress) -> int:
    """Append sorted (key, value) items, dropping rejected lines and the line tags."""
    db = env.open_db(name.encode())
    line_at = 0 if value_start else 8
    keep_end = None if value_start else 8  # index values keep only the 8-byte CCCD key

    def kept():
        for key, value in items:
            if _line(value, line_at) not in rejected:
                yield key, value[value_start:keep_end]

    written = 0
    stream = kept()
    while True:
        with env.begin(write=True, db=db) as txn:
            added = txn.cursor().putmulti(islice(stream, COMMIT_EVERY), append=True)[1]
        written += added
        progress.update(written, written)
        if added < COMMIT_EVERY:
            return written


# -- helpers --------------------------------------------------------------------------------
class _Sorters:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        Sorter = _core.impl.sorter.ExternalSorter
        self.ids = Sorter(8, str(directory), SORT_MEMORY // 8)
        self.people = Sorter(8, str(directory), SORT_MEMORY)
        self.bhxh = Sorter(8, str(directory), SORT_MEMORY // 4)
        self.cards = Sorter(15, str(directory), SORT_MEMORY // 4)
        self.directory = directory

    def __enter__(self) -> _Sorters:
        return self

    def __exit__(self, *exc: object) -> None:
        for sorter in (self.ids, self.people, self.bhxh, self.cards):
            sorter.close()


class _Rejects:
    """The rejects CSV (line, field, reason), created only when a row is rejected."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = None
        self._writer = None
        self.count = 0

    def add(self, line: int, field: str, reason: str) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            self._writer = csv.writer(self._file)
            self._writer.writerow(("line", "field", "reason"))
        self._writer.writerow((line, field, reason))
        self.count += 1

    def __enter__(self) -> _Rejects:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
