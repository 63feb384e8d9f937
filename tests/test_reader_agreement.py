"""The compiled core and the plain-Python reference give the same answers and errors.

Hypothesis draws random snapshots and random stored text bytes, and both readers must answer
byte for byte alike (docs/DESIGN.md 6). A snapshot deep enough for branch and overflow pages
checks the compiled page walker (core/pagewalk.pxd) against mdb_get and the reference, and that a
damaged page raises StoreError.
"""

from __future__ import annotations

import datetime
import os
import tempfile

import lmdb
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lookup.errors import StoreError
from lookup.reference import record
from lookup.reference.validate import RowValidator
from lookup.store.strings import Strings

from helpers import rows as factory
from helpers.answers import DAY, ask, pasted, person, plain_record, write_raw

# --- compiled and reference agree on random snapshots ---------------------------------------

GROUP_LEVELS = [
    ("DN", "4"), ("HT", "3"), ("TE", "1"), ("CK", "2"), ("QN", "5"), ("GD", "4"),
    ("CN", "3"), ("LH", "4"), ("CY", "5"), ("CA", "5"), ("QN", "4"),
]  # fmt: skip


def _iso(day: datetime.date) -> str:
    return day.isoformat()


def _pack(day: datetime.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


dates = st.dates(datetime.date(2018, 1, 1), datetime.date(2031, 12, 31))


@st.composite
def rows(draw, n: int) -> dict:
    group, level = draw(st.sampled_from(GROUP_LEVELS))
    born = draw(st.dates(datetime.date(1900, 1, 1), datetime.date(2026, 12, 31)))
    dob = draw(st.sampled_from([_iso(born), _iso(born)[:7], _iso(born)[:4]]))
    start = draw(dates)
    end = draw(st.dates(start, datetime.date(2032, 12, 31)))
    overrides = {
        "dob": dob,
        "gender": draw(st.sampled_from("123")),
        "valid_from": _iso(start),
        "valid_to": _iso(end),
        "status": draw(st.sampled_from(record.STATUSES + ("active",) * 6)),
        "managed_by": draw(st.sampled_from(("vss",) * 4 + ("defence", "police"))),
        "five_year_date": draw(st.one_of(st.just(None), dates.map(_iso))),
        "region_code": draw(st.sampled_from([None, None, "K1", "K2", "K3"])),
        "issuer": draw(st.sampled_from([None, "BHXH Hà Nội", 'a "b" \\ c'])),
        "full_name": draw(st.sampled_from(["Nguyễn Văn An", "Đỗ Thị Ánh", 'Lê "Tí"', "A\\B"])),
        "facility_code": draw(st.sampled_from(["01832", "01C51", "79001"])),
    }
    if draw(st.booleans()):
        overrides["prev_card_no"] = f"{group}{level}79{n:010d}"
        overrides["prev_valid_to"] = draw(st.one_of(st.just(None), dates.map(_iso)))
    return person(n, group, level, cccd=f"001{n:09d}", **overrides)


@st.composite
def snapshots(draw):
    count = draw(st.integers(1, 6))
    people = [draw(rows(n)) for n in range(1, count + 1)]
    asked = []
    for row in people:
        for field in ("cccd", "bhxh_code", "card_no", "prev_card_no"):
            if field in row:
                asked.append(draw(st.sampled_from([row[field], pasted(row[field])])))
    asked += ["001000000099", "0100000099", "DN4790000000099", "bad", "DN6", ""]
    asked = draw(st.permutations(asked))
    extra = draw(st.lists(st.sampled_from(asked), max_size=4))  # duplicates
    return people, asked + extra


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=snapshots(),
    day=dates.map(_pack),
    facility=st.sampled_from([None, "01832", "01C51", "79001", "99999"]),
)
def test_compiled_and_reference_give_the_same_answers(compiled, reference, data, day, facility):
    people, asked = data
    with tempfile.TemporaryDirectory() as directory:
        factory.write_snapshot(directory, people)
        with (
            compiled.reader.SnapshotReader(directory) as fast,
            reference.reader.SnapshotReader(directory) as slow,
        ):
            for one in asked:
                got, expected = fast.answer(one, day, facility), slow.answer(one, day, facility)
                assert orjson.loads(got) == orjson.loads(expected)
                assert got == expected  # byte for byte, as DESIGN 6 promises
                coded = fast.answer_coded(one, day, facility)
                assert coded == (got, orjson.loads(got)["result"]["code"])
                assert coded == slow.answer_coded(one, day, facility)
            many = fast.answer_many(asked, day, facility)
            assert many == slow.answer_many(asked, day, facility)
            singles = [orjson.loads(fast.answer(i, day, facility)) for i in asked]
            assert orjson.loads(many) == singles
            batch = fast.answer_batch(asked, day, facility)
            assert batch == slow.answer_batch(asked, day, facility)
            assert batch[0] == b'{"results":' + many + b"}"
            codes = [b["result"]["code"] for b in singles]
            assert orjson.loads(batch[1]) == codes
            assert batch[2] == {code: codes.count(code) for code in set(codes)}


