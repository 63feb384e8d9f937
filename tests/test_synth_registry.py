"""The synthetic country's facility registry (SPEC.md 1.4), the 2025 map (DOMAIN.md 1 and 6) and
the sex ratio of its children: `lookup synth --facilities`, issue 15 items 2 and 5.

The rules are restated here from the documents, independently of lookup.synth's own tables.
"""

from __future__ import annotations

import collections
import csv
import datetime
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import orjson
import pytest

from lookup.synth import COLUMNS, synthesize
from lookup.synth.people import PersonMaker
from lookup.synth.tables import PROVINCES as SYNTH_PROVINCES
from lookup.synth.world import World, calendar_for

AS_OF = datetime.date(2026, 3, 15)
ROWS = 20_000
MAP_DAY = "2025-07-01"

# DOMAIN.md 1: the old 2-digit codes (the CCCD's without the leading zero) and the 34 of 2025.
OLD_CODES = set(
    "01 02 04 06 08 10 11 12 14 15 17 19 20 22 24 25 26 27 30 31 33 34 35 36 37 38 40 42 44 45 46"
    " 48 49 51 52 54 56 58 60 62 64 66 67 68 70 72 74 75 77 79 80 82 83 84 86 87 89 91 92 93 94"
    " 95 96".split()
)
# New code: name, then its members (old code name); the unchanged ones are their own member.
NEW_MAP = """
01 Hà Nội; 04 Cao Bằng; 11 Điện Biên; 12 Lai Châu; 14 Sơn La; 20 Lạng Sơn; 22 Quảng Ninh;
38 Thanh Hóa; 40 Nghệ An; 42 Hà Tĩnh; 46 Huế = 46 Thừa Thiên Huế;
08 Tuyên Quang = 08 Tuyên Quang, 02 Hà Giang; 15 Lào Cai = 10 Lào Cai, 15 Yên Bái;
19 Thái Nguyên = 19 Thái Nguyên, 06 Bắc Kạn; 25 Phú Thọ = 25 Phú Thọ, 26 Vĩnh Phúc, 17 Hòa Bình;
24 Bắc Ninh = 27 Bắc Ninh, 24 Bắc Giang; 33 Hưng Yên = 33 Hưng Yên, 34 Thái Bình;
31 Hải Phòng = 31 Hải Phòng, 30 Hải Dương; 37 Ninh Bình = 37 Ninh Bình, 35 Hà Nam, 36 Nam Định;
44 Quảng Trị = 45 Quảng Trị, 44 Quảng Bình; 48 Đà Nẵng = 48 Đà Nẵng, 49 Quảng Nam;
51 Quảng Ngãi = 51 Quảng Ngãi, 62 Kon Tum; 52 Gia Lai = 64 Gia Lai, 52 Bình Định;
56 Khánh Hòa = 56 Khánh Hòa, 58 Ninh Thuận; 68 Lâm Đồng = 68 Lâm Đồng, 67 Đắk Nông, 60 Bình Thuận;
66 Đắk Lắk = 66 Đắk Lắk, 54 Phú Yên;
79 Hồ Chí Minh = 79 Hồ Chí Minh, 74 Bình Dương, 77 Bà Rịa - Vũng Tàu;
75 Đồng Nai = 75 Đồng Nai, 70 Bình Phước; 80 Tây Ninh = 72 Tây Ninh, 80 Long An;
92 Cần Thơ = 92 Cần Thơ, 94 Sóc Trăng, 93 Hậu Giang;
86 Vĩnh Long = 86 Vĩnh Long, 83 Bến Tre, 84 Trà Vinh; 82 Đồng Tháp = 87 Đồng Tháp, 82 Tiền Giang;
96 Cà Mau = 96 Cà Mau, 95 Bạc Liêu; 91 An Giang = 89 An Giang, 91 Kiên Giang
"""


