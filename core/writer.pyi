"""Write a new snapshot's LMDB environment from key-sorted items; compiled from core/writer.pyx,
the twin of lookup/reference/writer.py."""

from collections.abc import Callable, Iterable, Iterator, Set
from typing import final

__all__ = ("SnapshotWriter", "check_cards", "write_run")

@final
class SnapshotWriter:
    """Append sorted items to the databases of a new, unpublished snapshot."""

    def __init__(self, path: str, map_size: int) -> None: ...
    def append(
        self,
        name: bytes,
        items: Iterable[tuple[bytes, bytes]],
        *,
        value_size: int = -1,
        skip: Set[bytes] = ...,
        skip_by_value: bool = False,
        shared: Callable[[bytes, list[bytes]], object] | None = None,
    ) -> int:
        """Append items in strictly increasing key order; return how many were written."""
    def delete(self, name: bytes, keys: Iterable[bytes]) -> int:
        """Delete the entries of `keys` that are there (a build's rows found rejected after
        they were written); return how many were."""
    def put(self, name: bytes, key: bytes, value: bytes) -> None:
        """Store one entry (the snapshot's identity in `meta`)."""
    def close(self) -> None:
        """Flush everything to disk and close."""
    def __enter__(self) -> SnapshotWriter: ...
    def __exit__(self, *exc_info: object) -> None: ...

def check_cards(
    bhxh: Iterable[tuple[bytes, bytes]],
    cards: Iterable[tuple[bytes, bytes]],
    rejected: Set[bytes] = ...,
) -> _CardCheck:
    """Give the build's bhxh entries as they are, finding meanwhile the card codes held twice:
    see lookup/reference/writer.py. Here `bhxh` and `cards` are sorters' merges (items()), and
    SnapshotWriter.append pulls the entries in C."""

@final
class _CardCheck:
    """check_cards' iterator: `groups` and `rejected_entries` as the reference's CardCheck."""

    groups: list[tuple[bytes, list[bytes]]]
    rejected_entries: list[bytes]
    def __iter__(self) -> Iterator[tuple[bytes, bytes]]: ...
    def __next__(self) -> tuple[bytes, bytes]: ...

def write_run(items: Iterable[tuple[bytes, bytes]], path: str) -> int:
    """Write key-sorted items to `path` as a sorter's run file, for a sorter elsewhere to
    adopt() (the build streams a merge to the process that writes it); return how many."""