# The bytes around every UTF-8 rule: ASCII, continuation bytes, lead bytes and the lead bytes
# with narrowed second bytes (E0 overlongs, ED surrogates, F0 overlongs, F4 above U+10FFFF).
_UTF8_EDGES = st.sampled_from(
    [
        0x41,
        0x22,
        0x5C,
        0x0A,
        0x7F,
        0x80,
        0x8F,
        0x90,
        0x9F,
        0xA0,
        0xBF,
        0xC0,
        0xC1,
        0xC2,
        0xDF,
        0xE0,
        0xE1,
        0xED,
        0xEF,
        0xF0,
        0xF3,
        0xF4,
        0xF5,
        0xFF,
    ]
)
# Long enough that the 8-byte fast paths (core/jsonw.pxd, core/rules.pxd) meet every byte.
_TEXT_BYTES = st.one_of(
    st.binary(max_size=40),
    st.lists(_UTF8_EDGES, max_size=24).map(bytes),
    st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_TEXT_BYTES, address=_TEXT_BYTES, issuer=_TEXT_BYTES)
def test_compiled_and_reference_agree_on_stored_text_bytes(
    compiled, reference, name, address, issuer
):
    row = person(1)
    header = record.HEADER.pack(
        1,
        1,
        0,
        0,
        0,
        0,
        len(name),
        len(address),
        len(issuer),
        19850412,
        20260101,
        20261231,
        0,
        0,
        row["card_no"].encode(),
        b"01832",
        b"\0" * 15,
    )
    with tempfile.TemporaryDirectory() as directory:
        write_raw(
            directory, people=[(record.cccd_key(row["cccd"]), header + name + address + issuer)]
        )
        with (
            compiled.reader.SnapshotReader(directory) as fast,
            reference.reader.SnapshotReader(directory) as slow,
        ):
            got = fast.answer(row["cccd"], DAY)
            assert got == slow.answer(row["cccd"], DAY)
    valid = all(_decodes(text) for text in (name, address, issuer))
    assert orjson.loads(got)["result"]["code"] == ("000" if valid else "100")


def _compact(row: dict, strings: Strings) -> bytes:
    valid = RowValidator(list(row)).validate(list(row.values()))
    return record.compact(record.decode(valid.record), strings)


_COMPACT_ROWS = [
    person(1, address="Số 5, Phường A, Quận B, Hà Nội", prev_card_no="DN4790188888888"),
    person(1, prev_card_no="HT3790100000001", five_year_date="2020-01-01", region_code="K1"),
    person(1, address=None, issuer=None, dob="1985"),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# A card number's byte made 0xFF: halves that are not digits, which no card code has.
@example(_COMPACT_ROWS[0], [(21, 255)], 0, [])
@example(_COMPACT_ROWS[0], [(31, 255)], 0, [])
@given(
    st.sampled_from(_COMPACT_ROWS),
    st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=3),
    st.integers(-3, 3),
    st.lists(st.binary(max_size=8), max_size=2),
)
def test_compiled_and_reference_agree_on_damaged_compact_records(
    compiled, reference, row, flips, resize, extra_texts
):
    """A version-2 record with bytes changed, cut or added, over a table with texts of any
    bytes added: both readers give the same answer (100 for anything a build never writes)."""
    strings = Strings()
    stored = bytearray(_compact(row, strings))
    for at, value in flips:
        if at < len(stored):
            stored[at] = value
    stored = stored[: len(stored) + resize] if resize < 0 else stored + bytes(resize)
    strings.texts += extra_texts
    with tempfile.TemporaryDirectory() as directory:
        write_raw(
            directory,
            people=[(record.cccd_key(row["cccd"]), bytes(stored))],
            strings=strings.to_bytes(),
        )
        try:
            fast = compiled.reader.SnapshotReader(directory)
        except StoreError:  # a text that is not UTF-8: the table is damaged, for both
            with pytest.raises(StoreError):
                reference.reader.SnapshotReader(directory)
            return
        with fast, reference.reader.SnapshotReader(directory) as slow:
            for asked in (row["cccd"], row["card_no"]):
                assert fast.answer(asked, DAY) == slow.answer(asked, DAY)


