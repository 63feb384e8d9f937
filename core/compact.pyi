"""Version-2 records for the build (docs/DESIGN.md 4), compiled; see lookup/reference/compact.py."""

from collections.abc import Iterable, Iterator

from lookup.store.strings import Strings

__all__ = ("compact_records", "renumber_records")

def compact_records(
    items: Iterable[tuple[bytes, bytes]], strings: Strings
) -> Iterator[tuple[bytes, bytes]]:
    """Yield (key, record) for each (key, version-1 record) of items, the record as version 2,
    its repeated texts added to `strings` (docs/DESIGN.md 4)."""

def renumber_records(
    items: Iterable[tuple[bytes, bytes]], maps: list[list[int] | None]
) -> Iterator[tuple[bytes, bytes]]:
    """Return an iterator of (key, record) for each (key, origin byte + version-2 record) of
    items, its text numbers looked up in maps[origin] (None: as they are)."""
