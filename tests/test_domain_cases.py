"""What a hospital desk and a VSS officer would catch (issue 15, SPEC 3.1 "Also" and "Gateway
specifics", DOMAIN 2-4), through the command line and a real server on loopback: a card change
looked up by CCCD, levels by date, the group's ministry, the registered facility's name, the
gateway's own codes 051-053, name variants, impossible birth dates, `gtTheDen` of a child's
card, and Vietnamese `ghiChu`."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from lookup.cli import main as lookup_main
from lookup.service.clients import md5_hex
from lookup.web.app import ServiceConfig
from lookup.web.gateway_rules import ANSWER_FIELDS

from helpers.facilities import write_registry
from helpers.server import LiveServer, add_key, build_data, days_from_today, dmy, person

USER, PASSWORD = "01832_BV", "mật khẩu"
OFFICER = {"hoTenCb": "Phạm Thị Dung", "cccdCb": "001190000777"}
FROM, TO = days_from_today(-200), days_from_today(165)


def number(n: int) -> str:
    return f"01{n:08d}"


def row(n: int, group: str = "DN", level: str = "4", **overrides: str) -> dict[str, str]:
    """Person n, valid today unless overridden: 'Nguyễn Văn An', born 12/04/1985."""
    card = {"card_no": f"{group}{level}01{number(n)}"}
    return person(n, **{"valid_from": FROM, "valid_to": TO, **card, **overrides})


ROWS = {
    "plain": row(1),
    # A new card from tomorrow; the old one covers today (DOMAIN 3: a card change).
    "changing": row(
        2,
        valid_from=days_from_today(1),
        prev_card_no=f"DN479{number(2)}",
        prev_valid_to=days_from_today(0),
    ),
    "near_poor": row(3, "CN", "3", valid_from="2025-01-01", valid_to="2026-12-31"),
    "aged_75": row(4, "LH", "4", valid_from="2025-01-01", valid_to="2026-12-31"),
    "qn_vss": row(5, "QN", "5"),  # managed_by left empty: the group says defence
    "cy_vss": row(6, "CY", "5"),
    "ca_vss": row(7, "CA", "5"),
    "hoa": row(8, full_name="Nguyễn Thị Hòa", gender="2"),
    "thuy": row(9, full_name="Lê Thị Thuý", gender="2"),
    "apostrophe": row(10, full_name="H’Hen Niê", gender="2"),
    "do": row(11, full_name="Đỗ Văn Bình"),
    # A child turning 6 soon: the card's printed end is later than the TE limit.
    "child": row(
        12,
        "TE",
        "1",
        dob=days_from_today(-6 * 365 + 20),
        cccd="001220000012",
        valid_to=days_from_today(300),
    ),
    "elsewhere": row(13, facility_code="79024"),
}


def ids(name: str) -> dict[str, str]:
    r = ROWS[name]
    return {"cccd": r["cccd"], "bhxh_code": r["bhxh_code"], "card_no": r["card_no"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("domain")
    data = build_data(folder, list(ROWS.values()))
    registry = [r for r in _registry() if r["facility_code"] != "01832" or not r["officer_cccd"]]
    assert lookup_main(["facilities", "import", str(write_registry(folder / "f.csv", registry)),
                        "--data", str(data.root)]) == 0  # fmt: skip
    add_key(data, "bv-01832", ["his"], username=USER, password=PASSWORD)
    api_key = add_key(data, "his-api", ["his"])
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as live:
        live.data, live.api_key, live.folder = data, api_key, folder  # type: ignore[attr-defined]
        reply = live.post("/api/token/take", form={"username": USER, "password": md5_hex(PASSWORD)})
        live.login = reply.json()["APIKey"]  # type: ignore[attr-defined]
        yield live


def _registry() -> list[dict[str, str]]:
    """The test registry, Bạch Mai (01832) without officers: the gateway checks stay open."""
    from helpers.facilities import REGISTRY

    rows = [dict(r) for r in REGISTRY if r["facility_code"] != "01832"]
    rows.append({"facility_code": "01832", "name": "Bệnh viện Bạch Mai", "province": "01",
                 "level": "central", "officer_cccd": "", "officer_name": ""})  # fmt: skip
    return rows


def rest(server, asked: str, date: str | None = None) -> dict:
    query = f"?date={date}" if date else ""
    reply = server.get(f"/v1/entitlements/{asked}{query}", key=server.api_key)
    assert reply.status == 200, reply.body
    return reply.json()


def cli(server, asked: str, date: str | None = None) -> dict:
    argv = [sys.executable, "-m", "lookup", "get", asked, "--data", str(server.data.root)]
    out = subprocess.run(argv + (["--date", date] if date else []), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def gateway(server, ma_the: str, ho_ten: str = "Nguyễn Văn An", ngay_sinh: str = "12/04/1985"):
    key = server.login
    query = {
        "token": key["access_token"],
        "id_token": key["id_token"],
        "username": USER,
        "password": md5_hex(PASSWORD),
    }
    fields = {"maThe": ma_the, "hoTen": ho_ten, "ngaySinh": ngay_sinh, **OFFICER}
    reply = server.post("/api/egw/KQNhanLichSuKCB2024", query=query, form=fields)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert list(body) == list(ANSWER_FIELDS)
    return body


ASK = pytest.mark.parametrize("ask", [rest, cli], ids=["http", "cli"])


# -- a card change seen by CCCD ------------------------------------------------------------------
@ASK
@pytest.mark.parametrize("kind", ["cccd", "bhxh_code", "card_no"])
def test_the_last_day_of_an_old_card_is_covered_by_it(server, ask, kind):
    body = ask(server, ids("changing")[kind])
    assert body["result"]["code"] == "004" and body["result"]["eligible"] is True
    assert body["card"]["card_no"] == ROWS["changing"]["prev_card_no"]
    assert body["replacement"]["card_no"] == ROWS["changing"]["card_no"]
    assert body["replacement"]["facility_name"] == "Bệnh viện Bạch Mai"
    tomorrow = ask(server, ids("changing")[kind], days_from_today(1))
    assert tomorrow["result"]["code"] == "000"


@pytest.mark.parametrize("kind", ["cccd", "card_no"])
def test_the_gateway_answers_a_card_change(server, kind):
    body = gateway(server, ROWS["changing"][kind])
    assert body["maKetQua"] == "004"
    assert body["maTheCu"] == ROWS["changing"]["prev_card_no"]
    assert body["maTheMoi"] == ROWS["changing"]["card_no"]
    assert body["gtTheTuMoi"] == dmy(days_from_today(1))
    assert body["tenDKBDMoi"] == "Bệnh viện Bạch Mai"


# -- levels by date, the group's ministry --------------------------------------------------------
@ASK
@pytest.mark.parametrize(
    ("name", "date", "level", "pct"),
    [
        ("near_poor", "2025-12-31", 3, 95),
        ("near_poor", "2026-01-01", 2, 100),
        ("aged_75", "2025-06-30", 4, 80),
        ("aged_75", "2026-03-01", 2, 100),
    ],
)
def test_near_poor_and_aged_75_cards_are_level_2_from_2026(server, ask, name, date, level, pct):
    card = ask(server, ids(name)["card_no"], date)["card"]
    assert (card["benefit_level"], card["coverage_pct"]) == (level, pct)
    assert card["card_no"] == ROWS[name]["card_no"]


@ASK
@pytest.mark.parametrize(
    ("name", "code"), [("qn_vss", "001"), ("cy_vss", "001"), ("ca_vss", "002")]
)
def test_the_group_decides_the_ministry(server, ask, name, code):
    assert ask(server, ids(name)["cccd"])["result"]["code"] == code


def test_the_gateway_answers_the_ministry_of_the_group(server):
    assert gateway(server, ROWS["qn_vss"]["card_no"])["maKetQua"] == "001"


# -- the registered facility ---------------------------------------------------------------------
@ASK
def test_answers_name_the_registered_facility(server, ask):
    card = ask(server, ids("plain")["cccd"])["card"]
    assert (card["facility_name"], card["facility_level"]) == ("Bệnh viện Bạch Mai", "central")
    card = ask(server, ids("elsewhere")["cccd"])["card"]
    assert (card["facility_name"], card["facility_level"]) == ("Bệnh viện Chợ Rẫy", "central")


def test_a_new_registry_is_served_without_a_restart(server):
    renamed = [dict(r, name="Bệnh viện Chợ Rẫy (cơ sở 2)") if r["facility_code"] == "79024"
               else r for r in _registry()]  # fmt: skip
    path = write_registry(server.folder / "g.csv", renamed)
    assert lookup_main(["facilities", "import", str(path), "--data", str(server.data.root)]) == 0
    import time

    deadline = time.monotonic() + 5
    while rest(server, ids("elsewhere")["cccd"])["card"]["facility_name"] != renamed[0]["name"]:
        assert time.monotonic() < deadline, "the new registry was not served within 5 s"
        time.sleep(0.1)


# -- the gateway's own codes ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ma_the", "code"),
    [
        ("DN40101000000X1", "051"),  # 15 characters, a letter among the digits
        ("ĐN4010100000001", "051"),
        ("DN4000100000001", "052"),  # province 00
        ("DN4990100000001", "052"),  # province 99
        ("DN6010100000001", "053"),  # level 6
        ("dn0 0101 0000 0001", "053"),  # level 0, pasted
        ("DN4010199999999", "050"),  # a sound code nobody holds
        ("DN401010000000", "205"),  # 14 characters
    ],
)
def test_malformed_card_codes_answer_the_gateways_codes(server, ma_the, code):
    body = gateway(server, ma_the)
    assert body["maKetQua"] == code
    assert all(body[f] is None for f in ANSWER_FIELDS if f not in ("maKetQua", "ghiChu", "maThe"))


@pytest.mark.parametrize(
    ("name", "asked", "code"),
    [
        ("hoa", "Nguyễn Thị Hoà", "000"),  # the other tone placement
        ("thuy", "LÊ THỊ THÚY", "000"),
        ("apostrophe", "H'Hen Niê", "000"),
        ("do", "Do Van Binh", "061"),  # marks lost: the first letter agrees as D
        ("do", "Đỗ Văn Minh", "061"),
        ("hoa", "Trần Thị Hòa", "060"),
    ],
)
def test_name_variants(server, name, asked, code):
    r = ROWS[name]
    body = gateway(server, r["card_no"], asked, dmy(r["dob"]))
    assert body["maKetQua"] == code


@pytest.mark.parametrize("dob", ["05/00/1985", "31/02/1985", "00/04/1985", "00/1985", "12041985x"])
def test_an_impossible_birth_date_is_205(server, dob):
    body = gateway(server, ROWS["plain"]["card_no"], ngay_sinh=dob)
    assert body["maKetQua"] == "205" and body["ghiChu"].startswith("Sai định dạng tham số")


def test_gt_the_den_of_a_child_is_the_last_covered_day(server):
    r = ROWS["child"]
    body = gateway(server, r["card_no"], ngay_sinh=dmy(r["dob"]))
    valid_until = rest(server, r["cccd"])["card"]["valid_until"]
    assert valid_until < r["valid_to"]  # the TE limit comes first
    assert body["gtTheDen"] == dmy(valid_until)


# -- ghiChu is Vietnamese ------------------------------------------------------------------------
ENGLISH = re.compile(r"\b(required|must|digits?|characters?|card|code|invalid|expected|not)\b")


@pytest.mark.parametrize(
    "fields",
    [
        {"maThe": ""},
        {"maThe": "12345"},
        {"maThe": "DN4010100000001", "hoTen": ""},
        {"maThe": "DN4010100000001", "ngaySinh": "1985-04-12"},
        {"maThe": "DN4010100000001", "ngaySinh": "05/00/1985"},
        {"maThe": "DN40101000000X1"},
        {"maThe": "DN4990100000001"},
        {"maThe": "DN6010100000001"},
        {"maThe": "DN4010199999999"},
        {"maThe": "DN4010100000001", "hoTen": "Trần Văn An"},
        {"maThe": "DN4010100000001"},
    ],
)
def test_every_ghi_chu_is_vietnamese(server, fields):
    args = {
        "ho_ten": fields.get("hoTen", "Nguyễn Văn An"),
        "ngay_sinh": fields.get("ngaySinh", "12/04/1985"),
    }
    body = gateway(server, fields["maThe"], **args)
    assert body["ghiChu"] and not ENGLISH.search(body["ghiChu"].lower()), body["ghiChu"]
