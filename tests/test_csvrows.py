"""CSV rows (core/csvrows.pyx) against the reference, csv.reader(strict=False): the same records,
values, physical lines and errors for any text, well-formed or not, through gzip files too; and
the build's read loop (feed_build) filling the sorters alike."""

from __future__ import annotations

import csv
import io
import mmap
import random
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lookup.errors import ExtractError
from lookup.ingest import parallel
from lookup.ingest.extract import Extract
from lookup.reference import record
from lookup.reference.csvrows import card_code, card_head, card_key
from lookup.store.strings import Strings

from helpers.files import person, write_csv
from helpers.rows import COLUMNS, make_row
from helpers.twins import use_implementation

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LIMIT = 64 * 1024
TOO_LARGE = f"field larger than field limit ({LIMIT})"


class Trickle(io.RawIOBase):
    """Bytes in pieces of the given sizes (cycled), so records cross every chunk boundary."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos, self.turn = data, sizes or [1 << 20], 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = min(len(b), self.sizes[self.turn % len(self.sizes)], len(self.data) - self.pos)
        self.turn += 1
        b[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def records(impl, data: bytes, sizes: list[int] | None = None) -> list:
    """Everything a Rows gives for data: the header, then (line, values)s, then an error."""
    stream = io.BufferedReader(Trickle(data, sizes or []), buffer_size=8)
    rows = impl.csvrows.Rows(stream)
    out: list = []
    try:
        out.append(("first", rows.first()))
        out.extend(rows)
    except csv.Error as exc:
        out.append(("error", rows.line, str(exc)))
    rows.close()
    return out


def agree(compiled, reference, data: bytes, sizes: list[int] | None = None) -> list:
    expected = records(reference, data)
    assert records(compiled, data) == expected
    assert records(compiled, data, sizes or [1, 2, 3, 5, 7, 11]) == expected
    return expected


def test_compiled_core_is_compiled(compiled):
    assert compiled.csvrows.__file__.endswith((".so", ".pyd"))


# --- any rows csv.writer writes ----------------------------------------------------------------

# Lone surrogates U+DC80-U+DCFF become single bad bytes (surrogateescape): invalid UTF-8 of every
# kind, including truncated and overlong sequences next to the separators.
TEXT = st.text(
    st.sampled_from(',"\r\n \t\x00aZ09é\u1ea0\U0001f600\ufeff')
    | st.integers(0xDC80, 0xDCFF).map(chr)
    | st.characters(codec="utf-8"),
    max_size=12,
)
ROWS = st.lists(st.lists(TEXT, max_size=5), max_size=8)
# CSV syntax, bad and good UTF-8 (a lone lead byte, a lone continuation byte), a BOM, a NUL.
PIECES = [
    b",",
    b'"',
    b'""',
    b"\r",
    b"\n",
    b"\r\n",
    b"a",
    b" ",
    b"\xc3",
    b"\xa9",
    b"\xe1\xba\xa0",
    b"\xef\xbb\xbf",
    b"\x00",
]


@SETTINGS
@given(
    rows=ROWS,
    line_end=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=4),
)
@example(rows=[["a\r", "\rb"], [], [""], ["x\r\ny"]], line_end="\r\n", bom=True, sizes=[1])
def test_written_rows_read_alike(compiled, reference, rows, line_end, bom, sizes):
    text = io.StringIO()
    csv.writer(text, lineterminator=line_end).writerows(rows)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode("utf-8", "surrogateescape")
    agree(compiled, reference, data, sizes)


@SETTINGS
@given(
    data=st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join),
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=4),
)
def test_any_bytes_read_alike(compiled, reference, data, sizes):
    """Malformed CSV too: stray and unclosed quotes, text after a closing quote, bare CRs."""
    agree(compiled, reference, data, sizes)


# --- malformed and edge inputs, by name ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", [("first", None)]),
        (b"\xef\xbb\xbf", [("first", None)]),
        (b"\n\na\n", [("first", []), (3, ["a"])]),
        (b"h\r\n1,2\r\n\r\n3,4", [("first", ["h"]), (2, ["1", "2"]), (4, ["3", "4"])]),
        (b'h\n"a\nb",c\nd\n', [("first", ["h"]), (2, ["a\nb", "c"]), (4, ["d"])]),
        (b'h\nx,"open\nto the end', [("first", ["h"]), (2, ["x", "open\nto the end"])]),
        (b'h\nx,"', [("first", ["h"]), (2, ["x", ""])]),
        (b'h\nab"c"d,"q"after"x"', [("first", ["h"]), (2, ['ab"c"d', 'qafter"x"'])]),
        (b'h\n"a""b",""""\n""\n', [("first", ["h"]), (2, ['a"b', '"']), (3, [""])]),
        (b"h\na\rb\r\rc", [("first", ["h"]), (2, ["a"]), (3, ["b"]), (5, ["c"])]),
        (b'h\n"a\rb"\nc', [("first", ["h"]), (2, ["a\rb"]), (4, ["c"])]),
        (b"h\n\xff,\xe1\xba\n", [("first", ["h"]), (2, ["\udcff", "\udce1\udcba"])]),
        (b"\xef\xbb\xbf\xef\xbb\xbfh\n", [("first", ["\ufeffh"])]),
        (b"h\na,\n", [("first", ["h"]), (2, ["a", ""])]),
        (b'"\xc3"\xa9,"\xc3""\xa9"', [("first", ["\udcc3\udca9", '\udcc3"\udca9'])]),
    ],
    ids=[
        "empty",
        "bom-only",
        "blank-first",
        "crlf",
        "multiline",
        "unclosed",
        "quote-at-eof",
        "stray-quotes",
        "escaped",
        "lone-cr",
        "quoted-cr",
        "bad-utf8",
        "second-bom",
        "trailing",
        "bad-utf8-quoted",
    ],
)
def test_edge_cases(compiled, reference, data, expected):
    assert agree(compiled, reference, data) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (b"x" * LIMIT, True),
        (b"x" * (LIMIT + 1), False),
        ("\u1ea0".encode() * LIMIT, True),  # 3 bytes a character: the limit counts characters
        ("\u1ea0".encode() * (LIMIT + 1), False),
        (b'"' + b"x" * LIMIT + b'"', True),
        (b'"' + b"x" * (LIMIT + 1) + b'"', False),
        (b'"' + b'""' * LIMIT + b'"', True),
        (b'"' + b"x" * (10 * LIMIT), False),  # quote never closed: fails before the file's end
        (b"x" * (10 * LIMIT), False),
        (b'"x"' + b"x" * (10 * LIMIT), False),  # text after the closing quote counts too
    ],
    ids=[
        "ascii",
        "ascii+1",
        "utf8",
        "utf8+1",
        "quoted",
        "quoted+1",
        "escaped",
        "open",
        "long",
        "after-quote",
    ],
)
def test_field_limit(compiled, reference, value, ok):
    data = b"h\n\n1\n2," + value + b",3\n4\n"
    expected = agree(compiled, reference, data, [4096, 65536, 100_000])
    assert expected[:2] == [("first", ["h"]), (3, ["1"])]
    assert (expected[-1] == ("error", 4, TOO_LARGE)) != ok


