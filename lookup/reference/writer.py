"""Write a new snapshot's LMDB environment from key-sorted items, in plain Python (py-lmdb).

The build (lookup/ingest/build.py) merges its sorters into `SnapshotWriter.append`, which appends in
key order (MDB_APPEND: no page splits, every page full) and drops the rows the build rejected.
`equal_key_groups` finds the groups of equal keys the build must reject (SPEC 1.1).
core/writer.pyx does the same through the vendored LMDB's C API; the tests hold the two stores
byte for byte equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Set
from itertools import groupby, islice
from operator import itemgetter

import lmdb

from lookup.reference.sorter import LENGTH, READ_BUFFER

__all__ = ("SnapshotWriter", "equal_key_groups", "write_run")

COMMIT_EVERY = 1_000_000  # entries per write transaction: bounds LMDB's dirty-page list
KEY_SIZE = 8  # a CCCD key, the prefix of every index value


class SnapshotWriter:
    """Append sorted items to the databases of a new, unpublished snapshot."""

    def __init__(self, path: str, map_size: int) -> None:
        # One writer and no reader until publish: no lock file (DESIGN 4).
        self._env: lmdb.Environment | None = lmdb.open(
            path,
            map_size=map_size,
            max_dbs=4,
            lock=False,
            sync=False,
            metasync=False,
            lib_version=0,
            subdir=True,
        )

    def append(
        self,
        name: bytes,
        items: Iterable[tuple[bytes, bytes]],
        *,
        value_size: int = -1,
        skip: Set[bytes] = frozenset(),
        skip_by_value: bool = False,
        shared: Callable[[list[bytes]], object] | None = None,
    ) -> int:
        """Append items in strictly increasing key order; return how many were written.

        An item is dropped when its key (or, with skip_by_value, the CCCD key its value starts
        with) is in `skip`; with value_size >= 0 only the value's first value_size bytes are kept.
        With `shared`, items may come in runs of equal keys: such a run is not written, its
        values go to shared(values) (the build's duplicate check, done as it writes).
        """
        env = self._env
        assert env is not None, "the writer is closed"
        db = env.open_db(name)
        end = None if value_size < 0 else value_size

        def unique() -> Iterator[tuple[bytes, bytes]]:
            assert shared is not None
            for _, run in groupby(items, key=itemgetter(0)):
                values = list(run)
                if len(values) > 1:
                    shared([value for _, value in values])
                else:
                    yield values[0]

        def kept() -> Iterator[tuple[bytes, bytes]]:
            last = None
            for key, value in items if shared is None else unique():
                if (value[:KEY_SIZE] if skip_by_value else key) not in skip:
                    # putmulti would skip an out-of-order key silently; MDB_APPEND refuses it.
                    if last is not None and key <= last:
                        raise ValueError(
                            f"{name.decode()}: keys must be appended in increasing order"
                        )
                    last = key
                    yield key, value[:end]

        written = 0
        stream = kept()
        while True:
            with env.begin(write=True, db=db) as txn:
                added = txn.cursor().putmulti(islice(stream, COMMIT_EVERY), append=True)[1]
            written += added
            if added < COMMIT_EVERY:
                return written

    def put(self, name: bytes, key: bytes, value: bytes) -> None:
        """Store one entry (the snapshot's identity in `meta`)."""
        env = self._env
        assert env is not None, "the writer is closed"
        with env.begin(write=True, db=env.open_db(name)) as txn:
            txn.put(key, value)

    def close(self) -> None:
        """Flush everything to disk and close."""
        if self._env is not None:
            self._env.sync(True)
            self._env.close()
            self._env = None

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def equal_key_groups(items: Iterable[tuple[bytes, bytes]]) -> Iterator[list[bytes]]:
    """Yield the values of each run of two or more equal keys in key-sorted items."""
    previous_key: bytes | None = None
    group: list[bytes] = []
    for key, value in items:
        if key != previous_key:
            if len(group) > 1:
                yield group
            previous_key, group = key, []
        group.append(value)
    if len(group) > 1:
        yield group


def write_run(items: Iterable[tuple[bytes, bytes]], path: str) -> int:
    """Write key-sorted items to `path` as a sorter's run file, for a sorter elsewhere to
    adopt() (the build streams a merge to the process that writes it); return how many."""
    written = 0
    with open(path, "wb", buffering=READ_BUFFER) as f:
        for key, value in items:
            f.write(LENGTH.pack(len(value)))
            f.write(key)
            f.write(value)
            written += 1
    return written
