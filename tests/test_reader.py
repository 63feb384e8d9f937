"""Entitlement answers (docs/DESIGN.md 6, SPEC 3 and 3.1) on both implementations.

Every test runs on the compiled core and the plain-Python reference through the `impl` fixture:
result codes through every id kind, full bodies, previous cards, TE children's limits, batches,
bad dates, and snapshots that cannot be opened or hold entries a build never writes. That the two
implementations agree on random snapshots is tested in test_reader_agreement.py.
"""

from __future__ import annotations

import datetime
import os

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookup.errors import StoreError
from lookup.reference import record, rules

from helpers import rows as factory
from helpers.answers import DAY, ask, pasted, person, plain_record, write_raw

MESSAGE_205 = "Mã định danh không đúng định dạng"


def prev_code(row: dict, province: str = "79") -> str:
    """A previous card code for a row: same group, level and number, another province."""
    return row["card_no"][:3] + province + row["card_no"][5:]


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
# A card change on 2026-07-01: the old card covers up to the day before (SPEC 3.1 "Also");
# another whose old card ended with a gap before the new one.
ROWS["changing"] = person(
    50, valid_from="2026-07-01", prev_card_no=prev_code(person(50)), prev_valid_to="2026-06-30"
)
ROWS["gap"] = person(
    51, valid_from="2026-07-01", prev_card_no=prev_code(person(51)), prev_valid_to="2026-06-10"
)
# Levels by date (DOMAIN 2): CN 3 and LH 4 are level 2 from 2026-01-01; the group decides the
# ministry whatever managed_by says.
ROWS["near_poor"] = person(52, "CN", "3", valid_from="2025-01-01")
ROWS["aged_75"] = person(53, "LH", "4", valid_from="2025-01-01")
ROWS["changed_near_poor"] = person(
    54, "CN", "3", prev_card_no=prev_code(person(54, "CN", "3")), prev_valid_to="2026-12-31"
)
ROWS["qn_vss"] = person(55, "QN", "5")
ROWS["cy_police"] = person(56, "CY", "5", managed_by="police")
ROWS["ca_vss"] = person(57, "CA", "5")
ROWS["dn_defence"] = person(58, managed_by="defence")

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
            "facility_name": None,
            "facility_level": None,
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
        "facility_name": None,
        "facility_level": None,
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
        "facility_name": None,
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


def test_missing_database_and_manifest(impl, tmp_path):
    with pytest.raises(StoreError, match="no cards database"):
        impl.reader.SnapshotReader(write_raw(tmp_path / "a", dbs=("people", "bhxh")))
    with pytest.raises(StoreError, match="manifest"):
        impl.reader.SnapshotReader(write_raw(tmp_path / "b", manifest=b"[1]"))
    with pytest.raises(StoreError, match="manifest"):
        impl.reader.SnapshotReader(write_raw(tmp_path / "c", manifest=b"{"))