# --- through Extract: real files, gzip, errors naming the line ---------------------------------


@pytest.fixture(params=["compiled", "python"])
def use(request, monkeypatch, compiled, reference):
    impl = compiled if request.param == "compiled" else reference
    use_implementation(monkeypatch, impl)
    return impl


def read_extract(path) -> list:
    with Extract(str(path)) as extract:
        return [extract.columns, *extract]


def test_extract_reads_bom_crlf_gzip_multiline(use, tmp_path):
    rows = [person(i, address='Số 1, ngõ "Hạnh Phúc",\r\nHà Nội') for i in range(300)]
    path = write_csv(tmp_path / "x.csv.gz", rows, bom=True, line_end="\r\n")
    got = read_extract(path)
    assert got[0] == tuple(rows[0])
    assert got[1:] == [(2 + 2 * i, list(row.values())) for i, row in enumerate(rows)]


def test_extract_field_limit_names_the_line(use, tmp_path):
    rows = [make_row(), make_row(address="x" * (LIMIT + 1))]
    path = write_csv(tmp_path / "x.csv.gz", rows)
    message = f"x.csv.gz: line 3: not valid CSV: {TOO_LARGE}"
    with pytest.raises(ExtractError, match=re.escape(message)):
        read_extract(path)
    path = write_csv(tmp_path / "h.csv", [], columns=["x" * (LIMIT + 1)])
    with pytest.raises(ExtractError, match=re.escape(f"h.csv: not a CSV extract: {TOO_LARGE}")):
        read_extract(path)