def _parse_map() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Return (old code -> new code, new code -> name, old code -> name)."""
    new_of, new_name, old_name = {}, {}, {}
    for entry in NEW_MAP.replace("\n", " ").split(";"):
        head, _, members = entry.strip().partition(" = ")
        code, name = head.split(" ", 1)
        new_name[code] = name
        for member in members.split(", ") if members else [head]:
            old, old_title = member.split(" ", 1)
            new_of[old], old_name[old] = code, old_title
    return new_of, new_name, old_name


NEW_OF, NEW_NAME, OLD_NAME = _parse_map()
NEW_CODES = set(NEW_NAME)
# How addresses end: the two cities whose bare name would read as something else are written
# in full ("Hồ Chí Minh" is a person, "Huế" also the old city).
NEW_SUFFIX = {
    **NEW_NAME,
    "79": "Thành phố Hồ Chí Minh",
    "46": "Thành phố Huế",
}
OLD_SUFFIX = {**OLD_NAME, "79": "Thành phố Hồ Chí Minh"}
DISTRICT_KINDS = ("Huyện ", "Quận ", "Thị xã ", "Thành phố ")
COMMUNE_KINDS = ("Xã ", "Phường ", "Đặc khu ")
LEVELS = {"central", "provincial", "basic", "primary"}
CODE = re.compile(r"[0-9]{2}[0-9A-Z]{3}")
CCCD = re.compile(r"[0-9]{12}")
REGISTRY_HEADER = ["facility_code", "name", "province", "level", "officer_cccd", "officer_name"]


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def registry_problems(rows: list[list[str]]) -> list[str]:
    """Check registry rows against SPEC.md 1.4 and DOMAIN.md 1; return what is wrong."""
    problems = []
    seen: dict[str, tuple[str, str, str]] = {}
    finished: set[str] = set()  # codes whose rows have ended
    last = ""
    for n, row in enumerate(rows, 2):
        if len(row) != len(REGISTRY_HEADER):
            problems.append(f"line {n}: {len(row)} fields")
            continue
        code, name, province, level, officer, officer_name = row
        facility = (name, province, level)
        if not CODE.fullmatch(code):
            problems.append(f"line {n}: code {code!r}")
        if province not in OLD_CODES | NEW_CODES or province != code[:2]:
            problems.append(f"line {n}: province {province!r} of {code}")
        if level not in LEVELS:
            problems.append(f"line {n}: level {level!r}")
        if not name or name != " ".join(unicodedata.normalize("NFC", name).split()):
            problems.append(f"line {n}: name {name!r}")
        if seen.setdefault(code, facility) != facility:
            problems.append(f"line {n}: {code} is two facilities")
        if code != last:
            if code in finished:
                problems.append(f"line {n}: the rows of {code} are not together")
            finished.add(last)
            last = code
        if bool(officer) != bool(officer_name):
            problems.append(f"line {n}: officer half given")
        if officer and not (
            CCCD.fullmatch(officer) and officer[1:3] in OLD_CODES and officer[:1] == "0"
        ):
            problems.append(f"line {n}: officer cccd {officer!r}")
    return problems


@pytest.fixture(scope="module")
def country(tmp_path_factory):
    """A 20k-row extract with its delta and the registry, and the same extract without it."""
    d = tmp_path_factory.mktemp("country")
    summary = synthesize(
        str(d / "x.csv"),
        ROWS,
        seed=11,
        as_of=AS_OF,
        delta=str(d / "d.csv"),
        changes=2000,
        facilities=str(d / "f.csv"),
    )
    synthesize(str(d / "alone.csv"), ROWS, seed=11, as_of=AS_OF)
    return d, summary


@pytest.fixture(scope="module")
def registry(country):
    header, rows = read_csv(country[0] / "f.csv")
    assert header == REGISTRY_HEADER
    return rows


@pytest.fixture(scope="module")
def people(country):
    return [dict(zip(COLUMNS, row, strict=True)) for row in read_csv(country[0] / "x.csv")[1]]


# -- the registry (SPEC.md 1.4) ----------------------------------------------------------------
def test_the_registry_follows_spec_1_4(registry):
    assert registry_problems(registry) == []


def test_the_registry_holds_about_12851_codes_by_level(country, registry):
    levels = {row[0]: row[3] for row in registry}
    assert len(levels) == country[1]["facilities"] == 12_851  # DOMAIN.md 6
    count = collections.Counter(levels.values())
    assert 30 <= count["central"] <= 60
    assert 0.02 <= count["provincial"] / len(levels) <= 0.06
    assert 0.07 <= count["basic"] / len(levels) <= 0.16
    assert count["primary"] / len(levels) >= 0.75
    # Commune stations: letter codes (DOMAIN.md 1, `01C51`), at the primary level.
    stations = [row for row in registry if row[1].startswith("Trạm Y tế ")]
    assert len({row[0] for row in stations}) >= 0.6 * len(levels)
    assert all(not row[0][2:].isdigit() and row[3] == "primary" for row in stations)
    assert all(row[0][2:].isdigit() for row in registry if row[3] != "primary")


def test_registry_names_are_vietnamese_and_where_they_should_be(registry):
    names = {row[1]: row for row in registry}
    assert names["Bệnh viện Bạch Mai"][2:4] == ["01", "central"]
    assert names["Bệnh viện Chợ Rẫy"][2:4] == ["79", "central"]
    assert names["Bệnh viện Trung ương Huế"][2:4] == ["46", "central"]
    assert names["Bệnh viện Đa khoa tỉnh Nghệ An"][2:4] == ["40", "provincial"]
    assert names["Trung tâm Y tế huyện Diễn Châu"][2:4] == ["40", "basic"]
    assert names["Trạm Y tế phường Dịch Vọng"][2:4] == ["01", "primary"]
    central = {row[0]: row[2] for row in registry if row[3] == "central"}
    assert sum(p in ("01", "46", "79") for p in central.values()) >= 0.75 * len(central)
    for kind in ("Trạm Y tế xã ", "Trạm Y tế phường ", "Trung tâm Y tế huyện ", "Phòng khám "):
        assert sum(name.startswith(kind) for name in names) > 100, kind


def test_codes_follow_the_population(registry):
    """Codes per province of the 2025 map follow its population (a re-coded facility's two
    codes both count there)."""
    codes = collections.Counter(NEW_OF[code[:2]] for code in {row[0] for row in registry})
    people: collections.Counter[str] = collections.Counter()
    for p in SYNTH_PROVINCES:
        people[NEW_OF[p.cccd[1:]]] += p.population
    total = sum(people.values())
    central = collections.Counter(NEW_OF[row[0][:2]] for row in registry if row[3] == "central")
    for new, population in people.items():
        expected = 12_851 * population / total
        assert 0.8 * expected <= codes[new] - central[new] <= 1.2 * expected, new


def test_closed_provinces_facilities_have_both_codes(registry):
    """A facility of a province whose code closed keeps its old code (old cards carry it) and
    has one of its new province (new cards carry that)."""
    facilities = {row[0]: (row[1], row[3]) for row in registry}
    in_new: dict[tuple[str, str, str], int] = collections.Counter(
        (name, level, code[:2]) for code, (name, level) in facilities.items()
    )
    closed = [code for code in facilities if code[:2] not in NEW_CODES]
    assert len(closed) > 1000
    for code in closed:
        assert in_new[(*facilities[code], NEW_OF[code[:2]])] >= 1, code


def test_officers_are_registered_at_some_facilities(registry):
    staff = collections.defaultdict(list)
    for row in registry:
        if row[4]:
            staff[row[0]].append(row[4:])
    codes = {row[0] for row in registry}
    assert 0.1 * len(codes) <= len(staff) <= 0.5 * len(codes)
    assert all(1 <= len(people) <= 5 for people in staff.values())
    cccds = [cccd for people in staff.values() for cccd, _ in people]
    assert len(set(cccds)) == len(cccds)
    for people in staff.values():
        for cccd, name in people:
            # DOMAIN.md 1: century and sex digit, birth year of working age.
            year = {0: 1900, 1: 1900, 2: 2000, 3: 2000}[int(cccd[3])] + int(cccd[4:6])
            assert 1960 <= year <= 2005
            assert (" Thị " in name) <= (int(cccd[3]) % 2 == 1), (cccd, name)
            assert len(name.split()) >= 2


def test_the_registry_comes_from_the_seed_alone(tmp_path, country):
    folder, _ = country
    synthesize(str(tmp_path / "x.csv"), 10, seed=11, as_of=AS_OF, facilities=str(tmp_path / "f"))
    assert (tmp_path / "f").read_bytes() == (folder / "f.csv").read_bytes()
    # ... and writing it never changes the extract.
    assert (folder / "alone.csv").read_bytes() == (folder / "x.csv").read_bytes()
    synthesize(str(tmp_path / "y.csv"), 10, seed=12, facilities=str(tmp_path / "g"))
    assert (tmp_path / "g").read_bytes() != (folder / "f.csv").read_bytes()


def test_every_card_names_a_registered_facility(country, registry, people):
    codes = {row[0] for row in registry}
    assert {p["facility_code"] for p in people} <= codes
    _, delta = read_csv(country[0] / "d.csv")
    assert {row[8] for row in delta if row[0] == "upsert"} <= codes
    used = collections.Counter(p["facility_code"] for p in people)
    assert len(used) > 3000  # people spread over many facilities, not a handful
    levels = {row[0]: row[3] for row in registry}
    by_level = collections.Counter(levels[code] for code in used.elements())
    assert by_level["primary"] > by_level["basic"] > by_level["provincial"] > by_level["central"]


def test_the_cli_writes_the_registry(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "lookup", "synth", "--rows", "50", "--seed", "4", "--json"]
        + ["--out", str(tmp_path / "x.csv"), "--facilities", str(tmp_path / "f.csv")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    summary = orjson.loads(run.stdout)
    assert summary["facilities"] == 12_851 and summary["facilities_out"].endswith("f.csv")
    header, rows = read_csv(tmp_path / "f.csv")
    assert header == REGISTRY_HEADER and registry_problems(rows) == []


# -- the 2025 map (DOMAIN.md 1 and 6) ---------------------------------------------------------
def address_parts(address: str) -> list[str]:
    return address.split(", ")


def test_cards_issued_since_2025_07_01_are_on_the_new_map(people):
    new = [p for p in people if p["valid_from"] >= MAP_DAY]
    old = [p for p in people if p["valid_from"] < MAP_DAY]
    assert len(new) > 0.6 * ROWS and len(old) > 0.05 * ROWS
    for p in new:
        province = p["card_no"][3:5]
        assert province in NEW_CODES, p
        assert p["facility_code"][:2] == province, p
        if p["address"]:
            *street, unit, suffix = address_parts(p["address"])
            assert suffix == NEW_SUFFIX[province], p
            assert unit.startswith(COMMUNE_KINDS), p
            assert street and not any(part.startswith(DISTRICT_KINDS) for part in street), p
        assert not p["issuer"].startswith(("BHXH huyện", "BHXH quận", "BHXH thị xã")), p


def test_cards_issued_before_keep_the_old_codes_and_districts(people):
    old = [p for p in people if p["valid_from"] < MAP_DAY]
    for p in old:
        province = p["card_no"][3:5]
        assert province in OLD_CODES and p["facility_code"][:2] == province, p
        if p["address"]:
            *_, unit, district, suffix = address_parts(p["address"])
            assert suffix == OLD_SUFFIX[province], p
            assert unit.startswith(("Xã ", "Phường ")) and district.startswith(DISTRICT_KINDS), p
    closed = {p["card_no"][3:5] for p in old} - NEW_CODES
    assert len(closed) >= 10  # old cards of provinces whose code closed are still about


def test_new_cards_of_merged_provinces_take_the_seats_code(people):
    """A person whose birth (CCCD) and card were in an absorbed province before has the new
    province's code on a card issued since: most people live where they were born."""
    new = [p for p in people if p["valid_from"] >= MAP_DAY and p["cccd"][1:3] in OLD_CODES]
    moved = [p for p in new if p["cccd"][1:3] not in NEW_CODES]
    assert len(moved) > 0.2 * len(new)
    same = sum(NEW_OF[p["cccd"][1:3]] == p["card_no"][3:5] for p in new) / len(new)
    assert 0.75 <= same <= 0.95
    # Islands became special zones (đặc khu) in place of a commune.
    assert any(", Đặc khu " in p["address"] for p in new)


