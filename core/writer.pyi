"""Write a new snapshot's LMDB environment from key-sorted items; compiled from core/writer.pyx,
the twin of lookup/reference/writer.py."""

from collections.abc import Callable, Iterable, Iterator, Set
from typing import final

__all__ = ("SnapshotWriter", "equal_key_groups", "write_run")

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
        shared: Callable[[list[bytes]], object] | None = None,
    ) -> int:
        """Append items in strictly increasing key order; return how many were written."""
    def put(self, name: bytes, key: bytes, value: bytes) -> None:
        """Store one entry (the snapshot's identity in `meta`)."""
    def close(self) -> None:
        """Flush everything to disk and close."""
    def __enter__(self) -> SnapshotWriter: ...
    def __exit__(self, *exc_info: object) -> None: ...

def equal_key_groups(items: Iterable[tuple[bytes, bytes]]) -> Iterator[list[bytes]]:
    """Return an iterator over the values of each run of two or more equal keys in key-sorted
    items."""

def write_run(items: Iterable[tuple[bytes, bytes]], path: str) -> int:
    """Write key-sorted items to `path` as a sorter's run file, for a sorter elsewhere to
    adopt() (the build streams a merge to the process that writes it); return how many."""
