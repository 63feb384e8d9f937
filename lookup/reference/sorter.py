"""External merge sort of (fixed-size key, value) pairs for the build, in plain Python.

The build sorts every record by its index key before writing LMDB in key order (append mode).
Entries are buffered in memory; past `memory_limit` bytes the buffer is sorted and written to a
run file; `items()` merges the runs and the in-memory tail. Ties keep insertion order: runs are
merged in the order they were written, which is the order their entries were added.

Run file: entries one after another, each `<I` value length, then the key, then the value.
"""

from __future__ import annotations

import heapq
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from operator import itemgetter

__all__ = ("ExternalSorter",)

LENGTH = struct.Struct("<I")
READ_BUFFER = 1 << 20
# What an entry costs besides its bytes, roughly: a tuple and two bytes objects.
ENTRY_OVERHEAD = 120
_key = itemgetter(0)


class ExternalSorter:
    """Sort (key, value) byte pairs by key, stably, spilling sorted runs to files."""

    def __init__(self, key_size: int, directory: str, memory_limit: int = 256 * 2**20) -> None:
        """Make an empty sorter whose run files go in a new temporary folder in directory."""
        if key_size <= 0:
            raise ValueError(f"key_size: {key_size}; must be positive")
        self.key_size = key_size
        self.memory_limit = memory_limit
        self._folder: str | None = tempfile.mkdtemp(prefix="sort-", dir=directory)
        self._buffer: list[tuple[bytes, bytes]] = []
        self._buffered = 0
        self._runs: list[str] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __enter__(self) -> ExternalSorter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, key: bytes, value: bytes) -> None:
        """Add one entry; a run file is written when the buffer passes memory_limit."""
        self._check_open()
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise TypeError("key and value must be bytes")
        if len(key) != self.key_size:
            raise ValueError(f"key: {len(key)} bytes; this sorter sorts {self.key_size}-byte keys")
        self._buffer.append((key, value))
        self._count += 1
        self._buffered += len(key) + len(value) + ENTRY_OVERHEAD
        if self._buffered > self.memory_limit:
            self._spill()

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Iterate over all entries in key order, ties in insertion order; callable again."""
        self._check_open()
        # list.sort is stable, so equal keys stay in the order they were added.
        self._buffer.sort(key=_key)
        sources = [self._read_run(path) for path in self._runs]
        sources.append(iter(list(self._buffer)))
        # heapq.merge breaks ties by source position: older runs first, the buffer last.
        return heapq.merge(*sources, key=_key)

    def hand_over(self) -> tuple[int, list[str]]:
        """Spill the buffer and give up the run files, for another sorter's adopt(): returns
        (entries, run paths, oldest first). The sorter is closed; its folder, which held them,
        is left for the caller to remove.

        The build's workers sort a range of the extract each and hand their runs to the
        parent's sorters, which merge them with their own (lookup/ingest/build.py).
        """
        self._check_open()
        if self._buffer:
            self._spill()
        handed = (self._count, self._runs)
        self._folder = None  # so that close() leaves the runs alone
        self.close()
        return handed

    def flush(self) -> None:
        """Write the buffered entries as a run now: the build does so while it waits for its
        workers, so that adopt() has nothing left to write then."""
        self._check_open()
        if self._buffer:
            self._spill()

    def adopt(self, entries: int, paths: list[str], *, move: bool = True) -> None:
        """Take over the run files another sorter of this key size handed over, moving them
        into this sorter's folder; their entries count as added after every entry so far.

        With move=False the paths stay where they are and are not removed: a pipe, say, that
        another process writes a merge into (core/writer write_run), to be read once.
        """
        self._check_open()
        if not paths:
            return
        if self._buffer:
            self._spill()  # heapq.merge takes ties from the older runs first: the buffer is older
        assert self._folder is not None
        for path in paths:
            if move:
                run = os.path.join(self._folder, f"run-{len(self._runs):06d}")
                os.rename(path, run)
            else:
                run = path
            self._runs.append(run)
        self._count += entries

    def close(self) -> None:
        """Remove the run files and free the buffer; the sorter cannot be used afterwards."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._buffer = []
        self._runs = []

    def _check_open(self) -> None:
        if self._folder is None:
            raise ValueError("sorter: closed")

    def _spill(self) -> None:
        self._buffer.sort(key=_key)
        assert self._folder is not None
        path = os.path.join(self._folder, f"run-{len(self._runs):06d}")
        with open(path, "wb", buffering=READ_BUFFER) as f:
            for key, value in self._buffer:
                f.write(LENGTH.pack(len(value)))
                f.write(key)
                f.write(value)
        self._runs.append(path)
        self._buffer = []
        self._buffered = 0

    def _read_run(self, path: str) -> Iterator[tuple[bytes, bytes]]:
        key_size = self.key_size
        with open(path, "rb", buffering=READ_BUFFER) as f:
            while header := f.read(LENGTH.size):
                (size,) = LENGTH.unpack(header)
                key = f.read(key_size)
                value = f.read(size)
                if len(key) != key_size or len(value) != size:
                    raise OSError(f"sorter: run file {path} is truncated")
                yield key, value
