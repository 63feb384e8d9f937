"""CSV rows of an extract or delta (SPEC.md 1.1), compiled; see lookup/reference/csvrows.py."""

from collections.abc import Callable
from mmap import mmap
from typing import BinaryIO, Self, final

from core.sorter import ExternalSorter
from core.validate import RowValidator
from lookup.store.strings import Strings

__all__ = ("FIELD_LIMIT", "PROGRESS_EVERY", "Rows", "count_line_ends", "feed_build")

FIELD_LIMIT: int
PROGRESS_EVERY: int

@final
class Rows:
    """The records of one CSV stream: first() is the header, then (line, values) per row."""

    @property
    def line(self) -> int: ...
    @property
    def error(self) -> BaseException | None: ...
    @property
    def offset(self) -> int: ...
    def __init__(self, stream: BinaryIO, first_line: int = 1) -> None: ...
    def stop_at(self, offset: int) -> None: ...
    def first(self) -> list[str] | None: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> tuple[int, list[str]]: ...
    def close(self) -> None: ...

def feed_build(
    rows: Rows,
    validator: RowValidator,
    people: ExternalSorter,
    bhxh: ExternalSorter,
    cards: ExternalSorter,
    renumbered: ExternalSorter,
    strings: Strings,
    origin: int,
    reject: Callable[[int, str, str], object],
    tick: Callable[[int], object],
) -> tuple[int, int, int, tuple[int, ...]]: ...
def count_line_ends(data: bytes | bytearray | memoryview | mmap) -> int: ...
