"""Write a new snapshot's LMDB environment from key-sorted items, in plain Python (py-lmdb).

The build (lookup/ingest/build.py) merges its sorters into `SnapshotWriter.append`, which appends in
key order (MDB_APPEND: no page splits, every page full) and drops the rows the build rejected.
`check_cards` finds the card codes held twice, which the build must reject (SPEC 1.1), as the
bhxh entries go by.
core/writer.pyx does the same through the vendored LMDB's C API; the tests hold the two stores
byte for byte equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Set
from itertools import groupby, islice
from operator import itemgetter

import lmdb

from lookup.reference.csvrows import HEAD_BITS, HEAD_LEN, card_code
from lookup.reference.sorter import LENGTH, READ_BUFFER

__all__ = ("CardCheck", "SnapshotWriter", "check_cards", "write_run")

COMMIT_EVERY = 1_000_000  # entries per write transaction: bounds LMDB's dirty-page list
KEY_SIZE = 8  # a CCCD key, the prefix of every index value
TAG_LEN = 5  # a row's line (4 bytes) and origin, after the CCCD key in the build's sorters


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
        shared: Callable[[bytes, list[bytes]], object] | None = None,
    ) -> int:
        """Append items in strictly increasing key order; return how many were written.

        An item is dropped when its key (or, with skip_by_value, the CCCD key its value starts
        with) is in `skip`; with value_size >= 0 only the value's first value_size bytes are kept.
        With `shared`, items may come in runs of equal keys: such a run is not written, its key
        and values go to shared(key, values) (the build's duplicate checks, done as it writes).
        """
        env = self._env
        assert env is not None, "the writer is closed"
        db = env.open_db(name)
        end = None if value_size < 0 else value_size

        def unique() -> Iterator[tuple[bytes, bytes]]:
            assert shared is not None
            for key, run in groupby(items, key=itemgetter(0)):
                values = list(run)
                if len(values) > 1:
                    shared(key, [value for _, value in values])
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

    def delete(self, name: bytes, keys: Iterable[bytes]) -> int:
        """Delete the entries of `keys` that are there (a build's rows found rejected after
        they were written); return how many were."""
        env = self._env
        assert env is not None, "the writer is closed"
        with env.begin(write=True, db=env.open_db(name)) as txn:
            return sum(txn.delete(key) for key in keys)

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


def check_cards(
    bhxh: Iterable[tuple[bytes, bytes]],
    cards: Iterable[tuple[bytes, bytes]],
    rejected: Set[bytes] = frozenset(),
) -> CardCheck:
    """Give the build's bhxh entries as they are, finding meanwhile the card codes held twice.

    bhxh: key-sorted (bhxh key, cccd + tag + the card's head) entries; cards: (card key, cccd +
    tag + bhxh key) of the previous codes, sorted (lookup/reference/csvrows.py feed_build).
    A card key starts with the number the code ends in, so the codes of one number, current
    and previous, meet where bhxh has it: one pass over both finds every code held twice.
    """
    return CardCheck(bhxh, cards, rejected)


class CardCheck:
    """check_cards' iterator. Once it has given every entry:

    groups: (card code, members) for each code held more than once, by the number it ends in,
    then its head (the order of card keys); a member is cccd + tag + 0 (the current code) or 1
    (a previous one) + the bhxh key of its row, the current codes first, then in the order of
    the entries;
    rejected_entries: the values of the bhxh entries whose CCCD is in `rejected`, in order
    (the build names the lines of the CCCDs found twice by them).
    """

    def __init__(
        self,
        bhxh: Iterable[tuple[bytes, bytes]],
        cards: Iterable[tuple[bytes, bytes]],
        rejected: Set[bytes],
    ) -> None:
        self._bhxh, self._cards, self._rejected = bhxh, cards, rejected
        self.groups: list[tuple[bytes, list[bytes]]] = []
        self.rejected_entries: list[bytes] = []

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        previous = _previous_by_number(self._cards)
        following = next(previous, None)
        for key, run in groupby(self._bhxh, key=itemgetter(0)):
            number = int.from_bytes(key, "big")
            while following is not None and following[0] < number:
                self._find(following[1])
                following = next(previous, None)
            codes = []
            for _, value in run:
                if len(value) != KEY_SIZE + TAG_LEN + HEAD_LEN:
                    raise ValueError("check_cards: a bhxh value is cccd, tag and card head")
                if value[:KEY_SIZE] in self._rejected:
                    self.rejected_entries.append(value)
                head = int.from_bytes(value[KEY_SIZE + TAG_LEN :], "big")
                card = (number << HEAD_BITS | head).to_bytes(8, "big")
                codes.append((card, value[: KEY_SIZE + TAG_LEN] + b"\x00" + key))
                yield key, value
            if following is not None and following[0] == number:
                codes += following[1]
                following = next(previous, None)
            self._find(codes)
        while following is not None:
            self._find(following[1])
            following = next(previous, None)

    def _find(self, codes: list[tuple[bytes, bytes]]) -> None:
        """Note the codes held twice among those of one number."""
        codes.sort(key=itemgetter(0))  # stable: current codes stay first
        for card, group in groupby(codes, key=itemgetter(0)):
            members = [member for _, member in group]
            if len(members) > 1:
                self.groups.append((card_code(card), members))


def _previous_by_number(
    cards: Iterable[tuple[bytes, bytes]],
) -> Iterator[tuple[int, list[tuple[bytes, bytes]]]]:
    """Yield (number, [(card key, member)]) of the previous codes, by the number they end in."""
    for number, run in groupby(cards, key=lambda item: int.from_bytes(item[0], "big") >> HEAD_BITS):
        codes = []
        for card, value in run:
            if len(value) != KEY_SIZE + TAG_LEN + KEY_SIZE:
                raise ValueError("check_cards: a cards value is cccd, tag and bhxh key")
            tagged, number_key = value[: KEY_SIZE + TAG_LEN], value[KEY_SIZE + TAG_LEN :]
            codes.append((card, tagged + b"\x01" + number_key))
        yield number, codes


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
