"""Build a snapshot from a full extract (SPEC.md 1.1) and publish it atomically.

The build streams: rows are validated one at a time by the core and handed to external sorters
(bounded memory, spilling sorted runs to disk), so 100 million rows build in a few GB.

    read     CSV row -> RowValidator -> four sorters:
               ids    cccd -> line                      (finds duplicate CCCDs cheaply)
               people cccd -> record
               bhxh   bhxh -> cccd + line
               cards  card -> cccd + line + which       (current and previous card codes)
             with --jobs N, in N processes over byte ranges of a plain extract
             (lookup.ingest.parallel): each worker sorts its range into sorters of its own and
             hands their sorted runs to the parent's sorters, which merge them after their own:
             entries of equal keys stay in line order, so the result is the serial read's, byte
             for byte
    check    merge ids, bhxh, cards: every line in a group of equal keys is rejected
    write    merge people, bhxh, cards in key order -> SnapshotWriter (LMDB append: full pages);
             of the cards, only previous codes that end in another number than the card's
             (the others are found through bhxh: DESIGN 4)
    publish  fsync, rename staging -> snapshots, rename CURRENT (lookup.store)
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from lookup import _core
from lookup._os import crash_point
from lookup.errors import StoreError
from lookup.ingest import parallel
from lookup.ingest.extract import Extract
from lookup.progress import Progress
from lookup.schema import QUALITY_FLAGS
from lookup.store import DataDir
from lookup.store.manifest import snapshot_identity
from lookup.store.strings import STRINGS_KEY, Strings

if TYPE_CHECKING:
    from _csv import Writer

__all__ = ("BuildRejected", "build")

# Per sorter, shared by the processes of a parallel read: four sorters stay near 1 GB in all,
# whatever the extract size.
SORT_MEMORY = 256 * 2**20
# Bytes: tests lower parallel.MIN_SPLIT with it, so that small files split.
MIN_SPLIT_ENV = "LOOKUP_BUILD_MIN_SPLIT"
# The cards sorter's tags: which code of its holder a card code is (lookup/reference/csvrows.py).
CURRENT, PREVIOUS_INDEXED = b"\x00", b"\x02"
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
    jobs: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build a snapshot from the extract at `source`, publish it, and return a summary.

    `jobs`: processes reading the extract (default: the CPUs this process may use, at most
    parallel.MAX_JOBS); a gzip or small extract is read by one.
    """
    progress = progress or Progress(enabled=False)
    started = time.monotonic()
    with data.writer():
        snapshot_id, staging = data.new_staging()
        rejects_file = Path(rejects_path) if rejects_path else data.rejects / f"{snapshot_id}.csv"
        starts = _range_starts(source, jobs or parallel.default_jobs())
        memory = SORT_MEMORY // len(starts)
        with _Rejects(rejects_file) as rejects, _Sorters(staging / "sort", memory) as sorters:
            read = _read(source, starts, sorters, rejects, progress)
            crash_point("after-read")
            rejected_keys = _find_shared_keys(sorters, rejects, progress)
            rejected = read.invalid + rejects.rejected_rows
            summary: dict[str, Any] = {
                "snapshot": snapshot_id,
                "source": str(source),
                "rows": read.rows,
                "rejected": rejected,
                "published": read.rows - rejected,
                "rejects_file": str(rejects_file) if rejected else None,
                "data_quality": {name: read.flagged[i] for i, name in enumerate(QUALITY_FLAGS)},
            }
            if read.rows == 0 or rejected > max_reject_ratio * read.rows:
                raise BuildRejected(_too_many_rejected(summary, max_reject_ratio), summary)
            identity = snapshot_identity(snapshot_id, "build", source, core=_core.CORE)
            counts = _write_store(
                staging, sorters, rejected_keys, read.record_bytes, identity, progress
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
@dataclass
class _Read:
    """What reading the rows of an extract, or of a range of it, found."""

    rows: int = 0
    invalid: int = 0
    record_bytes: int = 0
    flagged: tuple[int, int, int] = (0, 0, 0)  # rows with data-quality flag 1, 2, 4
    end: int = 0  # the byte where reading stopped
    line: int = 1  # the physical line that starts there

    def add(self, later: _Read) -> None:
        """Add what the range after this one found."""
        self.rows += later.rows
        self.invalid += later.invalid
        self.record_bytes += later.record_bytes
        (a1, a2, a4), (b1, b2, b4) = self.flagged, later.flagged
        self.flagged = (a1 + b1, a2 + b2, a4 + b4)
        self.end, self.line = later.end, later.line


def _range_starts(source: str, jobs: int) -> list[int]:
    """Where the ranges of the extract that processes read start; [0]: one process reads it."""
    with Extract(source) as extract:  # checks the header before any process starts
        compressed, size = extract.compressed, extract.position()[1]
    min_split = int(os.environ.get(MIN_SPLIT_ENV, parallel.MIN_SPLIT))
    if jobs == 1 or compressed or size < min_split:
        return [0]
    return parallel.range_starts(source, size, jobs)


def _read(
    source: str, starts: list[int], sorters: _Sorters, rejects: _Rejects, progress: Progress
) -> _Read:
    with Extract(source) as extract:
        size = extract.position()[1]
        progress.phase("reading", total=size)
        if len(starts) == 1:
            return _feed(extract, None, sorters, rejects, progress.update)
        read = _read_ranges(extract, starts, sorters, rejects, progress)
    if read.end < size:
        # A quoted line end straddled a cut: the range after it, and maybe the later ones, were
        # read from a wrong place and thrown away. Read on from where the last good one stopped.
        with Extract(source, start=read.end, line=read.line, columns=extract.columns) as rest:
            done = read.rows

            def report(at: int, rows: int) -> None:
                progress.update(rest.start + at, done + rows)

            read.add(_feed(rest, None, sorters, rejects, report))
    return read


def _read_ranges(
    extract: Extract, starts: list[int], sorters: _Sorters, rejects: _Rejects, progress: Progress
) -> _Read:
    """Read the first range here while workers read the others; take their results in order,
    up to the first range that did not start where the one before it stopped."""
    tally = parallel.Tally(len(starts))
    ends = starts[1:] + [extract.position()[1]]
    workers: list[parallel.Worker] = []
    try:
        for index in range(1, len(starts)):
            workers.append(
                parallel.Worker(
                    f"build worker {index} "
                    f"(bytes {starts[index]:,}-{ends[index]:,} of {extract.path})",
                    _read_range,
                    extract.path,
                    extract.columns,
                    starts[index],
                    ends[index],
                    sorters.directory / f"range-{index}",
                    sorters.memory,
                    tally,
                    index,
                )
            )
        crash_point("workers-started")

        def report(at: int, rows: int) -> None:
            tally.set(0, at, rows)
            progress.update(*tally.total())

        read = _feed(extract, starts[1], sorters, rejects, report)
        for worker, start in zip(workers, starts[1:], strict=True):
            if read.end != start:
                break
            later, runs, (rejects_part, rejected) = worker.result()
            sorters.adopt(runs)
            rejects.append(rejects_part, rejected)
            read.add(later)
    finally:
        for worker in workers:
            worker.stop()
    return read


def _read_range(
    source: str,
    columns: tuple[str, ...],
    start: int,
    stop: int,
    directory: Path,
    memory: int,
    tally: parallel.Tally,
    index: int,
) -> tuple[_Read, list[tuple[int, list[str]]], tuple[str | None, int]]:
    """In a worker: read one range into sorters of its own; give their runs to the parent."""
    line = parallel.line_at(source, start)
    with (
        Extract(source, start=start, line=line, columns=columns) as extract,
        _Sorters(directory, memory) as sorters,
        _Rejects(directory / "rejects.csv", header=False) as rejects,
    ):
        read = _feed(extract, stop, sorters, rejects, lambda at, rows: tally.set(index, at, rows))
        runs = sorters.hand_over()
    return read, runs, (str(rejects.path) if rejects.count else None, rejects.count)


def _feed(
    extract: Extract,
    stop: int | None,
    sorters: _Sorters,
    rejects: _Rejects,
    report: Callable[[int, int], object],
) -> _Read:
    """Read the extract's rows, up to the first row boundary at or past byte `stop` if given,
    into the sorters; report(bytes read, rows) now and then."""
    validator = _core.RowValidator(extract.columns)

    def tick(rows: int) -> None:
        report(extract.position()[0], rows)

    # The loop over rows is csvrows.feed_build: in C with the compiled core, the reference's
    # Python loop otherwise (see it for what goes into which sorter).
    with extract.reading() as lines:
        if stop is not None:
            lines.stop_at(stop - extract.start)
        rows, invalid, record_bytes, flagged = _core.feed_build(
            lines,
            validator,
            sorters.ids,
            sorters.people,
            sorters.bhxh,
            sorters.cards,
            rejects.add,
            tick,
        )
    return _Read(rows, invalid, record_bytes, flagged, extract.start + lines.offset, lines.line)


# -- cross-row checks -----------------------------------------------------------------------
def _find_shared_keys(sorters: _Sorters, rejects: _Rejects, progress: Progress) -> set[bytes]:
    """Reject every row of a group sharing a CCCD, a bhxh_code or a card code (SPEC 1.1).

    Returns the CCCD keys of the rejected rows: after the CCCD check each names one row.
    """
    progress.phase("checking duplicates")
    equal_key_groups = _core.equal_key_groups
    rejected_lines: set[int] = set()
    rejected_keys: set[bytes] = set()
    found: list[tuple[int, str, str]] = []

    def reject(group: list[tuple[int, str]], keys: list[bytes], reason: str) -> None:
        lines = [line for line, _ in group]
        for line, field in group:
            if line not in rejected_lines:
                others = _name_lines([other for other in lines if other != line])
                found.append((line, field, reason.format(field=field) + others))
        rejected_lines.update(lines)
        rejected_keys.update(keys)

    # CCCD first: two copies of one person share everything, and the CCCD is the real reason.
    for tags in equal_key_groups(sorters.ids.items()):
        reject([(_line(tag, 0), "cccd") for tag in tags], [], "cccd: duplicate, also on ")
    for values in equal_key_groups(sorters.bhxh.items()):
        group = [(_line(v, 8), "bhxh_code") for v in values]
        reject(group, [v[:8] for v in values], "{field}: shared with ")
    for values in equal_key_groups(sorters.cards.items()):
        group = [(_line(v, 8), "card_no" if v[12:] == CURRENT else "prev_card_no") for v in values]
        reject(group, [v[:8] for v in values], "{field}: shared with ")
    if found:
        # CCCD duplicates are dropped by key; find their keys in one pass over the small sorter.
        duplicate_lines = {line for line, field, _ in found if field == "cccd"}
        if duplicate_lines:
            for key, tag in sorters.ids.items():
                if _line(tag, 0) in duplicate_lines:
                    rejected_keys.add(key)
    for line, field, message in sorted(found):
        rejects.add(line, field, message)
    rejects.rejected_rows = len(rejected_lines)
    return rejected_keys


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
def _write_store(
    staging: Path,
    sorters: _Sorters,
    rejected: set[bytes],
    record_bytes: int,
    identity: dict[str, Any],
    progress: Progress,
) -> dict[str, int]:
    entries = len(sorters.people) + len(sorters.bhxh) + len(sorters.cards)
    # Appended pages are full; twice the payload plus per-entry overhead is ample headroom.
    map_size = 2 * (record_bytes + entries * 48) + 64 * 2**20
    counts = {}
    strings = Strings()
    with _core.SnapshotWriter(str(staging), map_size) as writer:
        for name, sorter, by_value in (
            ("people", sorters.people, False),
            ("bhxh", sorters.bhxh, True),
            ("cards", sorters.cards, True),
        ):
            progress.phase(f"writing {name}", total=len(sorter))
            items = sorter.items()
            if name == "people":  # as version 2, the repeated texts in the table (DESIGN 4)
                items = _core.compact_records(items, strings)
            elif name == "cards":  # the codes bhxh cannot find (DESIGN 4)
                items = ((k, v) for k, v in items if v[12:] == PREVIOUS_INDEXED)
            counts[name] = writer.append(
                name.encode(),
                items,
                value_size=8 if by_value else -1,
                skip=rejected,
                skip_by_value=by_value,
            )
            crash_point(f"after-write-{name}")
        writer.put(b"meta", STRINGS_KEY, strings.to_bytes())
        writer.put(b"meta", b"manifest", orjson.dumps(identity))
    return counts


class _Sorters:
    def __init__(self, directory: Path, memory: int = SORT_MEMORY) -> None:
        directory.mkdir(parents=True)
        Sorter = _core.ExternalSorter
        self.ids = Sorter(8, str(directory), memory // 8)
        self.people = Sorter(8, str(directory), memory)
        self.bhxh = Sorter(8, str(directory), memory // 4)
        self.cards = Sorter(15, str(directory), memory // 4)
        self.directory = directory
        self.memory = memory

    def all(self) -> tuple[Any, ...]:
        return self.ids, self.people, self.bhxh, self.cards

    def hand_over(self) -> list[tuple[int, list[str]]]:
        """Spill every sorter and give up its runs, for another _Sorters' adopt()."""
        return [sorter.hand_over() for sorter in self.all()]

    def adopt(self, runs: list[tuple[int, list[str]]]) -> None:
        """Take the runs handed over by a worker's sorters, after every entry so far."""
        for sorter, (entries, paths) in zip(self.all(), runs, strict=True):
            sorter.adopt(entries, paths)

    def __enter__(self) -> _Sorters:
        return self

    def __exit__(self, *exc: object) -> None:
        for sorter in self.all():
            sorter.close()


class _Rejects:
    """The rejects CSV (line, field, reason), created only when a row is rejected.

    A worker's has no header: the parent appends its rows to the rejects file (append()).
    """

    def __init__(self, path: Path, *, header: bool = True) -> None:
        self.path = path
        self._header = header
        self._file: TextIO | None = None
        self._writer: Writer | None = None
        self.count = 0
        self.rejected_rows = 0  # rows rejected for sharing a key (set by _find_shared_keys)

    def add(self, line: int, field: str, reason: str) -> None:
        self._open().writerow((line, field, reason))
        self.count += 1

    def append(self, part: str | None, count: int) -> None:
        """Add the `count` rows of a worker's rejects file (None when it has none)."""
        if part is None:
            return
        self._open()
        assert self._file is not None  # _open() opened it
        with open(part, newline="", encoding="utf-8") as rows:
            shutil.copyfileobj(rows, self._file)
        self.count += count

    def _open(self) -> Writer:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file)
            if self._header:
                self._writer.writerow(("line", "field", "reason"))
        return self._writer

    def __enter__(self) -> _Rejects:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
