"""CSV rows of an extract or delta (SPEC.md 1.1), in plain Python: the csv module.

`Rows(stream)` reads a binary stream (a file, or a gzip.GzipFile over one) as UTF-8 with
`surrogateescape` (bad bytes arrive as lone surrogates U+DC80-U+DCFF, for the validator to reject),
a leading BOM skipped, and splits it with `csv.reader(strict=False)`:

- `first()` returns the first record's values (the header): `[]` when the file starts with a
  blank line, None when it holds nothing;
- iterating yields `(line, values)` for every later record but blank lines, `line` being the
  physical line where the record starts (`\\n`, `\\r\\n` and a lone `\\r` each end a line; a quoted
  value spanning lines advances the count);
- `line` is the line where the record being read starts, for error messages;
- a value over FIELD_LIMIT characters raises csv.Error("field larger than field limit (65536)");
  an error of the stream (a truncated gzip: OSError, EOFError) is raised as it is, after being
  kept in `error`, so a caller can tell it from errors of its own.

`feed_build(...)` is the build's read loop (lookup/build.py `_read`): every row through the
validator into the four sorters. core/csvrows.pyx must agree with both: same rows, values, lines,
errors and sorter entries; tests/test_csvrows.py and tests/test_build.py hold it to that.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from lookup.errors import RowError

__all__ = ("Rows", "feed_build", "FIELD_LIMIT", "PROGRESS_EVERY")

# A name or address is at most a few hundred bytes; a bigger field means broken quoting.
FIELD_LIMIT = 64 * 1024
PROGRESS_EVERY = 65536  # rows between two calls of feed_build's `tick`
CURRENT, PREVIOUS = b"\x00", b"\x01"  # the cards sorter's value ends with which code it is


class Rows:
    """The records of one CSV stream; see the module docstring."""

    def __init__(self, stream: BinaryIO) -> None:
        self._text: io.TextIOWrapper | None = io.TextIOWrapper(
            stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self._reader = csv.reader(self._text, strict=False)
        self.line = 1
        self.error: BaseException | None = None

    def _next(self) -> list[str] | None:
        self.line = self._reader.line_num + 1
        try:
            return next(self._reader, None)
        except (OSError, EOFError) as exc:
            self.error = exc
            raise

    def first(self) -> list[str] | None:
        return self._next()

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        return self

    def __next__(self) -> tuple[int, list[str]]:
        while True:
            values = self._next()
            if values is None:
                raise StopIteration
            if values:  # a blank line is not a row
                return self.line, values

    def close(self) -> None:
        """Let go of the stream, which the caller closes (a TextIOWrapper would close it)."""
        text, self._text = self._text, None
        if text is not None and not text.buffer.closed:
            text.detach()


def feed_build(
    rows: Rows,
    validator: Any,
    ids: Any,
    people: Any,
    bhxh: Any,
    cards: Any,
    reject: Callable[[int, str, str], object],
    tick: Callable[[int], object],
) -> tuple[int, int, int, tuple[int, int, int]]:
    """Validate every row and add the valid ones to the build's sorters (lookup/build.py).

        ids     cccd -> line                   (finds duplicate CCCDs cheaply)
        people  cccd -> record
        bhxh    bhxh -> cccd + line
        cards   card -> cccd + line + CURRENT, prev card -> cccd + line + PREVIOUS

    `line` is 4 bytes little-endian. A rejected row goes to reject(line, field, message); tick(n)
    is called when n rows have been read, every PROGRESS_EVERY rows. Returns (rows, invalid,
    record bytes, counts of rows with data-quality flag 1, 2 and 4).
    """
    if validator.delta:
        raise ValueError("feed_build: takes an extract's validator, not a delta's")
    count = invalid = record_bytes = 0
    quality = [0, 0, 0]
    validate = validator.validate
    add_id, add_person, add_bhxh, add_card = ids.add, people.add, bhxh.add, cards.add
    for line, values in rows:
        count += 1
        if count % PROGRESS_EVERY == 0:
            tick(count)
        try:
            row = validate(values)
        except RowError as exc:
            invalid += 1
            reject(line, exc.field, exc.message)
            continue
        key, tag = row.cccd_key, line.to_bytes(4, "little")
        add_id(key, tag)
        add_person(key, row.record)
        add_bhxh(row.bhxh_key, key + tag)
        add_card(row.card_no, key + tag + CURRENT)
        if row.prev_card_no is not None:
            add_card(row.prev_card_no, key + tag + PREVIOUS)
        record_bytes += len(row.record)
        for i in range(3):
            if row.quality & (1 << i):
                quality[i] += 1
    return count, invalid, record_bytes, (quality[0], quality[1], quality[2])


csv.field_size_limit(FIELD_LIMIT)
