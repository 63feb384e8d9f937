"""Entitlement answers (docs/DESIGN.md 6, SPEC 3 and 3.1) on both implementations, and their
agreement on random snapshots."""

from __future__ import annotations

import datetime
import os
import tempfile

from helpers import rows as factory
import lmdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookup.errors import StoreError
from lookup.reference import record, rules

DAY = 20260615  # inside the default 2026 card window
MESSAGE_205 = "Mã định danh không đúng định dạng"


def person(n: int, group: str = "DN", level: str = "4", **overrides: str | None) -> dict:
    """A valid row for person number n: its own CCCD, social insurance number and card code."""
    bhxh = f"01{n:08d}"
    ids = {"cccd": f"001085{n:06d}", "bhxh_code": bhxh, "card_no": f"{group}{level}01{bhxh}"}
    return factory.make_row(**{**ids, **overrides})


def prev_code(row: dict, province: str = "79") -> str:
    """A previous card code for a row: same group, level and number, another province."""
    return row["card_no"][:3] + province + row["card_no"][5:]


def pasted(code: str) -> str:
    """The id as a hospital pastes it: spaced out, lower case (DOMAIN 1)."""
    return " " + " ".join(code[i : i + 4] for i in range(0, len(code), 4)).lower() + "\t"


ROWS = {
    "active": person(1),
    "defence": person(2, "QN", "5", managed_by="defence"),
    "police": person(3, "CA", "5", managed_by="police"),
    "revoked": person(4, status="revoked"),
    "reduced": person(5, status="reduced"),
    "out_province": person(6, status="reduced_out_province"),
    "in_province": person(7, status="reduced_in_province"),
    "rejoined": person(8, status="reduced_rejoined"),
    "stopped": person(9, status="reduced_stopped"),
    "year_only": person(10, dob="1950", gender="2", five_year_date="2024-03-01"),
    "month_only": person(11, dob="1950-03", gender="3", region_code="K2", issuer=None),
    "level1": person(12, "CC", "1"),
    "level2": person(13, "CK", "2"),
    "level3": person(14, "HT", "3"),
    "level5": person(15, "CY", "5"),
    "quoted": person(16, full_name='Lê "Tí" \\ Nguyễn'),
}
# Previous cards (rule 3): one whose window ended 2025-12-31, and one with no known end whose
# person is also defence-managed and revoked, which rule 3 answers before.
ROWS["replaced"] = person(20, prev_card_no=prev_code(person(20)), prev_valid_to="2025-12-31")
ROWS["replaced_no_end"] = person(
    21, prev_card_no=prev_code(person(21)), managed_by="defence", status="revoked"
)
# TE children (DOMAIN 3): covered until the later of the day before 72 months and
# 30 September of the year they turn 6; a partial birth date counts as its latest day.
TE_BIRTHS = {
    "te_february": "2020-02-10",  # 72 months 2026-02-10: 30 September wins
    "te_november": "2020-11-20",  # 72 months 2026-11-20: the day before, 2026-11-19, wins
    "te_leap_day": "2020-02-29",  # 72 months fall on 2026-02-28
    "te_october_1": "2020-10-01",  # the day before 72 months is 30 September itself
    "te_year_only": "2020",  # counts as 2020-12-31: until 2026-12-30
    "te_month_only": "2020-11",  # counts as 2020-11-30: until 2026-11-29
    "te_february_only": "2020-02",  # counts as 2020-02-29: until 2026-09-30
}
for _n, (_name, _dob) in enumerate(TE_BIRTHS.items(), start=30):
    ROWS[_name] = person(_n, "TE", "1", dob=_dob, cccd=f"001220{_n:06d}")
# A TE card that ends before the child's limit: valid_to stays the last day.
ROWS["te_short_card"] = person(40, "TE", "1", dob="2020-11-20", valid_to="2026-06-30")

UNKNOWN = {
    "cccd": "001085999999",
    "bhxh_code": "0199999999",
    "card_no": "DN4010199999999",
}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    return factory.write_snapshot(str(tmp_path_factory.mktemp("snap")), list(ROWS.values()))


