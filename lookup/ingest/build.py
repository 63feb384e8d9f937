"""Build a snapshot from a full extract (SPEC.md 1.1) and publish it atomically.

The build streams: rows are validated one at a time by the core and handed to external sorters
(bounded memory, spilling sorted runs to disk), so 100 million rows build in a few GB.

    read     CSV row -> RowValidator -> four sorters:
               people     cccd -> origin + record       (version 2, half the bytes of version 1)
               bhxh       bhxh -> cccd + tag + card head
               cards      prev card -> cccd + tag + bhxh (the previous codes, keyed by the
                                                        number they end in, then their head)
               renumbered card -> cccd + tag            (previous codes the snapshot indexes)
             (a row's tag: its line and origin, below)
             with --jobs N, in N processes over byte ranges of a plain extract
             (lookup.ingest.parallel): each worker sorts its range into sorters of its own and
             hands their sorted runs to the parent's sorters, which merge them after their own:
             entries of equal keys stay in line order, so the result is the serial read's, byte
             for byte. A worker numbers its lines from its range's start (counting the lines
             before it would cost a pass over them); the sorters' entries carry the number of
             the process that read them (origin), by which the parent adds to their lines what
             the ranges before theirs held. Each process numbers the texts of its records in a
             string table of its own; the parent adds a worker's texts to its own, in range
             order (the numbers a serial read gives: by the first line holding the text), and
             the records keep their origin to be renumbered as they are written
    write    merge people (renumbered by origin) -> SnapshotWriter (LMDB append: full pages),
             leaving out the CCCDs found twice; then bhxh, leaving out those rows and the
             numbers shared, while the previous card codes are merged beside it: a card code
             ends in a number, so current codes (a bhxh entry's number and card head) and
             previous ones meet there, and the codes held twice are found in the same pass
             (writer.check_cards). Every row of a group is rejected (SPEC 1.1); the few
             found after they were written are deleted. Then renumbered, in key order: of the
             card codes only previous ones that end in another number than the card's are
             indexed (the others are found through bhxh: DESIGN 4). With several CPUs each
             merge runs in a forked worker that streams it through a pipe
             (parallel.merged_in_worker): the merge has one core, the LMDB writes the other.
    publish  fsync, rename staging -> snapshots, rename CURRENT (lookup.store)
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from lookup import _core
from lookup._os import crash_point
from lookup.errors import StoreError
from lookup.ingest import parallel
from lookup.ingest.extract import PROVISIONAL_LINE, Extract
from lookup.progress import Progress
from lookup.schema import QUALITY_FLAGS
from lookup.store import DataDir
from lookup.store.manifest import snapshot_identity
from lookup.store.strings import STRINGS_KEY, Strings

if TYPE_CHECKING:
    from _csv import Writer

__all__ = ("BuildRejected", "build")

# The people sorter's memory, shared by the processes of a parallel read; the others have shares
# of it (_Sorters) by what an entry takes there, its bytes and two 16-byte slots (people ~105,
# bhxh ~60; cards, ~0.1 previous codes a row, and renumbered are small), so that they spill after
# about as many rows: at the country's size (50 million rows a process) none writes more than
# MAX_RUNS runs (core/sorter.pyx), past which it would merge all its runs into one as it reads.
# All four stay under 2 times this, whatever the extract size.
SORT_MEMORY = 256 * 2**20
# Bytes: tests lower parallel.MIN_SPLIT with it, so that small files split.
MIN_SPLIT_ENV = "LOOKUP_BUILD_MIN_SPLIT"
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
            # With several CPUs (a parallel read says so) merges go to a forked process, so that
            # they run on one core while this one writes what they merged.
            fork = len(starts) > 1
            shared = _SharedKeys(sorters.line_shifts)
            identity = snapshot_identity(snapshot_id, "build", source, core=_core.CORE)
            with _core.SnapshotWriter(str(staging), _map_size(sorters, read)) as writer:
                progress.phase("writing people", total=len(sorters.people))
                with _merged("people", sorters, sorters.people, fork, renumber=True) as items:
                    people = shared.write_people(writer, items)
                crash_point("after-write-people")
                progress.phase("writing bhxh", total=len(sorters.bhxh))
                with _merged("bhxh", sorters, sorters.bhxh, fork) as items:
                    bhxh = shared.write_bhxh(writer, items, sorters.cards.items())
                people -= writer.delete(b"people", shared.written_but_rejected())
                crash_point("after-write-bhxh")
                rejects.rejected_rows = shared.report(rejects)
                summary = _summary(snapshot_id, source, read, rejects, rejects_file)
                if read.rows == 0 or summary["rejected"] > max_reject_ratio * read.rows:
                    raise BuildRejected(_too_many_rejected(summary, max_reject_ratio), summary)
                progress.phase("writing cards", total=len(sorters.renumbered))
                with _merged("cards", sorters, sorters.renumbered, fork) as items:
                    cards = writer.append(
                        b"cards", items, value_size=8, skip=shared.keys, skip_by_value=True
                    )
                crash_point("after-write-cards")
                writer.put(b"meta", STRINGS_KEY, sorters.strings.to_bytes())
                writer.put(b"meta", b"manifest", orjson.dumps(identity))
        shutil.rmtree(staging / "sort")
        counts = {"people": people, "bhxh": bhxh, "cards": cards}
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


def _summary(
    snapshot_id: str, source: str, read: _Read, rejects: _Rejects, rejects_file: Path
) -> dict[str, Any]:
    rejected = read.invalid + rejects.rejected_rows
    return {
        "snapshot": snapshot_id,
        "source": str(source),
        "rows": read.rows,
        "rejected": rejected,
        "published": read.rows - rejected,
        "rejects_file": str(rejects_file) if rejected else None,
        "data_quality": {name: read.flagged[i] for i, name in enumerate(QUALITY_FLAGS)},
    }


# -- read -----------------------------------------------------------------------------------
@dataclass
class _Read:
    """What reading the rows of an extract, or of a range of it, found."""

    rows: int = 0
    invalid: int = 0
    record_bytes: int = 0
    flagged: tuple[int, ...] = (0,) * len(QUALITY_FLAGS)  # rows with each data-quality flag
    end: int = 0  # the byte where reading stopped
    line: int = 1  # the physical line that starts there

    def add(self, later: _Read) -> None:
        """Add what the range after this one found."""
        self.rows += later.rows
        self.invalid += later.invalid
        self.record_bytes += later.record_bytes
        self.flagged = tuple(a + b for a, b in zip(self.flagged, later.flagged, strict=True))
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
        sorters.flush()  # while the workers read on, rather than in adopt()
        for index, (worker, start) in enumerate(zip(workers, starts[1:], strict=True), start=1):
            if read.end != start:
                break
            later, (runs, texts), (rejects_part, rejected) = worker.result()
            shift = read.line - PROVISIONAL_LINE  # the worker's lines are provisional
            sorters.adopt(runs, texts, origin=index, line_shift=shift)
            rejects.append(rejects_part, rejected, shift)
            later.line += shift
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
) -> tuple[_Read, tuple[list[tuple[int, list[str]]], list[bytes]], tuple[str | None, int]]:
    """In a worker: read one range into sorters of its own, its lines numbered provisionally;
    give their runs and its string table to the parent."""
    with (
        Extract(source, start=start, line=None, columns=columns) as extract,
        _Sorters(directory, memory) as sorters,
        _Rejects(directory / "rejects.csv", header=False) as rejects,
    ):
        report = lambda at, rows: tally.set(index, at, rows)  # noqa: E731
        read = _feed(extract, stop, sorters, rejects, report, origin=index)
        runs = sorters.hand_over(), sorters.strings.texts
    return read, runs, (str(rejects.path) if rejects.count else None, rejects.count)


def _feed(
    extract: Extract,
    stop: int | None,
    sorters: _Sorters,
    rejects: _Rejects,
    report: Callable[[int, int], object],
    origin: int = 0,
) -> _Read:
    """Read the extract's rows, up to the first row boundary at or past byte `stop` if given,
    into the sorters; report(bytes read, rows) now and then. `origin`: the range's number (0
    for the parent's), which the people records keep."""
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
            sorters.people,
            sorters.bhxh,
            sorters.cards,
            sorters.renumbered,
            sorters.strings,
            origin,
            rejects.add,
            tick,
        )
    return _Read(rows, invalid, record_bytes, flagged, extract.start + lines.offset, lines.line)