def test_100_for_index_entries_a_build_never_writes(impl, tmp_path):
    row = person(1)
    good = plain_record(row["card_no"])
    key = record.cccd_key(row["cccd"])
    bad_utf8 = good[: record.HEADER_SIZE] + b"\xc3("  # the 2-byte name is not UTF-8
    path = write_raw(
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
                "HT3010100000009",  # not in cards: bhxh by its suffix, to a record without it
                "DN4010100000008",  # the same, to nobody
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
        # The holder of the number has another code: nobody has this one.
        assert ask(opened, "HT3010100000001")["result"]["code"] == "050"


# Card codes (DESIGN 4). Format 2 indexes in `cards` only the previous codes that end in another
# number than the card's; any other code is found through bhxh by its last 10 digits. Format 1,
# which indexed every code, must answer the same (a rollback to an older snapshot).
CARD_ROWS = {
    "renewed": person(60, prev_card_no=prev_code(person(60)), prev_valid_to="2025-12-31"),
    "renumbered": person(61, prev_card_no="DN4790188888888", prev_valid_to="2026-12-31"),
}
CARD_ASKS = {
    CARD_ROWS["renewed"]["card_no"]: "000",
    CARD_ROWS["renewed"]["prev_card_no"]: "003",  # found through bhxh
    CARD_ROWS["renumbered"]["card_no"]: "000",
    CARD_ROWS["renumbered"]["prev_card_no"]: "004",  # found in cards
    "HT3" + CARD_ROWS["renewed"]["card_no"][3:]: "050",  # the number's holder has other codes
    "DN4010188888888": "050",  # the renumbered card's number, on a code nobody had
    "DN4010199999999": "050",  # a number nobody holds
}


@pytest.mark.parametrize("data_format", [1, 2])
def test_card_codes_through_cards_or_their_number(impl, tmp_path, data_format):
    rows = list(CARD_ROWS.values())
    path = factory.write_snapshot(str(tmp_path), rows, data_format=data_format)
    asked = list(CARD_ASKS)
    with impl.reader.SnapshotReader(path) as opened:
        assert {code: ask(opened, code)["result"]["code"] for code in asked} == CARD_ASKS
        batch, codes, _ = opened.answer_batch([pasted(code) for code in asked], DAY)
        assert orjson.loads(codes) == list(CARD_ASKS.values())
        bodies = orjson.loads(bytes(batch))["results"]
        assert bodies[1]["replacement"]["card_no"] == CARD_ROWS["renewed"]["card_no"]
        assert bodies[3]["person"]["cccd"] == CARD_ROWS["renumbered"]["cccd"]


@pytest.mark.slow
def test_a_10_gb_store_opens(impl, tmp_path):
    factory.write_snapshot(str(tmp_path), [ROWS["active"]])
    os.truncate(tmp_path / "data.mdb", 10 << 30)  # sparse: no disk used
    with impl.reader.SnapshotReader(str(tmp_path)) as opened:
        assert ask(opened, ROWS["active"]["cccd"])["result"]["code"] == "000"


@pytest.mark.parametrize("kind", KINDS)
def test_a_card_change_seen_by_any_id_answers_with_the_old_card(reader, kind):
    row = ROWS["changing"]
    body = ask(reader, ids_of("changing")[kind], 20260630, "01832")
    assert body["id_type"] == kind and body["result"]["code"] == "004"
    assert body["result"]["eligible"] is True
    assert body["card"]["card_no"] == row["prev_card_no"]
    assert body["card"]["valid_to"] == "2026-06-30" and body["card"]["status"] == "replaced"
    assert body["replacement"]["card_no"] == row["card_no"]
    assert body["replacement"]["valid_from"] == "2026-07-01"
    assert body["in_route"] is True
    # The next day the new card answers; before the old card's end it answered all along.
    assert ask(reader, ids_of("changing")[kind], 20260701)["result"]["code"] == "000"
    assert ask(reader, ids_of("changing")[kind], 20260101)["result"]["code"] == "004"


def test_a_card_change_is_the_old_cards_whatever_code_is_typed(reader):
    # DOMAIN 3: on those days the patient is covered by the old card, whatever id is typed.
    row = ROWS["changing"]
    for code in (row["card_no"], row["prev_card_no"]):
        body = ask(reader, code, 20260630)
        assert body["result"]["code"] == "004" and body["card"]["card_no"] == row["prev_card_no"]
    assert ask(reader, row["card_no"], 20260701)["result"]["code"] == "000"


@pytest.mark.parametrize("kind", KINDS)
def test_a_gap_between_cards_is_not_covered(reader, kind):
    assert ask(reader, ids_of("gap")[kind], 20260615)["result"]["code"] == "010"
    assert ask(reader, ids_of("gap")[kind], 20260610)["result"]["code"] == "004"


@pytest.mark.parametrize(
    ("name", "date", "level", "pct"),
    [
        ("near_poor", 20251231, 3, 95),
        ("near_poor", 20260101, 2, 100),
        ("aged_75", 20251231, 4, 80),
        ("aged_75", 20260615, 2, 100),
        ("level3", 20260615, 3, 95),  # HT keeps its level
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_the_level_in_force_on_the_date(reader, name, date, level, pct, kind):
    card = ask(reader, ids_of(name)[kind], date)["card"]
    assert (card["benefit_level"], card["coverage_pct"]) == (level, pct)
    assert card["card_no"] == ROWS[name]["card_no"]  # shown as stored


def test_the_level_in_force_for_an_old_card_code(reader):
    row = ROWS["changed_near_poor"]
    card = ask(reader, row["prev_card_no"], 20260615)["card"]
    assert (card["card_no"], card["benefit_level"], card["coverage_pct"]) == (
        row["prev_card_no"],
        2,
        100,
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [("qn_vss", "001"), ("cy_police", "001"), ("ca_vss", "002"), ("dn_defence", "001")],
)
@pytest.mark.parametrize("kind", KINDS)
def test_the_group_decides_the_ministry(reader, name, code, kind):
    assert ask(reader, ids_of(name)[kind])["result"]["code"] == code


REGISTRY = {
    "01832": ('Bệnh viện Đa khoa "Hà Nội"', "provincial"),
    "01C51": ("Trạm Y tế xã Tân Phú", "primary"),
}


def test_answers_name_the_registered_facility(reader):
    reader.facilities = REGISTRY
    try:
        card = ask(reader, ids_of("active")["cccd"])["card"]
        assert (card["facility_name"], card["facility_level"]) == REGISTRY["01832"]
        body = ask(reader, ROWS["replaced"]["prev_card_no"])
        assert body["card"]["facility_name"] is None  # the old card's facility is not known
        assert body["replacement"]["facility_name"] == REGISTRY["01832"][0]
        reader.facilities = {"79001": ("Bệnh viện Chợ Rẫy", "central")}  # 01832 unregistered
        card = ask(reader, ids_of("active")["cccd"])["card"]
        assert (card["facility_name"], card["facility_level"]) == (None, None)
    finally:
        reader.facilities = None
    assert reader.facilities is None
    assert ask(reader, ids_of("active")["cccd"])["card"]["facility_name"] is None


@settings(max_examples=100, deadline=None)
@given(codes=st.lists(st.from_regex(r"[0-9]{2}[0-9A-Z]{3}", fullmatch=True), max_size=300))
def test_the_facility_table_finds_every_code(compiled, reference, tmp_path_factory, codes):
    """The compiled table (open addressing) answers every registered code with its own entry,
    as the reference's dictionary does."""
    table = {code: (f"Trạm Y tế {i}", "primary") for i, code in enumerate(codes)}
    rows = [person(900 + i, facility_code=code) for i, code in enumerate(codes[:40])]
    directory = str(tmp_path_factory.mktemp("facilities"))
    factory.write_snapshot(directory, rows or [person(900)])
    answers = []
    for impl in (compiled, reference):
        with impl.reader.SnapshotReader(directory) as opened:
            opened.facilities = impl.reader.FacilityTable(table)
            answers.append([opened.answer(row["cccd"], DAY) for row in rows])
    assert answers[0] == answers[1]
    for row, answer in zip(rows, answers[0], strict=True):
        card = orjson.loads(answer)["card"]
        assert card["facility_name"] == table[row["facility_code"]][0]


@pytest.mark.parametrize("code", ["0183", "018321", 1832, "0183é"])
def test_a_facility_table_refuses_what_is_no_code(impl, code):
    with pytest.raises(ValueError, match="no 5-character facility code"):
        impl.reader.FacilityTable({code: ("x", "basic")})