def test_truncated_gzip_names_the_line(compiled, reference, monkeypatch, tmp_path):
    rng = random.Random(5)
    rows = [person(i, address=str(rng.random()) * 3) for i in range(40_000)]
    whole = write_csv(tmp_path / "x.csv.gz", rows).read_bytes()
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    results = {}
    for impl in (compiled, reference):
        use_implementation(monkeypatch, impl)
        seen: list = []
        with pytest.raises(ExtractError, match="cannot read") as err:
            with Extract(str(path)) as extract:
                seen.extend(extract)
        results[impl.kind] = (len(seen), seen[-1], str(err.value))
    assert results["compiled"] == results["python"]
    count, (last_line, _), message = results["compiled"]
    assert 0 < count < len(rows) and f"line {last_line + 1}: cannot read" in message


# --- feed_build: the build's read loop ---------------------------------------------------------


def test_feed_build_fills_the_sorters_alike(compiled, reference, tmp_path):
    from lookup.ingest.build import _Sorters

    rows = [person(i) for i in range(200)]
    rows[3]["prev_card_no"] = "HT3019999999999"
    rows[5]["gender"] = "9"  # rejected
    rows[7]["cccd"] = "003185000007"  # data-quality flags 1 (sex digit) and 4 (province)
    rows[9]["address"] = "two\nlines"
    path = write_csv(tmp_path / "x.csv", rows, COLUMNS)
    results = {}
    for impl in (compiled, reference):
        rejected: list = []
        with open(path, "rb") as f, _Sorters(tmp_path / impl.kind) as sorters:
            lines = impl.csvrows.Rows(f)
            validator = impl.validate.RowValidator(lines.first())
            result = impl.csvrows.feed_build(
                lines,
                validator,
                sorters.people,
                sorters.bhxh,
                sorters.cards,
                sorters.renumbered,
                sorters.strings,
                7,
                lambda *reject, into=rejected: into.append(reject),
                print,
            )
            entries = [list(s.items()) for s in sorters.all()]
        results[impl.kind] = (result, rejected, entries, sorters.strings.texts)
    assert results["compiled"] == results["python"]
    (count, invalid, record_bytes, quality), rejected, entries, texts = results["compiled"]
    # People records are version 2 after their origin, their texts numbered in the table.
    assert {value[:2] for _, value in entries[0]} == {b"\x07\x02"}
    table = Strings(texts)
    people = {key: record.decode(value[1:], table) for key, value in entries[0]}
    row = rows[9]
    assert people[record.cccd_key(row["cccd"])].address == "two lines"
    assert {p.facility_code for p in people.values()} == {r["facility_code"] for r in rows}
    assert len(set(texts)) == len(texts)
    assert (count, invalid, quality) == (200, 1, (1, 0, 1, 0, 0, 0, 0))
    assert rejected == [(7, "gender", "gender: must be 1 (male), 2 (female) or 3 (unknown)")]
    # person(0): its tag is its line (2) and the origin, then its card's head.
    first = rows[0]
    tag = (2).to_bytes(4, "little") + b"\x07"
    head = card_head(first["card_no"].encode()).to_bytes(3, "big")
    bhxh = (record.bhxh_key(first["bhxh_code"]), record.cccd_key(first["cccd"]) + tag + head)
    assert len(entries[1]) == 199 and bhxh in entries[1]
    # The previous codes only, with the number of their row's card.
    assert entries[2] == [
        (
            card_key(row["prev_card_no"].encode()),
            record.cccd_key(row["cccd"])
            + (line).to_bytes(4, "little")
            + b"\x07"
            + record.bhxh_key(row["bhxh_code"]),
        )
        for line, row in sorted(
            ((line, row) for line, row in enumerate(rows, start=2) if row.get("prev_card_no")),
            key=lambda lr: card_key(lr[1]["prev_card_no"].encode()),
        )
        if line != 7
    ]
    # Of the card codes only row 3's previous one ends in another number than its card.
    assert [key for key, _ in entries[3]] == [b"HT3019999999999"]


