"""Open extract and delta files (SPEC.md 1.1, 1.2): gzip, BOM, header checks, rows with lines.

Row *content* is checked by the core's RowValidator (docs/DESIGN.md 5); this module checks what
makes a whole file unusable and says so naming the file and the column. Rows are split by the
core's `csvrows.Rows` (RFC 4180 as `csv.reader(strict=False)` reads it, UTF-8 with
`surrogateescape`, a BOM skipped): compiled, or the csv module in the reference.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

from lookup import _core
from lookup.errors import ExtractError
from lookup.ingest import parallel
from lookup.schema import (
    COLUMNS,
    DELTA_REQUIRED,
    POPULATION_COLUMNS,
    POPULATION_OPTIONAL,
    REQUIRED,
)

GZIP_MAGIC = b"\x1f\x8b"
# The first line of a range read with line=None; past 1, so that a BOM there is content.
PROVISIONAL_LINE = 2
# What each kind of file is called in messages, its columns, and those it must have.
KINDS = {
    "extract": ("an extract", COLUMNS, REQUIRED),
    "delta": ("a delta", ("op", *COLUMNS), DELTA_REQUIRED),
    "population": (
        "a population extract",
        POPULATION_COLUMNS + POPULATION_OPTIONAL,
        POPULATION_COLUMNS,
    ),
}
# A value over 64 KiB (csvrows.FIELD_LIMIT) is an error naming the line: broken quoting.


class Extract:
    """One opened extract, delta or population extract (`kind`, SPEC.md 1.1-1.3): `.columns`,
    then iterate `(line, values)` pairs.

    `line` is the physical line where the row starts (the header is line 1), so an operator can
    find a rejected row with `sed -n 'Np'` even when quoted values span lines.

    `Extract(path, start=S, line=N, columns=C)` reads a range of a plain (not gzip) extract whose
    header was read already: the rows from byte S, which starts physical line N (the workers of
    lookup.ingest.build read ranges of a big extract so). With line=None the rows are numbered
    from PROVISIONAL_LINE, for a caller that learns later what to add (a build worker: counting
    the lines before its range would cost it a pass over them); a message from here counts them
    then, to name the true line.
    """

    def __init__(
        self,
        path: str,
        *,
        delta: bool = False,
        kind: str = "extract",
        start: int = 0,
        line: int | None = 1,
        columns: tuple[str, ...] | None = None,
    ) -> None:
        self.path = path
        self._provisional = line is None
        self.delta = delta
        self.kind = "delta" if delta else kind
        self.start = start
        self._file = _open(path)
        self._stream: BinaryIO = self._file
        if start:
            self._file.seek(start)
        elif self._file.peek(2)[:2] == GZIP_MAGIC:
            self._stream = gzip.GzipFile(fileobj=self._file, mode="rb")  # type: ignore[assignment]
        self._rows = _core.Rows(self._stream, PROVISIONAL_LINE if line is None else line)
        try:
            self.columns = columns or self._read_header()
        except BaseException:
            self.close()
            raise

    @property
    def compressed(self) -> bool:
        return self._stream is not self._file

    # -- header ---------------------------------------------------------------------------
    def _read_header(self) -> tuple[str, ...]:
        a_kind, expected, required = KINDS[self.kind]
        kind = a_kind.split(" ", 1)[1]
        try:
            header = self._rows.first()
        except (csv.Error, OSError, EOFError, UnicodeError) as exc:
            raise ExtractError(f"{self.path}: not a CSV {kind}: {exc}") from exc
        if header is None or header == []:
            raise ExtractError(
                f"{self.path}: empty file; {a_kind} starts with a header row naming its columns"
                f" ({', '.join(required)} are required)"
            )
        if any("\udc80" <= ch <= "\udcff" for name in header for ch in name):
            raise ExtractError(f"{self.path}: not a CSV {kind}: the header is not valid UTF-8")
        duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
        if duplicated:
            raise ExtractError(f"{self.path}: column given twice: {', '.join(duplicated)}")
        unknown = [name for name in header if name not in expected]
        if unknown:
            shown = ", ".join(repr(name) for name in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise ExtractError(
                f"{self.path}: unknown column {shown}{more}; the columns of {a_kind} are "
                f"{', '.join(expected)} (SPEC.md 1)"
            )
        missing = [name for name in required if name not in header]
        if missing:
            raise ExtractError(f"{self.path}: missing required column {', '.join(missing)}")
        return tuple(header)

    # -- rows -------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        with self.reading() as rows:
            yield from rows

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """Give the rows (a csvrows.Rows after the header) to a loop of the caller's own, such
        as the build's csvrows.feed_build; errors of the file become ExtractError naming it and
        the line where the row being read starts."""
        rows = self._rows
        try:
            yield rows
        except csv.Error as exc:
            line = self._true_line(rows.line)
            raise ExtractError(f"{self.path}: line {line}: not valid CSV: {exc}") from exc
        except (OSError, EOFError) as exc:
            if exc is not rows.error:  # not the file's: a sorter's disk, say
                raise
            # truncated or corrupt gzip
            line = self._true_line(rows.line)
            raise ExtractError(f"{self.path}: line {line}: cannot read: {exc}") from exc

    def _true_line(self, line: int) -> int:
        if not self._provisional:
            return line
        return line + parallel.line_at(self.path, self.start) - PROVISIONAL_LINE

    def position(self) -> tuple[int, int]:
        """Return (bytes read, total bytes) of the file on disk, for progress reports."""
        return self._file.tell() - self.start, os.fstat(self._file.fileno()).st_size

    def close(self) -> None:
        self._rows.close()
        if self._stream is not self._file:
            self._stream.close()  # a GzipFile leaves the file it reads open
        self._file.close()

    def __enter__(self) -> Extract:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open(path: str) -> io.BufferedReader:
    try:
        # Closed by Extract.close. Typed BinaryIO for a buffer size but -1 or 1: a BufferedReader.
        return cast(io.BufferedReader, open(path, "rb", buffering=1 << 20))
    except OSError as exc:
        raise ExtractError(f"{path}: cannot open: {exc.strerror}") from exc