def _decodes(text: bytes) -> bool:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- the page walker (core/pagewalk.pxd) against mdb_get and the reference ----------------------

BIG = "😀"  # 4 bytes of UTF-8: the longest texts a build accepts make a record of 2 KB


def _many_people() -> list[dict]:
    """Enough people for a tree of depth 3, some with records on LMDB overflow pages."""
    rows = []
    for n in range(1, 3001):
        group, level = GROUP_LEVELS[n % len(GROUP_LEVELS)]
        overrides = {
            "cccd": f"001{n:09d}",
            # Long enough for a deep tree: a street of the person's own (kept in the record);
            # now and then an address whose end goes to the string table.
            "address": f"Số {n} " + "đường Láng Hà Nội " * 9
            if n % 7
            else f"Số {n}, Phường {n % 13}, Quận Đống Đa, Hà Nội",
            "status": record.STATUSES[n % 7] if n % 3 == 0 else "active",
        }
        if n % 500 == 0:
            overrides.update(full_name=BIG * 100, address=BIG * 200, issuer=BIG * 200)
        if n % 4 == 0:
            overrides["prev_card_no"] = f"{group}{level}79{n:010d}"
        rows.append(person(n, group, level, **overrides))
    return rows


@pytest.fixture(scope="module")
def big_snapshot(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("big"))
    rows = _many_people()
    # Format 1: its records hold every text, and the longest need overflow pages (a version-2
    # record of the longest texts a build accepts is ~1.3 KB: it never does).
    factory.write_snapshot(directory, rows, data_format=1)
    env = lmdb.open(directory, readonly=True, lock=False, max_dbs=4)
    with env.begin() as txn:
        stat = txn.stat(env.open_db(b"people", txn=txn, create=False))
    env.close()
    # The point of this snapshot: branch pages above the leaves, and values on their own pages.
    assert stat["depth"] >= 3 and stat["overflow_pages"] > 0
    return directory, rows


def _all_ids(rows):
    asked = []
    for row in rows:
        asked += [row["cccd"], row["bhxh_code"], row["card_no"], row.get("prev_card_no", "x")]
    return asked + [f"001{n:09d}" for n in (0, 3001, 999999999)] + ["0100009999", "ZZ5999999999999"]


def test_page_walker_agrees_with_mdb_get_and_the_reference(compiled, reference, big_snapshot):
    directory, rows = big_snapshot
    asked = _all_ids(rows)
    with (
        compiled.reader.SnapshotReader(directory) as walker,
        compiled.reader.SnapshotReader(directory) as api,
        reference.reader.SnapshotReader(directory) as slow,
    ):
        assert walker._page_walker
        assert walker._people_leaf_index > 1  # the people descents start at their leaf
        api._use_lmdb_api()
        assert not api._page_walker
        for one in asked[::7]:
            expected = slow.answer(one, DAY, "01832")
            assert walker.answer(one, DAY, "01832") == expected
            assert api.answer(one, DAY, "01832") == expected
        for start in range(0, len(asked), 1000):
            chunk = asked[start : start + 1000]
            expected = slow.answer_batch(chunk, DAY, "01832")
            assert walker.answer_batch(chunk, DAY, "01832") == expected
            assert api.answer_batch(chunk, DAY, "01832") == expected
            assert b'{"results":' + walker.answer_many(chunk, DAY, "01832") + b"}" == expected[0]
        body = orjson.loads(walker.answer(rows[499]["cccd"], DAY))
        assert body["person"]["full_name"] == BIG * 100
        assert body["card"]["issuer"] == BIG * 200


