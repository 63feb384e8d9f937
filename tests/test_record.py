"""The record codec (docs/DESIGN.md 4) and the records the validators write."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookup.reference import dates, record
from lookup.reference.validate import normalise_text
from lookup.store.strings import Strings

from helpers.answers import plain_record
from helpers.rows import make_row, split

# --- the reference codec -------------------------------------------------------------------------

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
U32 = st.integers(1, 2**32 - 1)
CARD = st.builds(
    lambda g, level, digits: g + level + digits,
    st.text(UPPER, min_size=2, max_size=2),
    st.sampled_from("12345"),
    st.text(DIGITS, min_size=12, max_size=12),
)
# Any code points but surrogates (not encodable); the codec itself does not normalise.
STORED_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)

RECORDS = st.builds(
    record.Record,
    gender=st.sampled_from(record.GENDERS[1:]),
    status=st.sampled_from(record.STATUSES),
    managed_by=st.sampled_from(record.MANAGED_BY),
    region_code=st.sampled_from(record.REGIONS),
    dob=st.integers(0, 2**32 - 1),
    valid_from=st.integers(0, 2**32 - 1),
    valid_to=st.integers(0, 2**32 - 1),
    five_year_date=st.none() | U32,
    prev_valid_to=st.none() | U32,
    card_no=CARD,
    facility_code=st.text(DIGITS + UPPER, min_size=5, max_size=5),
    prev_card_no=st.none() | CARD,
    full_name=STORED_TEXT.filter(bool),
    address=st.none() | STORED_TEXT.filter(bool),
    issuer=st.none() | STORED_TEXT.filter(bool),
)


@settings(deadline=None)
@given(RECORDS)
def test_round_trip(rec):
    buf = record.encode(rec)
    assert record.decode(buf) == rec
    assert len(buf) == 67 + sum(
        len((t or "").encode()) for t in (rec.full_name, rec.address, rec.issuer)
    )


def test_layout():
    rec = record.Record(
        gender="female",
        status="reduced_stopped",
        managed_by="defence",
        region_code="K2",
        dob=19500300,
        valid_from=20260101,
        valid_to=20261231,
        five_year_date=20200101,
        prev_valid_to=None,
        card_no="TE1797912345678",
        facility_code="79C51",
        prev_card_no=None,
        full_name="Lê Thị Ánh",
        address=None,
        issuer="BHXH",
    )
    buf = record.encode(rec)
    name = "Lê Thị Ánh".encode()
    assert buf[:6] == bytes([1, 2, 6, 1, 2, 0])
    assert struct.unpack_from("<HHH", buf, 6) == (len(name), 0, 4)
    assert struct.unpack_from("<IIIII", buf, 12) == (19500300, 20260101, 20261231, 20200101, 0)
    assert buf[32:67] == b"TE1797912345678" + b"79C51" + b"\0" * 15
    assert buf[67:] == name + b"BHXH"
    assert rec.bhxh_code == "7912345678"


@pytest.mark.parametrize(
    ("buf", "message"),
    [
        (b"\x01" * 10, "record: 10 bytes; the header alone has 67"),
        (b"\x03" + bytes(66), "record: format version 3; this reader knows 1 and 2"),
    ],
)
def test_decode_rejects(buf, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        record.decode(buf)


def test_decode_rejects_a_length_mismatch():
    buf = record.encode(record.decode(_valid_record()))
    with pytest.raises(ValueError, match="header says"):
        record.decode(buf + b"x")


def _valid_record() -> bytes:
    from lookup.reference.validate import RowValidator

    columns, values = split(make_row())
    return RowValidator(columns).validate(values).record


@given(st.integers(0, 10**12 - 1))
def test_cccd_key(n):
    cccd = f"{n:012d}"
    key = record.cccd_key(cccd)
    assert len(key) == 8 and record.key_to_cccd(key) == cccd
    assert record.cccd_key(f"{n + 1:012d}") > key or n + 1 == 10**12  # keys sort as numbers


@given(st.integers(0, 10**10 - 1))
def test_bhxh_key(n):
    code = f"{n:010d}"
    assert record.key_to_bhxh(record.bhxh_key(code)) == code


def test_keys_keep_leading_zeros():
    assert record.cccd_key("001085012345") == bytes([0, 0, 0, 0, 0x40, 0xAB, 0xF9, 0x79])
    assert record.key_to_cccd(record.cccd_key("000000000001")) == "000000000001"


# --- what the validators write -------------------------------------------------------------------

NAME_CHARS = st.sampled_from(
    list("aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ àáảãạằắẳẵặầấẩẫậỳýỷỹỵ\t\u00a0\u0301\u0323")
)
NAME = st.text(NAME_CHARS, max_size=120).filter(lambda s: 0 < len(normalise_text(s)) <= 100)


def _date_text(y: int, m: int, d: int) -> str:
    return f"{y:04d}-{m:02d}-{d:02d}"


FULL_DATE = st.builds(
    lambda y, m, d: _date_text(y, m, min(d, dates.days_in_month(y, m))),
    st.integers(1800, 2299),
    st.integers(1, 12),
    st.integers(1, 31),
)
DOB = st.one_of(
    FULL_DATE,
    st.integers(1800, 2299).map(str),
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1800, 2299), st.integers(1, 12)),
)


@st.composite
def valid_rows(draw):
    bhxh = draw(st.text(DIGITS, min_size=10, max_size=10))
    card = draw(CARD)[:5] + bhxh
    valid_from, valid_to = sorted([draw(FULL_DATE), draw(FULL_DATE)])
    prev = draw(st.none() | CARD.filter(lambda c: c != card))
    return make_row(
        cccd=draw(st.text(DIGITS, min_size=12, max_size=12)),
        bhxh_code=bhxh,
        card_no=card,
        full_name=draw(NAME),
        dob=draw(DOB),
        gender=draw(st.sampled_from("123")),
        address=draw(st.sampled_from(["", "Hà Nội"]) | NAME),
        facility_code=draw(st.text(DIGITS, min_size=2, max_size=2))
        + draw(st.text(DIGITS + UPPER, min_size=3, max_size=3)),
        valid_from=valid_from,
        valid_to=valid_to,
        five_year_date=draw(st.just("") | FULL_DATE),
        region_code=draw(st.sampled_from(["", "K1", "K2", "K3"])),
        status=draw(st.sampled_from(("", *record.STATUSES))),
        managed_by=draw(st.sampled_from(("", *record.MANAGED_BY))),
        prev_card_no=prev or "",
        prev_valid_to=draw(FULL_DATE) if prev and draw(st.booleans()) else "",
        issuer=draw(st.just("") | NAME),
    )


def _packed(text: str) -> int | None:
    return dates.parse_dob(text) if text else None


@settings(max_examples=300, deadline=None)
@given(valid_rows())
def test_validator_records_decode_to_the_row(impl, row):
    columns, values = split(row)
    got = impl.validate.RowValidator(columns).validate(values)
    rec = record.decode(got.record)
    assert rec.full_name == normalise_text(row["full_name"])
    assert rec.address == (normalise_text(row["address"]) or None)
    assert rec.issuer == (normalise_text(row["issuer"]) or None)
    assert rec.gender == record.GENDERS[int(row["gender"])]
    assert rec.status == (row["status"] or "active")
    assert rec.managed_by == (row["managed_by"] or "vss")
    assert rec.region_code == (row["region_code"] or None)
    assert rec.dob == dates.parse_dob(row["dob"])
    assert dates.format_date(rec.dob) == row["dob"]
    assert (rec.valid_from, rec.valid_to) == (_packed(row["valid_from"]), _packed(row["valid_to"]))
    assert rec.five_year_date == _packed(row["five_year_date"])
    assert rec.prev_valid_to == _packed(row["prev_valid_to"])
    assert (rec.card_no, rec.bhxh_code) == (row["card_no"], row["bhxh_code"])
    assert rec.facility_code == row["facility_code"]
    assert rec.prev_card_no == (row["prev_card_no"] or None)
    assert record.key_to_cccd(got.cccd_key) == row["cccd"]
    assert record.key_to_bhxh(got.bhxh_key) == row["bhxh_code"]
    assert got.card_no == row["card_no"].encode()
    assert got.prev_card_no == (row["prev_card_no"].encode() or None)


# --- version 2: what a snapshot stores (DESIGN 4) --------------------------------------------
PACKED_DAY = st.dates(date(1800, 1, 1), date(2299, 12, 31)).map(
    lambda d: d.year * 10000 + d.month * 100 + d.day
)
PACKED_DOB = (
    PACKED_DAY
    | PACKED_DAY.map(lambda p: p // 100 * 100)
    | PACKED_DAY.map(lambda p: p // 10000 * 10000)
)
COMPACT_RECORDS = st.builds(
    lambda rec, **dates: replace(rec, **dates),
    RECORDS,
    dob=PACKED_DOB,
    valid_from=PACKED_DAY,
    valid_to=PACKED_DAY,
    five_year_date=st.none() | PACKED_DAY,
    prev_valid_to=st.none() | PACKED_DAY,
)


@settings(deadline=None)
@given(st.lists(COMPACT_RECORDS, min_size=1, max_size=5))
def test_compact_round_trip(recs):
    strings = Strings()
    stored = [record.compact(rec, strings) for rec in recs]
    table = Strings.from_bytes(strings.to_bytes())  # as a reader finds it
    assert [record.decode(buf, table) for buf in stored] == [replace(r, version=2) for r in recs]


def test_compact_layout():
    rec = record.Record(
        gender="female",
        status="reduced_stopped",
        managed_by="defence",
        region_code="K2",
        dob=19500300,
        valid_from=20260101,
        valid_to=20261231,
        five_year_date=None,
        prev_valid_to=20251231,
        card_no="TE1797912345678",
        facility_code="79C51",
        prev_card_no="TE1017912345678",
        full_name="Lê Thị Ánh",
        address="Số 5, Ngõ 7, Phường Bến Nghé, Quận 1, Hồ Chí Minh",
        issuer="BHXH",
    )
    strings = Strings([b"79C51"])
    buf = record.compact(rec, strings)
    name = "Lê Thị Ánh".encode()
    assert buf[:3] == bytes([2, 2 | 1 << 2 | 2 << 4 | 1 << 6, 6 | 1 << 4])
    assert buf[3:6] == (1950 << 9 | 3 << 5).to_bytes(3, "little")
    assert buf[12:15] == (2025 << 9 | 12 << 5 | 31).to_bytes(3, "little")  # no five_year_date
    assert buf[15:25] == b"TE179" + bytes.fromhex("7912345678")  # packed decimal
    assert buf[25:30] == b"TE101"  # the same number: not stored again
    own = "Số 5, Ngõ 7".encode()
    assert buf[30:] == bytes([len(name)]) + name + bytes([len(own)]) + own + bytes([2, 1, 3])
    assert strings.texts == [b"79C51", "Phường Bến Nghé, Quận 1, Hồ Chí Minh".encode(), b"BHXH"]


@pytest.mark.parametrize(
    ("address", "own", "locality"),
    [
        (None, "", None),
        ("Số 5", "Số 5", None),
        ("Số 5, Hà Nội", "Số 5", "Hà Nội"),
        ("Số 5, Phường A, Quận B, Hà Nội", "Số 5", "Phường A, Quận B, Hà Nội"),
        ("Số 5, Ngõ 7, Phường A, Hà Nội", "Số 5, Ngõ 7", "Phường A, Hà Nội"),  # 2025's map
        (
            "Thôn 1, Đặc khu Côn Đảo, Thành phố Hồ Chí Minh",
            "Thôn 1",
            "Đặc khu Côn Đảo, Thành phố Hồ Chí Minh",
        ),
        (
            "Ấp 2, Xã A, Thị xã B, Thành phố C, Tỉnh D",
            "Ấp 2, Xã A",
            "Thị xã B, Thành phố C, Tỉnh D",
        ),
        ("Xã A, Huyện B, Tỉnh C", "Xã A", "Huyện B, Tỉnh C"),  # something is the person's own
        ("1, 2, 3, 4, 5", "1, 2, 3, 4", "5"),  # no unit named: only the last part
        ("Số 5, Xã, Hà Nội", "Số 5, Xã", "Hà Nội"),  # "Xã" alone names no commune
        ("Số 5,Hà Nội", "Số 5,Hà Nội", None),  # no space: not a separator
    ],
)
def test_split_address(address, own, locality):
    assert record.split_address(address) == (own, locality)


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda b: b[:20], "record: a field runs past the end"),
        (lambda b: b + b"\x00", "record: .* bytes; its fields end at"),
        (lambda b: b[:1] + bytes([b[1] | 0x80]) + b[2:], "record: unknown flags"),
        (lambda b: b[:-1] + b"\x09", "record: string 9; the table has 1"),
    ],
)
def test_compact_decode_rejects(cut, message):
    strings = Strings()
    rec = record.decode(plain_record("DN4010100000001"))
    buf = record.compact(rec, strings)
    with pytest.raises(ValueError, match=message):
        record.decode(cut(buf), strings)


ADDRESSES = st.lists(
    st.sampled_from(
        ["Số 5", "Ngõ 7", "Phường Bến Nghé", "Quận 1", "Hồ Chí Minh", "", "Xã", "Thị xã Sơn Tây"]
        + ["Đặc khu Côn Đảo", "Thành phố Huế", "Huyện Ba Vì", "Xã Tản Lĩnh", "Thị trấn Tây Đằng"]
    ),
    max_size=6,
).map(", ".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(valid_rows(), ADDRESSES), min_size=1, max_size=8))
def test_the_writer_compacts_records_as_the_reference_does(rows):
    """compact.compact_records, compiled and plain: the same version-2 records and the same
    string table, in the same order (the texts numbered as met), from the validator's."""
    from lookup import _core

    items = []
    for n, (row, address) in enumerate(rows):
        columns, values = split({**row, "address": address})
        valid = _core.load("python").validate.RowValidator(columns).validate(values)
        items.append((n.to_bytes(8, "big"), valid.record))
    outputs = []
    for kind in ("compiled", "python"):
        strings = Strings()
        compacted = list(_core.load(kind).compact.compact_records(items, strings))
        outputs.append((compacted, strings.texts))
    assert outputs[0] == outputs[1]
    table = Strings.from_bytes(Strings(outputs[0][1]).to_bytes())
    for (_, wide), (_, compact) in zip(items, outputs[0][0], strict=True):
        assert record.decode(compact, table) == replace(record.decode(wide), version=2)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(valid_rows(), ADDRESSES), min_size=1, max_size=8),
    st.lists(st.sampled_from([b"48000", b"Ha Noi", b"BHXH Ha Noi", b"x"]), max_size=3),
)
def test_records_compacted_from_a_merge_match_the_reference(tmp_path_factory, rows, known):
    """The build's path: compact_records over a sorter's merge, which the writer pulls in C
    (the texts found by a table of its own), stores what the reference's records and string
    table hold, a table that already has texts included (a delta's)."""
    import lmdb

    from lookup import _core

    compiled = _core.load("compiled")
    items = []
    for n, (row, address) in enumerate(rows):
        columns, values = split({**row, "address": address})
        valid = _core.load("python").validate.RowValidator(columns).validate(values)
        items.append((n.to_bytes(8, "big"), valid.record))
    strings = Strings(list(dict.fromkeys(known)))
    expected = list(_core.load("python").compact.compact_records(items, strings))
    path = tmp_path_factory.mktemp("merge")
    in_place = Strings(list(dict.fromkeys(known)))
    with compiled.sorter.ExternalSorter(8, str(path), 300) as sorter:
        for k, v in items:
            sorter.add(k, v)
        with compiled.writer.SnapshotWriter(str(path / "db"), 1 << 24) as writer:
            people = compiled.compact.compact_records(sorter.items(), in_place)
            assert writer.append(b"people", people) == len(items)
    with lmdb.open(str(path / "db"), readonly=True, lock=False, max_dbs=4) as env:
        with env.begin(db=env.open_db(b"people", create=False)) as txn:
            assert list(txn.cursor()) == expected
    assert in_place.texts == strings.texts
    assert in_place.ids == strings.ids


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(valid_rows(), ADDRESSES), min_size=1, max_size=10), st.data())
def test_records_numbered_by_two_readers_and_renumbered_are_the_serial_build(
    tmp_path_factory, rows, data
):
    """A parallel build's processes number texts in tables of their own; the parent puts a
    worker's texts after its own and the writer renumbers the worker's records: the records and
    table are those one process reading every line makes. Compiled (a sorter's merge pulled by
    the writer in C, and plain iteration) and reference alike."""
    import lmdb

    from lookup import _core

    compiled, reference = _core.load("compiled"), _core.load("python")
    wide = []
    for n, (row, address) in enumerate(rows):
        columns, values = split({**row, "address": address})
        valid = reference.validate.RowValidator(columns).validate(values)
        wide.append((n.to_bytes(8, "big"), valid.record))
    serial = Strings()
    expected = list(reference.compact.compact_records(wide, serial))
    cut = data.draw(st.integers(0, len(wide)))
    parent, worker = Strings(), Strings()
    tagged = [(k, b"\x00" + v) for k, v in reference.compact.compact_records(wide[:cut], parent)]
    tagged += [(k, b"\x01" + v) for k, v in compiled.compact.compact_records(wide[cut:], worker)]
    maps = [None, [0, *map(parent.id, worker.texts)]]
    assert parent.texts == serial.texts
    for impl in (compiled, reference):
        assert list(impl.compact.renumber_records(iter(tagged), maps)) == expected
    path = tmp_path_factory.mktemp("renumber")
    with compiled.sorter.ExternalSorter(8, str(path), 300) as sorter:
        for k, v in tagged:
            sorter.add(k, v)
        with compiled.writer.SnapshotWriter(str(path / "db"), 1 << 24) as writer:
            people = compiled.compact.renumber_records(sorter.items(), maps)
            writer.append(b"people", people)
    with lmdb.open(str(path / "db"), readonly=True, lock=False, max_dbs=4) as env:
        with env.begin(db=env.open_db(b"people", create=False)) as txn:
            assert list(txn.cursor()) == expected


@pytest.mark.parametrize(
    ("value", "maps", "message"),
    [
        (b"", [None], "an empty value has no origin"),
        (b"\x02" + b"\x02" * 30, [None, None], "origin 2; 2 maps given"),
        (b"\x01\x02\x00", [None, [0]], "not a sound version-2 record"),
    ],
)
def test_renumbering_refuses_what_it_cannot_read(impl, value, maps, message):
    with pytest.raises(ValueError, match=message):
        list(impl.compact.renumber_records([(b"k" * 8, value)], maps))
