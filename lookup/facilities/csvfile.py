"""Open a facility registry file (SPEC.md 1.4) as the other readers open theirs (SPEC 1.1): UTF-8
with an optional BOM, RFC 4180, gzip when it starts with gzip's magic bytes, column order free.

Rows are split by the core's `csvrows.Rows`, the extract reader's splitter, so a registry file is
read exactly as an extract is: lines numbered from the header's (line 1), blank lines skipped,
bytes that are no UTF-8 kept as lone surrogates for the row check to reject. What makes the whole
file unusable (no header, an unknown, missing or repeated column, broken CSV) is an
ExtractError naming the file, the column or the line.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import Counter
from collections.abc import Iterator
from typing import BinaryIO, cast

from lookup import _core
from lookup.errors import ExtractError
from lookup.facilities.rows import COLUMNS, OFFICER_COLUMNS, REQUIRED

__all__ = ("RegistryFile",)

GZIP_MAGIC = b"\x1f\x8b"
_ID_RUN = re.compile(r"[0-9]{9}")  # an ID number is never repeated in a message (SPEC 5)


class RegistryFile:
    """One opened registry file: `.columns`, then iterate `(line, values)` in header order."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            # Typed BinaryIO for a buffer size but -1 or 1: a BufferedReader. Closed by close().
            self._file = cast(io.BufferedReader, open(path, "rb", buffering=1 << 16))
        except OSError as exc:
            raise ExtractError(f"{path}: cannot open: {exc.strerror}") from exc
        self._stream: BinaryIO = self._file
        if self._file.peek(2)[:2] == GZIP_MAGIC:
            self._stream = cast(BinaryIO, gzip.GzipFile(fileobj=self._file, mode="rb"))
        self._rows = _core.Rows(self._stream)
        try:
            self.columns = self._header()
        except BaseException:
            self.close()
            raise

    def _header(self) -> tuple[str, ...]:
        try:
            header = self._rows.first()
        except (csv.Error, OSError, EOFError, UnicodeError) as exc:
            raise ExtractError(f"{self.path}: not a CSV facility registry: {exc}") from exc
        if not header:
            raise ExtractError(
                f"{self.path}: empty file; a facility registry starts with a header row naming "
                f"its columns ({', '.join(REQUIRED)} are required)"
            )
        if any("\udc80" <= ch <= "\udcff" for name in header for ch in name):
            raise ExtractError(f"{self.path}: the header is not valid UTF-8")
        unknown = [name for name in header if name not in COLUMNS]
        if len(unknown) == len(header):
            # Most likely a file exported without its header: its first row would be quoted,
            # and that row may hold an officer's CCCD and name (SPEC 5).
            raise ExtractError(
                f"{self.path}: the first line names no column of a facility registry; it must "
                f"be the header: {', '.join(COLUMNS[:4])}[, {', '.join(OFFICER_COLUMNS)}]"
            )
        twice = sorted(name for name, count in Counter(header).items() if count > 1)
        if twice:
            raise ExtractError(f"{self.path}: column given twice: {', '.join(twice)}")
        if unknown:
            masked = [
                "(a name holding an ID number)" if _ID_RUN.search(n) else repr(n) for n in unknown
            ]
            shown = ", ".join(masked)
            raise ExtractError(
                f"{self.path}: unknown column {shown}; the columns of a facility registry are "
                f"{', '.join(COLUMNS)} (SPEC.md 1.4)"
            )
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise ExtractError(f"{self.path}: missing required column {', '.join(missing)}")
        officer = [name for name in OFFICER_COLUMNS if name in header]
        if len(officer) == 1:
            other = next(name for name in OFFICER_COLUMNS if name not in header)
            raise ExtractError(
                f"{self.path}: missing column {other}: officers are given as "
                f"{' and '.join(OFFICER_COLUMNS)}, one row per officer"
            )
        return tuple(header)

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        rows = self._rows
        try:
            yield from rows
        except csv.Error as exc:
            raise ExtractError(f"{self.path}: line {rows.line}: not valid CSV: {exc}") from exc
        except (OSError, EOFError) as exc:  # a truncated or corrupt gzip
            raise ExtractError(f"{self.path}: line {rows.line}: cannot read: {exc}") from exc

    def close(self) -> None:
        """Close the file (and the gzip reader over it)."""
        self._rows.close()
        if self._stream is not self._file:
            self._stream.close()
        self._file.close()

    def __enter__(self) -> RegistryFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