# -- cross-row checks -----------------------------------------------------------------------
class _SharedKeys:
    """Reject every row of a group sharing a CCCD, a bhxh_code or a card code (SPEC 1.1).

    A row in several groups is rejected for the first found, in that order (its rank): two
    copies of one person share everything, and the CCCD is the real reason. The groups are
    found as the indexes are written: the CCCDs as people is, the numbers and card codes as
    bhxh is. `keys` gathers the CCCD keys of the rejected rows, which the later writes skip.
    `line_shifts`: per origin, what its tags' lines add up to the file's (_Sorters).
    """

    def __init__(self, line_shifts: list[int]) -> None:
        self._line_shifts = line_shifts
        self.keys: set[bytes] = set()
        self._reasons: dict[int, tuple[int, str, str]] = {}  # line -> (rank, field, message)
        self._twice: set[bytes] = set()  # CCCDs held by several rows: none of them written

    def write_people(self, writer: Any, people: Iterable[tuple[bytes, bytes]]) -> int:
        """Write people from its sorted entries, but for the CCCDs found twice."""
        return int(writer.append(b"people", people, shared=self._cccd_twice))

    def write_bhxh(
        self,
        writer: Any,
        bhxh: Iterable[tuple[bytes, bytes]],
        cards: Iterable[tuple[bytes, bytes]],
    ) -> int:
        """Write the bhxh index from its sorted entries, but for the rows rejected so far and the
        numbers shared, checking the card codes meanwhile (`cards`: the previous ones)."""
        checked = _core.check_cards(bhxh, cards, self._twice)
        written = writer.append(
            b"bhxh",
            checked,
            value_size=8,
            skip=self.keys,
            skip_by_value=True,
            shared=lambda _, values: self._reject_values(1, values, ["bhxh_code"] * len(values)),
        )
        # The lines of each CCCD found twice, from the bhxh entry every row has.
        holders: dict[bytes, list[bytes]] = {}
        for value in checked.rejected_entries:
            holders.setdefault(value[:8], []).append(value)
        for values in holders.values():
            group = sorted((self._line(value, 8), "cccd") for value in values)
            self._reject(0, group, "cccd: duplicate, also on ")
        # By code, as a row with both its codes held twice is rejected for the first.
        late: set[bytes] = set()  # bhxh keys of the rows found after bhxh had them
        for _, members in sorted(checked.groups):
            members.sort(key=lambda member: self._line(member, 8))
            fields = ["prev_card_no" if member[13] else "card_no" for member in members]
            self._reject_values(2, members, fields)
            late.update(member[14:] for member in members)
        return int(written) - int(writer.delete(b"bhxh", sorted(late)))

    def written_but_rejected(self) -> list[bytes]:
        """Return the CCCD keys of the rows people has and a number or card code rejects."""
        return sorted(self.keys - self._twice)

    def report(self, rejects: _Rejects) -> int:
        """Write the reasons, by line, to the rejects file; return the rows rejected."""
        for line, (_, field, message) in sorted(self._reasons.items()):
            rejects.add(line, field, message)
        return len(self._reasons)

    def _cccd_twice(self, key: bytes, values: list[bytes]) -> None:
        self._twice.add(key)  # its rows are named as bhxh is written
        self.keys.add(key)

    def _reject_values(self, rank: int, values: list[bytes], fields: list[str]) -> None:
        group = [(self._line(v, 8), field) for v, field in zip(values, fields, strict=True)]
        self._reject(rank, group, "{field}: shared with ")
        self.keys.update(v[:8] for v in values)

    def _line(self, value: bytes, offset: int) -> int:
        """Return the line of the row tagged at value[offset:] (4 bytes of line, 1 of origin)."""
        line = int.from_bytes(value[offset : offset + 4], "little")
        return line + self._line_shifts[value[offset + 4]]

    def _reject(self, rank: int, group: list[tuple[int, str]], reason: str) -> None:
        lines = [line for line, _ in group]
        for line, field in group:
            if line not in self._reasons or self._reasons[line][0] > rank:
                others = _name_lines([other for other in lines if other != line])
                self._reasons[line] = (rank, field, reason.format(field=field) + others)


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
def _map_size(sorters: _Sorters, read: _Read) -> int:
    entries = len(sorters.people) + len(sorters.bhxh) + len(sorters.renumbered)
    # Appended pages are full; twice the payload plus per-entry overhead is ample headroom.
    return 2 * (read.record_bytes + entries * 48) + 64 * 2**20


