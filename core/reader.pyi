"""Answer entitlement lookups from a snapshot (docs/DESIGN.md 4 and 6); compiled from
core/reader.pyx, the twin of lookup/reference/reader.py."""

from collections.abc import Callable, Mapping
from os import PathLike
from types import TracebackType
from typing import Self, final

from core.csvrows import Rows

__all__ = ("FacilityTable", "SnapshotReader")

@final
class FacilityTable:
    """The facility registry (SPEC 1.4) as answers show it: code -> (name, level)."""

    def __init__(self, table: Mapping[str, tuple[str | None, str | None]]) -> None: ...
    @property
    def table(self) -> dict[str, tuple[str | None, str | None]]: ...

@final
class SnapshotReader:
    """Answer lookups from one immutable snapshot directory (it holds data.mdb)."""

    # The path goes to __cinit__, that is to __new__: the class has no __init__ of its own.
    def __new__(cls, path: str | PathLike[str]) -> Self: ...
    @property
    def snapshot_id(self) -> str:
        """The id of the snapshot (its manifest's "id")."""
    @property
    def facilities(self) -> dict[str, tuple[str | None, str | None]] | None:
        """The registry's code -> (name, level) that answers show (None: no registry)."""
    @facilities.setter
    def facilities(
        self, table: Mapping[str, tuple[str | None, str | None]] | FacilityTable | None
    ) -> None: ...
    @property
    def _page_walker(self) -> bool: ...
    @property
    def _people_leaf_index(self) -> int: ...
    def _use_lmdb_api(self) -> None: ...
    def answer(self, id: str, date: int, facility: str | None = None) -> bytes:
        """Answer one lookup as the SPEC 3 JSON body; date is packed yyyymmdd."""
    def answer_coded(self, id: str, date: int, facility: str | None = None) -> tuple[bytes, str]:
        """Return the SPEC 3 body of one lookup and its result code."""
    def answer_many(self, ids: list[str], date: int, facility: str | None = None) -> bytes:
        """Answer many lookups as a JSON array of bodies in request order."""
    def answer_batch(
        self, ids: list[str], date: int, facility: str | None = None
    ) -> tuple[memoryview, bytes, dict[str, int]]:
        """Return the SPEC 3 batch answer, `{"results": [...]}`, with the answers' result codes.

        The answer is a read-only view of the buffer it was written in; the codes come in request
        order as a JSON array, and counted: how many gave each code.
        """
    @property
    def strings(self) -> tuple[bytes, ...]:
        """The string table's texts (UTF-8), string n at index n - 1 (lookup.store.strings)."""
    def stored_record(self, cccd: int) -> bytes | None:
        """Return the stored record of the person whose CCCD is this number, or None."""
    def reconcile(
        self,
        rows: Rows,
        columns: tuple[str, ...],
        slow: Callable[[int, list[str]], tuple[bytes, int]],
        write: Callable[[bytes], object],
        today: int,
        mismatches: bool = False,
        tick: Callable[[int], object] | None = None,
        every: int = 65536,
    ) -> tuple[dict[str, int], dict[str, int], bytes]:
        """Report each population row of `rows` (SPEC.md 1.3 columns) to `write`, as CSV lines.

        A row that is one line without quotes is read from its bytes, with no Python object,
        and judged here, in C, when it is well formed as it is: a `match`, `not_insured`,
        `deceased` (a death on or before `today`, packed), and with `mismatches` a `mismatch`
        (names compared through the letter table of core/names.pxd). Any other row goes to
        `slow(line, values)`, which returns its report line and the CCCD it found (-1: none).
        `tick(rows read)` is called every `every` rows. Return how many rows of each status,
        and of each mismatch field, were written here, and the CCCDs found, in file order, as native
        uint64 bytes.
        """
    def missing(self, found: bytes) -> bytes:
        """Return the CCCDs of the stored people not among `found` (native uint64 bytes in any
        order: what `reconcile` returned, of one range or of several), sorted, the same way."""
    def close(self) -> None:
        """Release the snapshot; later lookups raise StoreError."""
    def __enter__(self) -> SnapshotReader: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