def test_feed_build_finds_a_lone_byte_anywhere_in_a_value(compiled, reference, tmp_path):
    # Compiled, ASCII is checked eight bytes at a time before any UTF-8 check: a byte that is
    # not UTF-8 at any place of a value of any length must be found.
    from lookup.ingest.build import _Sorters

    rows, expected = [], []
    for length in range(1, 20):
        for at in range(length):
            for bad in (b"\x80", b"\xff"):
                name = bytearray(b"N" * length)
                name[at : at + 1] = bad
                rows.append(name)
                expected.append((len(rows) + 1, "full_name", "full_name: not valid UTF-8"))
    valid = {k: b'"' + v.encode() + b'"' for k, v in make_row().items()}  # quoted: commas
    lines = [",".join(COLUMNS).encode()]
    lines += [b",".join(name if c == "full_name" else valid[c] for c in COLUMNS) for name in rows]
    path = tmp_path / "x.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for impl in (compiled, reference):
        rejected: list = []
        with open(path, "rb") as f, _Sorters(tmp_path / impl.kind) as sorters:
            stream = impl.csvrows.Rows(f)
            validator = impl.validate.RowValidator(stream.first())
            impl.csvrows.feed_build(
                stream,
                validator,
                *sorters.all(),
                sorters.strings,
                0,
                lambda *reject, into=rejected: into.append(reject),
                lambda rows: None,
            )
        assert rejected == expected, impl.kind


