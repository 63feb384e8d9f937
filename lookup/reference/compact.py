"""Version-2 records for the build, in plain Python: the twin of core/compact.pyx.

A build compacts each record as it reads it (lookup/reference/csvrows.py feed_build), numbering
its repeated texts in a string table of the reading process. A parallel build's worker has a
table of its own; the parent puts the workers' texts after its own, in range order, which
numbers every text as a serial read would (by the first line that holds it), and the writer
renumbers the workers' records as it writes them (`renumber_records`): each record in the sorter
starts with the number of the process that read it, its origin.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lookup.reference import record
from lookup.store.strings import Strings, read_varint, varint

__all__ = ("compact_records", "renumber_records")


def compact_records(
    items: Iterable[tuple[bytes, bytes]], strings: Strings
) -> Iterator[tuple[bytes, bytes]]:
    """Yield (key, record) for each (key, version-1 record) of items, the record as version 2,
    its repeated texts added to `strings` (docs/DESIGN.md 4)."""
    for key, value in items:
        yield key, record.compact(record.decode(value), strings)


def renumber_records(
    items: Iterable[tuple[bytes, bytes]], maps: list[list[int] | None]
) -> Iterator[tuple[bytes, bytes]]:
    """Yield (key, record) for each (key, origin byte + version-2 record) of items: the
    origin's record with its text numbers looked up in maps[origin], a list (0, then each
    text's number in the whole build), or as it is when maps[origin] is None.

    The build's reading processes number texts in tables of their own (lookup/ingest/build.py).
    """
    for key, value in items:
        if not value:
            raise ValueError("renumber_records: an empty value has no origin")
        origin, stored = value[0], value[1:]
        if origin >= len(maps):
            raise ValueError(f"renumber_records: origin {origin}; {len(maps)} maps given")
        numbers = maps[origin]
        if numbers is None:
            yield key, stored
            continue
        at = start = _texts_at(stored)
        renumbered = bytearray(stored[:start])
        for _ in range(3):
            number, at = _read_number(stored, at)
            if number >= len(numbers):
                raise ValueError("renumber_records: a text number outside the process's table")
            renumbered += varint(numbers[number])
        if at != len(stored):
            raise ValueError("renumber_records: bytes after the record's text numbers")
        yield key, bytes(renumbered)


def _texts_at(stored: bytes) -> int:
    """Where a version-2 record's three text numbers start (DESIGN 4)."""
    if len(stored) < 3:
        raise ValueError("renumber_records: not a sound version-2 record")
    flags, more = stored[1], stored[2]
    at = 3 + 9 + 3 * ((more >> 3) & 1) + 3 * ((more >> 4) & 1) + 10
    if flags & 0x40:
        at += 10 if flags & 0x80 else 5
    for _ in range(2):  # the name, then the address's own part
        length, at = _read_number(stored, at)
        if at + length > len(stored):
            raise ValueError("renumber_records: not a sound version-2 record")
        at += length
    return at


def _read_number(stored: bytes, at: int) -> tuple[int, int]:
    try:
        return read_varint(stored, at)
    except ValueError:
        raise ValueError("renumber_records: not a sound version-2 record") from None