def test_batch_output_grows_past_its_first_guess(compiled, reference, big_snapshot):
    # rows[499] has a name and an issuer of hundreds of characters: each answer is several KB,
    # far above the ~1 KB per answer the output starts with (core/reader.pyx ANSWER_GUESS).
    directory, rows = big_snapshot
    asked = [rows[499]["cccd"], rows[1]["cccd"]] * 40
    with (
        compiled.reader.SnapshotReader(directory) as fast,
        reference.reader.SnapshotReader(directory) as slow,
    ):
        body, codes, counts = fast.answer_batch(asked, DAY)
        assert len(body) > 1024 * len(asked)
        assert (body, codes, counts) == slow.answer_batch(asked, DAY)
        assert fast.answer_many(asked, DAY) == slow.answer_many(asked, DAY)


def test_answer_many_of_one_id_many_times(compiled, big_snapshot):
    directory, rows = big_snapshot
    with compiled.reader.SnapshotReader(directory) as opened:
        bodies = orjson.loads(opened.answer_many([rows[10]["bhxh_code"]] * 1000, DAY))
    assert len(bodies) == 1000
    assert {b["person"]["cccd"] for b in bodies} == {rows[10]["cccd"]}


def test_mdb_get_when_the_layout_is_not_the_walkers(compiled, reference, tmp_path):
    # An integer-keyed people database orders keys as native integers, not as bytes: the
    # walker refuses it at open and mdb_get answers.
    row = person(1)
    key = record.cccd_key(row["cccd"])
    rec = plain_record(row["card_no"])
    env = lmdb.open(str(tmp_path), map_size=1 << 24, max_dbs=4, lock=False, lib_version=0)
    with env.begin(write=True) as txn:
        txn.put(key, rec, db=env.open_db(b"people", txn=txn, integerkey=True))
        txn.put(record.bhxh_key(row["bhxh_code"]), key, db=env.open_db(b"bhxh", txn=txn))
        txn.put(row["card_no"].encode(), key, db=env.open_db(b"cards", txn=txn))
        txn.put(b"manifest", b'{"id": "int"}', db=env.open_db(b"meta", txn=txn))
    env.close()
    with (
        compiled.reader.SnapshotReader(str(tmp_path)) as fast,
        reference.reader.SnapshotReader(str(tmp_path)) as slow,
    ):
        assert not fast._page_walker
        for one in (row["cccd"], row["bhxh_code"], row["card_no"], "001085999999"):
            assert fast.answer(one, DAY) == slow.answer(one, DAY)
        assert orjson.loads(fast.answer(row["card_no"], DAY))["result"]["code"] == "000"
        both = [row["cccd"], "x"]
        assert fast.answer_many(both, DAY) == slow.answer_many(both, DAY)


def test_a_damaged_page_raises_store_error(compiled, big_snapshot, tmp_path):
    directory, rows = big_snapshot
    with open(os.path.join(directory, "data.mdb"), "rb") as original:
        data = bytearray(original.read())
    victim = rows[1500]
    # The leaf page holding the victim's record: its node pointers now point past the page.
    page = data.index(victim["card_no"].encode() + b"01832") // 4096
    nodes = (int.from_bytes(data[page * 4096 + 12 : page * 4096 + 14], "little") - 16) // 2
    for i in range(nodes):
        data[page * 4096 + 16 + 2 * i : page * 4096 + 18 + 2 * i] = b"\xf0\xff"
    (tmp_path / "data.mdb").write_bytes(bytes(data))
    with compiled.reader.SnapshotReader(str(tmp_path)) as opened:
        assert opened._page_walker
        with pytest.raises(StoreError, match="damaged"):
            opened.answer(victim["cccd"], DAY)
        with pytest.raises(StoreError, match="damaged"):
            opened.answer_many([rows[0]["cccd"], victim["bhxh_code"]], DAY)
        assert ask(opened, rows[0]["cccd"])["result"]["code"] in ("000", "110", "120", "121")
