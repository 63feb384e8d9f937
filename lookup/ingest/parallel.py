"""Ranges of a big extract, read by forked worker processes (`lookup build --jobs N`).

A plain extract is cut into byte ranges at line ends: each range after the first starts just
after the first `\\n` at or after its share of the file. That is where a row starts unless a
quoted value spanning lines straddles the cut (RFC 4180 allows it; it is rare). So the reader of
a range stops at the first row boundary at or past the next range's start (csvrows.Rows.stop_at)
and says where it stopped: if that is not the next range's start, lookup.ingest.build throws away
what the later ranges read and reads the rest again itself.

A worker numbers its rows' physical lines from its range's start, and the build adds what the
ranges before it held once they are read: counting the line ends before its range (`line_at`)
would cost the worker a pass over them, which a message naming a line still pays. Workers are
forked, so they share the parent's imports and arguments without pickling; their results come
back through a pipe. A worker dies with the build (PR_SET_PDEATHSIG), and keeps no copy of the
data directory's writer lock (lookup.store).

The build's write phase forks too: a worker merges a sorter and streams the merge through a pipe
while the parent appends it to LMDB (`merged_in_worker`).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from lookup import _core
from lookup._os import die_with_parent
from lookup.errors import ExtractError, StoreError

__all__ = (
    "MAX_JOBS",
    "MIN_SPLIT",
    "Tally",
    "Worker",
    "default_jobs",
    "line_at",
    "merged_in_worker",
    "range_starts",
)

MIN_SPLIT = 32 * 2**20  # a smaller extract is read in one process: forking would not pay
MAX_JOBS = 4  # past this the serial check and write phases dominate; memory is split per job
SCAN_CHUNK = 1 << 16  # bytes read at a time looking for a line end
COUNT_WINDOW = 64 << 20  # bytes of the file mapped at a time to count line ends (a multiple of
# mmap.ALLOCATIONGRANULARITY)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PIPE_SIZE = 1 << 20  # a merge streamed between processes: fewer switches than the 64 KiB default


def default_jobs() -> int:
    """Return the CPUs this process may run on, at most MAX_JOBS."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_JOBS))


def range_starts(path: str, size: int, jobs: int) -> list[int]:
    """Where the ranges start: 0, then just after the first \\n at or after each 1/jobs of the
    file; fewer ranges when lines are longer than a share."""
    starts = [0]
    with open(path, "rb") as f:
        for k in range(1, jobs):
            f.seek(max(k * size // jobs, starts[-1]))
            start = _after_next_newline(f)
            if start >= size:
                break
            if start > starts[-1]:
                starts.append(start)
    return starts


def _after_next_newline(f: BinaryIO) -> int:
    while chunk := f.read(SCAN_CHUNK):
        at = chunk.find(b"\n")
        if at >= 0:
            return int(f.tell()) - len(chunk) + at + 1
    return int(f.tell())


def line_at(path: str, offset: int) -> int:
    """Return the physical line that starts at byte `offset`, just after a line end.

    It is one more than the line ends before it, which csvrows counts over a memory map of the
    file, a window at a time (mapped pages count as the worker's memory while they are mapped).
    """
    ends = 0
    previous_cr = False  # whether the window before ends with \r
    with open(path, "rb") as f:
        for at in range(0, offset, COUNT_WINDOW):
            size = min(COUNT_WINDOW, offset - at)
            with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ, offset=at) as window:
                window.madvise(mmap.MADV_SEQUENTIAL)
                ends += _core.count_line_ends(window)
                if previous_cr and window[0] == 0x0A:
                    ends -= 1  # a \r\n across two windows: counted as a lone \r and as a \n
                previous_cr = window[size - 1] == 0x0D
    return ends + 1


class Tally:
    """Bytes and rows read per range, in memory shared with the forked workers (progress)."""

    def __init__(self, ranges: int) -> None:
        self._memory = mmap.mmap(-1, 16 * ranges)  # anonymous and shared: fork keeps it shared
        self._slots = memoryview(self._memory).cast("q")

    def set(self, index: int, done: int, rows: int) -> None:
        self._slots[2 * index] = done
        self._slots[2 * index + 1] = rows

    def total(self) -> tuple[int, int]:
        """(bytes, rows) read by every range so far."""
        return sum(self._slots[0::2]), sum(self._slots[1::2])


class Worker:
    """A forked process that runs `target(*args)` and sends back its result, or its failure."""

    def __init__(self, name: str, target: Callable[..., Any], *args: Any) -> None:
        import multiprocessing  # here: the CLI imports this module's constants for its help

        self.name = name
        context = multiprocessing.get_context("fork")
        self._results, results = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_run, args=(os.getpid(), name, results, target, args), name=name, daemon=True
        )
        self._process.start()
        # Only the worker holds the writing end now (workers forked later do not get it): its
        # exit, however it happens, ends the pipe for result().
        results.close()

    def result(self) -> Any:
        """Wait for the worker; return its result, or raise what failed it."""
        try:
            failed, value = self._results.recv()
        except EOFError:
            self._process.join()
            raise StoreError(f"{self.name} {_exit_reason(self._process.exitcode)}") from None
        self._process.join()
        if failed:
            raise value
        return value

    def stop(self) -> None:
        """End the worker if it still runs (its result is not wanted) and wait for it."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._results.close()


@contextmanager
def merged_in_worker(
    name: str, sorter: Any, directory: Path, items: Callable[[], Any]
) -> Iterator[Any]:
    """Yield `items()`, the entries of `sorter` in key order, as a forked worker makes them on
    another core: it writes them into a pipe (write_run), which this process reads as the only
    run of a sorter of its own, while it writes them out.

    The worker's failure, or a stream short of len(sorter) entries, raises once the entries
    are read: what they were written into must then be thrown away.
    """
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # a bigger pipe than the system allows: the default one works, a little slower
    worker = Worker(name, _write_merged, items, read_end, write_end)
    os.close(write_end)  # the worker holds the only writing end: its exit ends the stream
    stream = _core.ExternalSorter(sorter.key_size, str(directory), 0)
    try:
        stream.adopt(len(sorter), [f"/dev/fd/{read_end}"], move=False)
        yield stream.items()
        sent = worker.result()
        if sent != len(sorter):
            raise StoreError(f"{name} sent {sent:,} entries of {len(sorter):,}")
    finally:
        worker.stop()
        stream.close()
        os.close(read_end)


def _write_merged(items: Callable[[], Any], read_end: int, write_end: int) -> int:
    os.close(read_end)
    try:
        return _core.write_run(items(), f"/dev/fd/{write_end}")
    finally:
        os.close(write_end)


def _run(
    parent: int, name: str, results: Any, target: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    """Run the worker's body; send its result to the pipe as (failed, value)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the workers
    try:
        # A build killed with SIGKILL runs no cleanup: a worker left behind would go on
        # writing into its staging.
        die_with_parent(signal.SIGKILL, parent)
        outcome = (False, target(*args))
    except (ExtractError, OSError) as exc:  # said as the serial read says it: the file's
        outcome = (True, exc)  # fault, or the disk's (a full one is named with its figures)
    except BaseException as exc:  # anything else fails the build, naming the worker
        outcome = (True, StoreError(f"{name} failed: {type(exc).__name__}: {exc}"))
    results.send(outcome)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        how = signal.Signals(-code).name
        hint = " (out of memory?)" if code == -signal.SIGKILL else ""
        return f"was killed by {how}{hint}; nothing was published"
    return f"exited with status {code} without a result; nothing was published"
