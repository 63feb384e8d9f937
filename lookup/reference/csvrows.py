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
  kept in `error`, so a caller can tell it from errors of its own;
- a stream may be a piece of a file starting just after a line end (a range of an extract that
  a build worker reads): `Rows(stream, first_line)` numbers its lines from `first_line`, and past
  line 1 a BOM is content; `stop_at(n)` ends the rows before any record or blank line that
  starts at or past byte n of the stream, and `offset` is where the rows stopped: the bytes
  taken by the records returned and the blank lines skipped.

The stream is split into physical lines here, as io.TextIOWrapper(newline="") would split them,
so that `offset` counts bytes; each line is decoded on its own, which gives the text decoding the
whole stream gives, since the bytes that end lines are ASCII, never inside a UTF-8 sequence.

`feed_build(...)` is the build's read loop (lookup/ingest/build.py `_read`): every row through the
validator into the four sorters. core/csvrows.pyx must agree with both: same rows, values, lines,
errors and sorter entries; tests/test_csvrows.py and tests/test_build.py hold it to that.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from lookup.errors import RowError
from lookup.reference import record
from lookup.schema import QUALITY_FLAGS
from lookup.store.strings import Strings

__all__ = ("FIELD_LIMIT", "PROGRESS_EVERY", "Rows", "count_line_ends", "feed_build")

# A name or address is at most a few hundred bytes; a bigger field means broken quoting.
FIELD_LIMIT = 64 * 1024
PROGRESS_EVERY = 65536  # rows between two calls of feed_build's `tick`
QUALITY_COUNT = len(QUALITY_FLAGS)
# A card code's head (group, level and province) as the number card_head gives, in this many
# bits of a card key and bytes of a bhxh sorter entry (lookup/reference/writer.py check_cards).
HEAD_BITS, HEAD_LEN = 19, 3
BOM = b"\xef\xbb\xbf"
AFTER_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")  # a lone CR ends a line too


class Rows:
    """The records of one CSV stream; see the module docstring."""

    def __init__(self, stream: BinaryIO, first_line: int = 1) -> None:
        self._stream: BinaryIO | None = stream
        self._reader = csv.reader(self._lines(skip_bom=first_line == 1), strict=False)
        self._first_line = first_line
        self.line = first_line
        self.offset = 0
        self._stop: int | None = None
        self.error: BaseException | None = None

    def _lines(self, skip_bom: bool) -> Iterator[str]:
        """Yield the stream's physical lines, decoded; `offset` grows as csv.reader takes them."""
        while self._stream is not None and (chunk := self._stream.readline()):
            if skip_bom and chunk.startswith(BOM):
                self.offset += len(BOM)
                chunk = chunk[len(BOM) :]
            skip_bom = False
            # readline() ends a chunk at \n (or the end of the file): split it at lone CRs.
            for line in AFTER_LONE_CR.split(chunk) if b"\r" in chunk else (chunk,):
                if line:
                    self.offset += len(line)
                    yield line.decode("utf-8", "surrogateescape")

    def stop_at(self, offset: int) -> None:
        self._stop = offset

    def _next(self) -> list[str] | None:
        self.line = self._reader.line_num + self._first_line
        if self._stop is not None and self.offset >= self._stop:
            return None  # the next piece of the file starts here
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
        """Let go of the stream, which the caller closes."""
        self._stream = None


def count_line_ends(data: Any) -> int:
    """Count the line ends in data (a window of an extract mapped in memory) as Rows counts them.

    \\n, \\r\\n and a lone \\r (a \\r at the end too). A reconciliation worker numbers its
    range's rows from the line ends before it, and a build worker a line a message names
    (lookup/ingest/parallel.py line_at).
    """
    raw = bytes(data)
    return raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n")