def test_babies_born_since_2025_07_01_have_new_codes_throughout(people):
    babies = [p for p in people if p["dob"] >= MAP_DAY]
    assert len(babies) > 50
    for p in babies:
        assert p["cccd"][1:3] in NEW_CODES and p["bhxh_code"][:2] in NEW_CODES, p


def test_the_delta_writes_cards_it_issues_on_the_new_map(country):
    _, rows = read_csv(country[0] / "d.csv")
    upserts = [dict(zip(COLUMNS, row[1:], strict=True)) for row in rows if row[0] == "upsert"]
    new = [p for p in upserts if p["valid_from"] >= MAP_DAY]
    assert len(new) > 0.5 * len(upserts)
    for p in new:
        assert p["card_no"][3:5] in NEW_CODES and p["facility_code"][:2] == p["card_no"][3:5]
        if p["address"]:
            assert address_parts(p["address"])[-1] == NEW_SUFFIX[p["card_no"][3:5]], p
    # A new card keeps the old one, with its old code, as the previous card.
    changed = [p for p in new if p["prev_card_no"] and p["prev_card_no"][3:5] not in NEW_CODES]
    assert changed


def test_both_maps_build_and_answer(tmp_path):
    """`lookup build` takes an extract with old and new cards, and both answer 000."""
    from lookup.ingest.build import build
    from lookup.query import Entitlements
    from lookup.store import DataDir

    extract = tmp_path / "x.csv"
    synthesize(str(extract), 3000, seed=5, as_of=AS_OF)
    data = DataDir(tmp_path / "data")
    summary = build(data, str(extract))
    assert summary["rejected"] == 0
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in read_csv(extract)[1]]
    eligible = [
        p
        for p in rows
        if p["status"] == "active"
        and p["managed_by"] == "vss"
        and p["valid_from"] <= AS_OF.isoformat() <= p["valid_to"]
        and not p["prev_card_no"]
    ]
    # A new card of someone born in a province whose code closed, and an old card with such a
    # closed code.
    new = next(
        p
        for p in eligible
        if p["valid_from"] >= MAP_DAY and p["cccd"][1:3] in OLD_CODES - NEW_CODES
    )
    old = next(
        p for p in eligible if p["valid_from"] < MAP_DAY and p["card_no"][3:5] not in NEW_CODES
    )
    with Entitlements.open_current(data) as entitlements:
        for p in (new, old):
            for key in (p["cccd"], p["card_no"]):
                answer = orjson.loads(entitlements.answer(key, AS_OF))
                assert answer["result"]["code"] == "000", (p, answer)
                assert answer["card"]["card_no"] == p["card_no"]
                assert answer["card"]["facility_code"] == p["facility_code"]


# -- children (DOMAIN.md 6: sex ratio at birth) -----------------------------------------------
def test_about_112_boys_per_100_girls_among_young_children():
    """Fixed seed, 60,000 children under 6: the ratio's standard error is about 0.01."""
    maker = PersonMaker(World(3), calendar_for(AS_OF), random.Random("ratio"), "extract", 0)
    rng = random.Random(1)
    block = maker.block(60_000, ages=[rng.randrange(6) for _ in range(60_000)])
    sexes = collections.Counter(block.columns[5])
    assert 1.08 <= sexes["1"] / sexes["2"] <= 1.16
    adults = maker.block(60_000, ages=[rng.randrange(25, 50) for _ in range(60_000)])
    sexes = collections.Counter(adults.columns[5])
    assert 0.97 <= sexes["1"] / sexes["2"] <= 1.08  # soldiers and police are mostly men