def _merged(
    name: str, sorters: _Sorters, sorter: Any, fork: bool, *, renumber: bool = False
) -> AbstractContextManager[Iterable[tuple[bytes, bytes]]]:
    """Give the sorter's entries in key order, the people records renumbered into the parent's
    string table; with `fork`, as a forked worker merges them (parallel.merged_in_worker)."""

    def items() -> Iterable[tuple[bytes, bytes]]:
        merged = sorter.items()
        return _core.renumber_records(merged, sorters.maps) if renumber else merged

    if not fork:
        return nullcontext(items())
    return parallel.merged_in_worker(f"{name} merge", sorter, sorters.directory, items)


class _Sorters:
    def __init__(self, directory: Path, memory: int = SORT_MEMORY) -> None:
        directory.mkdir(parents=True)
        Sorter = _core.ExternalSorter
        self.people = Sorter(8, str(directory), memory)
        self.bhxh = Sorter(8, str(directory), memory // 2)
        self.cards = Sorter(8, str(directory), memory // 8)
        self.renumbered = Sorter(15, str(directory), memory // 8)
        self.directory = directory
        self.memory = memory
        self.strings = Strings()  # the texts of the people records this process read
        # Per origin, the numbers of its texts in `strings` (None: its own, as they are), and
        # what its lines add up to the file's.
        self.maps: list[list[int] | None] = [None]
        self.line_shifts = [0]

    def all(self) -> tuple[Any, ...]:
        return self.people, self.bhxh, self.cards, self.renumbered

    def hand_over(self) -> list[tuple[int, list[str]]]:
        """Spill every sorter and give up its runs, for another _Sorters' adopt()."""
        return [sorter.hand_over() for sorter in self.all()]

    def flush(self) -> None:
        """Write every sorter's buffered entries as a run."""
        for sorter in self.all():
            sorter.flush()

    def adopt(
        self,
        runs: list[tuple[int, list[str]]],
        texts: list[bytes],
        origin: int,
        line_shift: int,
    ) -> None:
        """Take the runs handed over by a worker's sorters, after every entry so far, the
        texts its records number (its string table: they get numbers here), and what its lines
        add up to the file's."""
        for sorter, (entries, paths) in zip(self.all(), runs, strict=True):
            sorter.adopt(entries, paths)
        assert origin == len(self.maps), "workers are adopted in range order"
        self.maps.append([0, *map(self.strings.id, texts)])
        self.line_shifts.append(line_shift)

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
        self.rejected_rows = 0  # rows rejected for sharing a key (set from _SharedKeys)

    def add(self, line: int, field: str, reason: str) -> None:
        self._open().writerow((line, field, reason))
        self.count += 1

    def append(self, part: str | None, count: int, line_shift: int) -> None:
        """Add the `count` rows of a worker's rejects file (None when it has none), adding
        line_shift to their lines."""
        if part is None:
            return
        writer = self._open()
        with open(part, newline="", encoding="utf-8") as rows:
            for line, field, reason in csv.reader(rows):
                writer.writerow((int(line) + line_shift, field, reason))
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