def feed_build(
    rows: Rows,
    validator: Any,
    people: Any,
    bhxh: Any,
    cards: Any,
    renumbered: Any,
    strings: Strings,
    origin: int,
    reject: Callable[[int, str, str], object],
    tick: Callable[[int], object],
) -> tuple[int, int, int, tuple[int, ...]]:
    """Validate every row and add the valid ones to the build's sorters (lookup/ingest/build.py).

        people  cccd -> origin + record (version 2, its texts numbered in `strings`, the
                reading process's table: lookup/reference/writer.py renumber_records)
        bhxh    bhxh -> cccd + tag + the card's head (card_head, HEAD_LEN bytes)
        cards   prev card key -> cccd + tag + bhxh (the row's own number): the previous codes
                only. A current code is its head and its number, so the bhxh entries hold it
                already, in the order of card keys (card_key): the build checks both kinds
                for codes held twice in one pass over the two (writer.check_cards)
        renumbered  prev card -> cccd + tag, for the previous codes that end in another number
                than the card: the codes the snapshot's `cards` index holds (DESIGN 4), without
                a pass over all the others

    A row's tag is its line (4 bytes little-endian) and `origin` (1 byte): a build worker
    numbers the lines of its range from where it starts, and the parent knows by the origin
    what to add. A rejected row goes to reject(line, field, message); tick(n)
    is called when n rows have been read, every PROGRESS_EVERY rows. Returns (rows, invalid,
    record bytes, counts of rows with each data-quality flag: 1, 2, 4... as QUALITY_FLAGS).
    """
    if validator.delta:
        raise ValueError("feed_build: takes an extract's validator, not a delta's")
    if not 0 <= origin <= 255:
        raise ValueError(f"feed_build: origin {origin}; 0-255")
    count = invalid = record_bytes = 0
    quality = [0] * QUALITY_COUNT
    validate = validator.validate
    add_person, add_bhxh, add_card = people.add, bhxh.add, cards.add
    add_renumbered = renumbered.add
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
        key, tag = row.cccd_key, line.to_bytes(4, "little") + bytes((origin,))
        person = bytes((origin,)) + record.compact(record.decode(row.record), strings)
        add_person(key, person)
        add_bhxh(row.bhxh_key, key + tag + card_head(row.card_no).to_bytes(HEAD_LEN, "big"))
        if row.prev_card_no is not None:
            add_card(card_key(row.prev_card_no), key + tag + row.bhxh_key)
            if row.prev_card_no[5:] != row.card_no[5:]:
                add_renumbered(row.prev_card_no, key + tag)
        record_bytes += len(person) - 1
        for i in range(QUALITY_COUNT):
            if row.quality & (1 << i):
                quality[i] += 1
    return count, invalid, record_bytes, tuple(quality)


def card_head(code: bytes) -> int:
    """Return a card code's group, level and province (validated: ^[A-Z]{2}[1-5][0-9]{2}) as
    one number under 338,000 (< 2**HEAD_BITS), equal when they are."""
    return (((code[0] - 65) * 26 + code[1] - 65) * 5 + code[2] - 49) * 100 + int(code[3:5])


def card_key(code: bytes) -> bytes:
    """Return a card code (validated: ^[A-Z]{2}[1-5][0-9]{12}$) as the 8 bytes the build's
    card check sorts it by: the social insurance number it ends with, then its head (under
    2**53), so that two keys are equal when the codes are, and the codes of one number are
    together where bhxh has that number."""
    return (int(code[5:]) << HEAD_BITS | card_head(code)).to_bytes(8, "big")


def card_code(card: bytes) -> bytes:
    """Return the card code of a card key: card_key's inverse."""
    key = int.from_bytes(card, "big")
    rest, province = divmod(key & ((1 << HEAD_BITS) - 1), 100)
    group, level = divmod(rest, 5)
    letters = bytes((65 + group // 26, 65 + group % 26))
    return letters + b"%d%02d%010d" % (level + 1, province, key >> HEAD_BITS)


csv.field_size_limit(FIELD_LIMIT)