# Values as an extract may carry them: valid ones, texts to normalise, and bytes that are not
# UTF-8 or not what the column wants; each written bare or quoted, with quotes doubled.
VALUE_BYTES = st.one_of(
    st.sampled_from(
        [b"", b"1", b"K2", b"vss", b"reduced", b"2026-02-29", b"1985-04", b"01832", b"01AB9"]
    ),
    # UTF-8 at its edges: overlong forms, surrogates, past U+10FFFF, cut short, and valid.
    st.sampled_from(
        [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xf0\x8f\xbf\xbf"]
        + [b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"a\xc3", b"\xe1\xbb", b"\xc3\xa9"]
        + [b"\xed\x9f\xbf", b"\xef\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf"]
    ).map(lambda v: b"Nguy" + v),
    st.builds(lambda v: v.encode(), st.sampled_from(list(make_row().values()))),
    st.text(alphabet=st.sampled_from('aĐ ễ\tx\u0301,"\n\r1-\x7f\u00a0'), max_size=12).map(
        str.encode
    ),
    st.binary(max_size=6),
    st.just(b"x" * (LIMIT + 1)),
)


@st.composite
def extract_bytes(draw: st.DrawFn) -> bytes:
    """An extract: the header, then rows of about as many values, each bare or quoted."""
    header = ",".join(COLUMNS).encode()
    lines = [header]
    valid = list(make_row().values())
    for _ in range(draw(st.integers(0, 6))):
        values = [v.encode() for v in valid]
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(values) - 1))
            values[at] = draw(VALUE_BYTES)
        values = values[: draw(st.sampled_from([len(values), len(values) - 1, len(values) + 1]))]
        if len(values) < len(valid) and draw(st.booleans()):
            values.append(b"extra")
            values.append(b"extra")
        fields = []
        for v in values:
            must = any(c in v for c in b'",\r\n')
            if must or draw(st.booleans()):
                fields.append(b'"' + v.replace(b'"', b'""') + b'"')
            else:
                fields.append(v)
        lines.append(b",".join(fields))
    end = draw(st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n"]))
    return end.join(lines) + draw(st.sampled_from([b"", end]))


@SETTINGS
@given(data=extract_bytes(), sizes=st.lists(st.integers(1, 64), max_size=4))
def test_feed_build_reads_any_bytes_alike(compiled, reference, tmp_path_factory, data, sizes):
    """The compiled loop validates most rows as bytes in the read buffer, the others as strs:
    what it rejects, how, and what it sorts are the reference's for any extract bytes."""
    from lookup.ingest.build import _Sorters

    results = {}
    for impl in (compiled, reference):
        rejected: list = []
        stream = io.BufferedReader(Trickle(data, sizes), buffer_size=8)
        with _Sorters(tmp_path_factory.mktemp(impl.kind) / "sort") as sorters:
            lines = impl.csvrows.Rows(stream)
            header = lines.first()
            try:
                result = impl.csvrows.feed_build(
                    lines,
                    impl.validate.RowValidator(header),
                    *sorters.all(),
                    sorters.strings,
                    0,
                    lambda *reject, into=rejected: into.append(reject),
                    lambda rows: None,
                )
                result += (lines.offset,)  # after an error only the message counts
            except csv.Error as exc:
                result = ("error", str(exc))
            entries = [list(sorter.items()) for sorter in sorters.all()]
        results[impl.kind] = (result, rejected, entries, sorters.strings.texts)
    assert results["compiled"] == results["python"]


def test_feed_build_refuses_a_delta_validator(use, tmp_path):
    sorters = [use.sorter.ExternalSorter(8, str(tmp_path)) for _ in range(4)]
    with pytest.raises(ValueError, match="delta"):
        use.csvrows.feed_build(
            use.csvrows.Rows(io.BytesIO(b"")),
            use.validate.RowValidator(["op", "cccd"], True),
            *sorters,
            Strings(),
            0,
            print,
            print,
        )


# --- pieces of a file: a build worker's range ---------------------------------------------------


def read_piece(impl, data: bytes, start: int, line: int, stop: int | None) -> tuple:
    """The rows of data[start:] from physical line `line`, up to `stop`; where they stopped."""
    stream = io.BufferedReader(Trickle(data[start:], [7, 3, 64]), buffer_size=8)
    rows = impl.csvrows.Rows(stream, line)
    if stop is not None:
        rows.stop_at(stop - start)
    got = list(rows)
    return got, start + rows.offset, rows.line


@SETTINGS
@given(
    rows=ROWS,
    line_end=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    cut=st.floats(0, 1),
)
@example(rows=[["h"], ["a"], [], ["b\nc"], ["d"]], line_end="\n", bom=False, cut=0.5)
def test_pieces_read_as_the_whole(compiled, reference, rows, line_end, bom, cut):
    """Rows up to the first row boundary at or past a cut, then the rows from there: the rows of
    the whole file, with their physical lines, wherever the cut falls (a quoted line end too)."""
    text = io.StringIO()
    csv.writer(text, lineterminator=line_end).writerows(rows)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode("utf-8", "surrogateescape")
    newline = data.find(b"\n", int(cut * len(data)))
    stop = newline + 1 if newline >= 0 else len(data)
    for impl in (compiled, reference):
        whole = [(line, values) for line, values in read_piece(impl, data, 0, 1, None)[0]]
        first, end, line = read_piece(impl, data, 0, 1, stop)
        assert end >= stop or end == len(data)
        rest, _, _ = read_piece(impl, data, end, line, None)
        assert first + rest == whole
        # Where a row starts at the cut, the line there is the line ends before it, plus one.
        if end == stop:
            assert line == impl.csvrows.count_line_ends(data[:stop]) + 1
    assert read_piece(compiled, data, 0, 1, stop) == read_piece(reference, data, 0, 1, stop)


def test_a_piece_keeps_a_bom_and_numbers_lines_from_its_first(impl):
    data = b"h\n\xef\xbb\xbfa,b\n\nc\n"
    assert read_piece(impl, data, 2, 2, None) == ([(2, ["\ufeffa", "b"]), (4, ["c"])], 12, 5)


@pytest.mark.parametrize(
    ("data", "ends"),
    [(b"", 0), (b"a", 0), (b"a\nb\r\nc\rd", 3), (b"\r\r\n\n\r", 4), (b"x\r", 1)],
)
def test_count_line_ends(impl, data, ends):
    assert impl.csvrows.count_line_ends(data) == ends
    assert impl.csvrows.count_line_ends(bytearray(data)) == ends


def test_line_at_counts_across_map_windows(impl, monkeypatch, tmp_path):
    use_implementation(monkeypatch, impl)
    monkeypatch.setattr(parallel, "COUNT_WINDOW", mmap.ALLOCATIONGRANULARITY)
    data = (b"ab\r\n" * 10 + b"\r" + b"x\r\n" + b"\n") * 2000
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    for offset in sorted({1, 4095, 4096, 4097, 8191, len(data) - 1, len(data)}):
        assert parallel.line_at(str(path), offset) == data[:offset].count(b"\n") + (
            data[:offset].count(b"\r") - data[:offset].count(b"\r\n") + 1
        )


CARD_CODES = st.builds(
    lambda group, level, digits: (group + level + digits).encode(),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    st.sampled_from("12345"),
    st.text("0123456789", min_size=12, max_size=12),
)


@given(a=CARD_CODES, b=CARD_CODES)
def test_card_keys_are_equal_when_the_codes_are(a, b):
    # The build's card check groups card codes by these keys (lookup/reference/csvrows.py), by
    # the number they end in first (where bhxh has it); the compiled read loop's keys are the
    # reference's (test_feed_build_fills_the_sorters_alike).
    assert len(card_key(a)) == 8
    assert (card_key(a) == card_key(b)) == (a == b)
    assert (card_key(a) < card_key(b)) == ((a[5:], a[:5]) < (b[5:], b[:5]))
    assert card_head(a) < 2**19 and int.from_bytes(card_key(a), "big") >> 19 == int(a[5:])
    assert card_code(card_key(a)) == a  # how the card check names a code held twice