@pytest.fixture
def reader(impl, snapshot):
    with impl.reader.SnapshotReader(snapshot) as opened:
        yield opened


def ask(reader, id: str, date: int = DAY, facility: str | None = None) -> dict:
    return orjson.loads(reader.answer(id, date, facility))


def ids_of(name: str) -> dict[str, str]:
    row = ROWS[name]
    return {"cccd": row["cccd"], "bhxh_code": row["bhxh_code"], "card_no": row["card_no"]}


KINDS = ("cccd", "bhxh_code", "card_no")


def result(body: dict) -> tuple[str, bool, str, str]:
    r = body["result"]
    return r["code"], r["eligible"], r["message"], r["message_en"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("paste", [False, True], ids=["clean", "pasted"])
@pytest.mark.parametrize(
    ("name", "code", "eligible", "message_en"),
    [
        ("active", "000", True, "Card valid"),
        (
            "defence",
            "001",
            True,
            "Card managed by the Ministry of National Defence insurance office: "
            "check the card and ID by hand",
        ),
        (
            "police",
            "002",
            True,
            "Card managed by the Ministry of Public Security insurance office: "
            "check the card and ID by hand",
        ),
        ("revoked", "110", False, "Card revoked"),
        ("reduced", "120", False, "Card cut off"),
        ("out_province", "121", False, "Card cut off: moved out of the province"),
        ("in_province", "122", False, "Card cut off: moved within the province"),
        ("rejoined", "123", False, "Card cut off: re-joined the same employer"),
        ("stopped", "124", False, "Card cut off: stopped participating"),
    ],
)
def test_result_codes_through_every_id_kind(reader, kind, paste, name, code, eligible, message_en):
    asked = ids_of(name)[kind]
    asked = pasted(asked) if paste else asked
    body = ask(reader, asked)
    assert body["id"] == asked
    assert body["id_type"] == kind
    assert body["result"]["code"] == code
    assert body["result"]["eligible"] is eligible
    assert body["result"]["message_en"] == message_en
    assert body["person"]["cccd"] == ROWS[name]["cccd"]
    assert body["card"]["card_no"] == ROWS[name]["card_no"]
    assert body["replacement"] is None
    assert body["snapshot"] == "test-snapshot"


def test_vietnamese_messages(reader):
    assert result(ask(reader, ids_of("active")["cccd"]))[2] == "Thẻ còn giá trị sử dụng"
    assert result(ask(reader, ids_of("defence")["cccd"]))[2] == (
        "Thẻ do BHXH Bộ Quốc phòng quản lý, đề nghị kiểm tra thẻ và giấy tờ tùy thân"
    )
    assert result(ask(reader, ids_of("stopped")["cccd"]))[2] == "Thẻ đã báo giảm: dừng tham gia"


@pytest.mark.parametrize("kind", KINDS)
def test_010_before_and_after_the_window(reader, kind):
    asked = ids_of("active")[kind]
    assert result(ask(reader, asked, 20251231)) == (
        "010",
        False,
        "Thẻ chưa đến thời hạn sử dụng",
        "Card not yet valid on this date",
    )
    assert result(ask(reader, asked, 20270101)) == (
        "010",
        False,
        "Thẻ hết giá trị sử dụng",
        "Card expired",
    )
    # The window is inclusive at both ends (DOMAIN 3).
    assert ask(reader, asked, 20260101)["result"]["code"] == "000"
    assert ask(reader, asked, 20261231)["result"]["code"] == "000"


@pytest.mark.parametrize("kind", KINDS)
def test_050_unknown_person(reader, kind):
    body = ask(reader, pasted(UNKNOWN[kind]), facility="01832")
    assert body["id_type"] == kind
    assert result(body) == ("050", False, "Không có thông tin thẻ", "No card found")
    assert body["person"] is body["card"] is body["replacement"] is body["in_route"] is None
    assert body["date"] == "2026-06-15"


@pytest.mark.parametrize(
    ("asked", "message_en"),
    [
        ("", "id: empty"),
        ("00108501234", "id: 11 digits; a CCCD has 12, a social insurance number 10"),
        ("0010850123\u0664", "id: non-ASCII character U+0664 at position 11"),
        ("DN6010100000001", "id: card code character 3 (benefit level) must be 1-5"),
    ],
)
def test_205_malformed_id(reader, asked, message_en):
    body = ask(reader, asked, facility="01832")
    assert body["id"] == asked
    assert body["id_type"] is None
    assert result(body) == ("205", False, MESSAGE_205, message_en)
    assert body["person"] is body["card"] is body["replacement"] is body["in_route"] is None
    assert body["snapshot"] == "test-snapshot"


def test_205_keeps_the_id_as_asked_with_lone_surrogates_replaced(reader):
    body = ask(reader, 'a"\\\udc80\x01')
    assert body["id"] == 'a"\\\ufffd\x01'
    assert body["result"]["message_en"] == "id: non-ASCII character U+DC80 at position 4"


def test_full_body_of_a_valid_card(reader):
    body = ask(reader, "001085000001", facility="01832")
    assert body == {
        "id": "001085000001",
        "id_type": "cccd",
        "result": {
            "code": "000",
            "eligible": True,
            "message": "Thẻ còn giá trị sử dụng",
            "message_en": "Card valid",
        },
        "date": "2026-06-15",
        "person": {
            "cccd": "001085000001",
            "bhxh_code": "0100000001",
            "full_name": "Nguyễn Văn An",
            "dob": "1985-04-12",
            "gender": "male",
            "address": "Số 12 phố Huế, phường Hai Bà Trưng, Hà Nội",
        },
        "card": {
            "card_no": "DN4010100000001",
            "group": "DN",
            "benefit_level": 4,
            "coverage_pct": 80,
            "province": "01",
            "facility_code": "01832",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "five_year_date": None,
            "region_code": None,
            "status": "active",
            "issuer": "BHXH thành phố Hà Nội",
            "managed_by": "vss",
            "valid_until": "2026-12-31",
            "prev_card_no": None,
        },
        "replacement": None,
        "in_route": True,
        "snapshot": "test-snapshot",
    }
    assert list(body) == [
        "id",
        "id_type",
        "result",
        "date",
        "person",
        "card",
        "replacement",
        "in_route",
        "snapshot",
    ]


def test_partial_birth_dates_and_optional_fields(reader):
    year_only = ask(reader, ids_of("year_only")["bhxh_code"])
    assert year_only["person"]["dob"] == "1950"
    assert year_only["person"]["gender"] == "female"
    assert year_only["card"]["five_year_date"] == "2024-03-01"
    month_only = ask(reader, ids_of("month_only")["card_no"])
    assert month_only["person"]["dob"] == "1950-03"
    assert month_only["person"]["gender"] == "unknown"
    assert month_only["card"]["region_code"] == "K2"
    assert month_only["card"]["issuer"] is None


def test_names_are_escaped(reader):
    assert ask(reader, ids_of("quoted")["cccd"])["person"]["full_name"] == 'Lê "Tí" \\ Nguyễn'


@pytest.mark.parametrize(
    ("name", "level", "pct"),
    [
        ("level1", 1, 100),
        ("level2", 2, 100),
        ("level3", 3, 95),
        ("active", 4, 80),
        ("level5", 5, 100),
    ],
)
def test_coverage_pct_per_benefit_level(reader, name, level, pct):
    card = ask(reader, ids_of(name)["card_no"])["card"]
    assert (card["group"], card["benefit_level"], card["coverage_pct"]) == (
        ROWS[name]["card_no"][:2],
        level,
        pct,
    )
    assert card["province"] == "01"


@pytest.mark.parametrize(
    ("facility", "in_route"), [(None, None), ("01832", True), ("01833", False), ("79832", False)]
)
@pytest.mark.parametrize("kind", KINDS)
def test_in_route(reader, kind, facility, in_route):
    assert ask(reader, ids_of("active")[kind], facility=facility)["in_route"] is in_route


@pytest.mark.parametrize(
    ("date", "code", "message_en"),
    [
        (20260615, "003", "Old card expired; a new card was issued"),
        (20260101, "003", "Old card expired; a new card was issued"),
        (20251231, "004", "Old card still valid; a new card was issued"),  # its last day
        (20250101, "004", "Old card still valid; a new card was issued"),
    ],
)
def test_003_004_previous_card(reader, date, code, message_en):
    row = ROWS["replaced"]
    body = ask(reader, pasted(row["prev_card_no"]), date, "01832")
    assert body["id_type"] == "card_no"
    assert body["result"]["code"] == code
    assert body["result"]["eligible"] is (code == "004")
    assert body["result"]["message_en"] == message_en
    assert body["person"]["cccd"] == row["cccd"]
    assert body["card"] == {
        "card_no": row["prev_card_no"],
        "group": "DN",
        "benefit_level": 4,
        "coverage_pct": 80,
        "province": "79",
        "facility_code": None,
        "valid_from": None,
        "valid_to": "2025-12-31",
        "five_year_date": None,
        "region_code": None,
        "status": "replaced",
        "issuer": None,
        "managed_by": "vss",
        "valid_until": "2025-12-31",
        "prev_card_no": None,
    }
    assert body["replacement"] == {
        "card_no": row["card_no"],
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "facility_code": "01832",
    }
    assert body["in_route"] is True  # compared with the replacement's facility


def test_previous_card_without_end_is_003_before_other_rules(reader):
    row = ROWS["replaced_no_end"]
    body = ask(reader, row["prev_card_no"], 20200101, "01833")
    assert body["result"]["code"] == "003"
    assert body["card"]["valid_to"] is body["card"]["valid_until"] is None
    assert body["card"]["managed_by"] == "defence"
    assert body["in_route"] is False
    # The current code of the same person answers by rules 4-7.
    assert ask(reader, row["card_no"])["result"]["code"] == "001"


def te_window(reader, name: str) -> tuple[str, str, str]:
    """(valid_until, code on that day, code the day after) for a TE child."""
    body = ask(reader, ids_of(name)["cccd"])
    until = body["card"]["valid_until"]
    last = int(until.replace("-", ""))
    next_day = datetime.date.fromisoformat(until) + datetime.timedelta(days=1)
    after = int(next_day.strftime("%Y%m%d"))
    return (
        until,
        ask(reader, ids_of(name)["cccd"], last)["result"]["code"],
        result(ask(reader, ids_of(name)["cccd"], after))[3],
    )


@pytest.mark.parametrize(
    ("name", "valid_until"),
    [
        ("te_february", "2026-09-30"),
        ("te_november", "2026-11-19"),
        ("te_leap_day", "2026-09-30"),
        ("te_october_1", "2026-09-30"),
        ("te_year_only", "2026-12-30"),
        ("te_month_only", "2026-11-29"),
        ("te_february_only", "2026-09-30"),
    ],
)
def test_te_children_until_72_months_or_30_september(reader, name, valid_until):
    until, code_on_last_day, message_day_after = te_window(reader, name)
    assert until == valid_until
    assert code_on_last_day == "000"
    assert message_day_after == "Card expired"
    body = ask(reader, ids_of(name)["card_no"])
    assert body["card"]["valid_to"] == "2026-12-31"
    assert body["person"]["dob"] == TE_BIRTHS[name]


def test_te_card_ending_before_the_limit(reader):
    card = ask(reader, ids_of("te_short_card")["bhxh_code"])["card"]
    assert card["valid_to"] == card["valid_until"] == "2026-06-30"


def test_te_limit_reference_arithmetic():
    te_limit = rules.te_limit
    assert te_limit(20200229) == 20260930
    assert te_limit(20201120) == 20261119
    assert te_limit(20201002) == 20261001
    assert te_limit(20200000) == 20261230
    assert te_limit(20200200) == 20260930


def test_answer_many_in_request_order(reader):
    asked = [
        ids_of("revoked")["cccd"],
        "bad id",
        pasted(ids_of("active")["card_no"]),
        UNKNOWN["bhxh_code"],
        ids_of("revoked")["cccd"],  # duplicates answer twice
        ROWS["replaced"]["prev_card_no"],
        ids_of("active")["bhxh_code"],
    ]
    bodies = orjson.loads(reader.answer_many(asked, DAY, "01832"))
    assert [b["id"] for b in bodies] == asked
    codes = [b["result"]["code"] for b in bodies]
    assert codes == ["110", "205", "000", "050", "110", "003", "000"]
    assert bodies[1]["result"]["message_en"] == (
        "id: 5 characters; expected a 12-digit CCCD, a 10-digit social insurance number "
        "or a 15-character card code"
    )
    assert (
        reader.answer_many(asked, DAY, "01832")
        == b"[" + b",".join(reader.answer(i, DAY, "01832") for i in asked) + b"]"
    )


def test_answer_many_empty_and_tuple(reader):
    assert reader.answer_many([], DAY) == b"[]"
    assert orjson.loads(reader.answer_many(("x",), DAY))[0]["result"]["code"] == "205"


def test_snapshot_id_and_closed_reader(impl, snapshot):
    opened = impl.reader.SnapshotReader(snapshot)
    assert opened.snapshot_id == "test-snapshot"
    opened.close()
    opened.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        opened.answer("001085000001", DAY)
    with pytest.raises(StoreError, match="closed"):
        opened.answer_many(["001085000001"], DAY)


@pytest.mark.parametrize("date", [20260230, 20261300, 0, 17991231, 2026061, -20260615])
def test_date_must_be_real(reader, date):
    with pytest.raises(ValueError, match="is not a real yyyymmdd date"):
        reader.answer("001085000001", date)
    with pytest.raises(ValueError, match="is not a real yyyymmdd date"):
        reader.answer_many(["001085000001"], date)


def test_missing_snapshot(impl, tmp_path):
    with pytest.raises(StoreError, match="no data.mdb"):
        impl.reader.SnapshotReader(str(tmp_path / "nowhere"))
    with pytest.raises(StoreError, match="no data.mdb"):
        impl.reader.SnapshotReader(str(tmp_path))


def test_corrupt_snapshot(impl, tmp_path):
    (tmp_path / "data.mdb").write_bytes(b"not an lmdb file" * 1024)
    with pytest.raises(StoreError, match="cannot open the store"):
        impl.reader.SnapshotReader(str(tmp_path))


def test_truncated_snapshot(impl, tmp_path):
    factory.write_snapshot(str(tmp_path), list(ROWS.values()))
    os.truncate(tmp_path / "data.mdb", 16384)
    with pytest.raises(StoreError, match="truncated"):
        impl.reader.SnapshotReader(str(tmp_path))


def _write_raw(directory, people=(), bhxh=(), cards=(), manifest=b'{"id": "raw"}', dbs=None):
    env = lmdb.open(str(directory), map_size=1 << 24, max_dbs=4, lock=False, lib_version=0)
    with env.begin(write=True) as txn:
        for name, items in (("people", people), ("bhxh", bhxh), ("cards", cards)):
            if dbs is None or name in dbs:
                db = env.open_db(name.encode(), txn=txn)
                for key, value in items:
                    txn.put(key, value, db=db)
        if manifest is not None:
            txn.put(b"manifest", manifest, db=env.open_db(b"meta", txn=txn))
    env.close()
    return str(directory)


def test_missing_database_and_manifest(impl, tmp_path):
    with pytest.raises(StoreError, match="no cards database"):
        impl.reader.SnapshotReader(_write_raw(tmp_path / "a", dbs=("people", "bhxh")))
    with pytest.raises(StoreError, match="manifest"):
        impl.reader.SnapshotReader(_write_raw(tmp_path / "b", manifest=b"[1]"))
    with pytest.raises(StoreError, match="manifest"):
        impl.reader.SnapshotReader(_write_raw(tmp_path / "c", manifest=b"{"))


def test_100_for_index_entries_a_build_never_writes(impl, tmp_path):
    row = person(1)
    good = record.encode(
        record.Record(
            gender="male",
            status="active",
            managed_by="vss",
            region_code=None,
            dob=19850412,
            valid_from=20260101,
            valid_to=20261231,
            five_year_date=None,
            prev_valid_to=None,
            card_no=row["card_no"],
            facility_code="01832",
            prev_card_no=None,
            full_name="An",
            address=None,
            issuer=None,
        )
    )
    key = record.cccd_key(row["cccd"])
    bad_utf8 = good[: record.HEADER_SIZE] + b"\xc3("  # the 2-byte name is not UTF-8
    path = _write_raw(
        tmp_path,
        people=[
            (key, good),
            (record.cccd_key("001085000002"), good[:40]),  # cut short
            (record.cccd_key("001085000003"), bad_utf8),
            (record.cccd_key("001085000004"), b"\x02" + good[1:]),  # unknown format version
        ],
        bhxh=[
            (record.bhxh_key("0100000009"), key),  # the record's card does not end in it
            (record.bhxh_key("0100000008"), record.cccd_key("001085999999")),  # nobody
            (record.bhxh_key("0100000007"), b"short"),
            (record.bhxh_key("0100000001"), key),
        ],
        cards=[
            (b"DN4010100000009", key),  # neither its card nor its previous card
            (b"DN4010100000002", record.cccd_key("001085000002")),
        ],
    )
    with impl.reader.SnapshotReader(path) as opened:
        codes = {
            asked: ask(opened, asked, facility="01832")
            for asked in [
                "0100000009",
                "0100000008",
                "0100000007",
                "DN4010100000009",
                "DN4010100000002",
                "001085000002",
                "001085000003",
                "001085000004",
            ]
        }
        for body in codes.values():
            assert result(body) == ("100", False, "Lỗi dữ liệu thẻ", "Card data error")
            assert body["person"] is body["card"] is body["in_route"] is None
        assert ask(opened, "0100000001")["result"]["code"] == "000"
        assert ask(opened, "001085000001")["person"]["full_name"] == "An"


@pytest.mark.slow
def test_a_10_gb_store_opens(impl, tmp_path):
    factory.write_snapshot(str(tmp_path), [ROWS["active"]])
    os.truncate(tmp_path / "data.mdb", 10 << 30)  # sparse: no disk used
    with impl.reader.SnapshotReader(str(tmp_path)) as opened:
        assert ask(opened, ROWS["active"]["cccd"])["result"]["code"] == "000"


# --- compiled and reference agree on random snapshots ---------------------------------------

GROUP_LEVELS = [("DN", "4"), ("HT", "3"), ("TE", "1"), ("CK", "2"), ("QN", "5"), ("GD", "4")]


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
        _write_raw(
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


def _decodes(text: bytes) -> bool:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- the page walker (core/lmdb.pxd) against mdb_get and the reference ----------------------

BIG = "😀"  # 4 bytes of UTF-8: the longest texts a build accepts make a record of 2 KB


def _many_people() -> list[dict]:
    """Enough people for a tree of depth 3, some with records on LMDB overflow pages."""
    rows = []
    for n in range(1, 3001):
        group, level = GROUP_LEVELS[n % len(GROUP_LEVELS)]
        overrides = {
            "cccd": f"001{n:09d}",
            "address": f"Số {n} " + "đường Láng, Hà Nội " * 9,
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
    factory.write_snapshot(directory, rows)
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
    rec = record.encode(
        record.Record(
            gender="male",
            status="active",
            managed_by="vss",
            region_code=None,
            dob=19850412,
            valid_from=20260101,
            valid_to=20261231,
            five_year_date=None,
            prev_valid_to=None,
            card_no=row["card_no"],
            facility_code="01832",
            prev_card_no=None,
            full_name="An",
            address=None,
            issuer=None,
        )
    )
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
