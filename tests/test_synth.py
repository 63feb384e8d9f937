"""The synthetic population (SPEC.md 2, `lookup synth`): files, rules, realism, reproducibility.

The checks of DESIGN.md 5 are restated here independently of lookup.reference.validate, and the
reference validator is run over the same rows as a second opinion.
"""

from __future__ import annotations

import collections
import csv
import datetime
import gzip
import io
import re
import unicodedata
from pathlib import Path

import pytest

from lookup import synth
from lookup.synth import COLUMNS, DELTA_COLUMNS, POPULATION_COLUMNS, synthesize, today_in_vietnam
from lookup.synth.changes import strip_tone_marks
from lookup.synth.register import ERROR_KINDS
from lookup.synth.world import Serials, World

AS_OF = datetime.date(2026, 3, 15)
ROWS = 20_000
MISMATCH = 0.1
CHANGES = 2_000

# DOMAIN.md 1
PROVINCES = set(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035"
    " 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072"
    " 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)
LEVEL = {
    g: lv
    for lv, gs in (
        (1, "CC TE"),
        (2, "CK CB KC HN DT DK XD BT TS"),
        (3, "HT TC CN"),
        (4, "DN HX CH NN TK HC XK TB NO CT XB TN CS XN MS HD TQ TA TY HG LS PV HS SV GB GD"),
        (5, "QN CA CY"),
    )
    for g in gs.split()
}
STATUSES = {
    "active",
    "revoked",
    "reduced",
    "reduced_out_province",
    "reduced_in_province",
    "reduced_rejoined",
    "reduced_stopped",
}
# DOMAIN.md 1: the members of each province of the 2025 map whose code closed -> the new code.
NEW_OF = {
    old: new
    for new, olds in (
        ("08", "02"),
        ("15", "10"),
        ("19", "06"),
        ("25", "26 17"),
        ("24", "27"),
        ("33", "34"),
        ("31", "30"),
        ("37", "35 36"),
        ("44", "45"),
        ("48", "49"),
        ("51", "62"),
        ("52", "64"),
        ("56", "58"),
        ("68", "67 60"),
        ("66", "54"),
        ("79", "74 77"),
        ("75", "70"),
        ("80", "72"),
        ("92", "94 93"),
        ("86", "83 84"),
        ("82", "87"),
        ("96", "95"),
        ("91", "89"),
    )
    for old in olds.split()
}
CCCD = re.compile(r"[0-9]{12}")
BHXH = re.compile(r"[0-9]{10}")
CARD = re.compile(r"[A-Z]{2}[1-5][0-9]{12}")
FACILITY = re.compile(r"[0-9]{2}[0-9A-Z]{3}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DOB = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")


# -- helpers ---------------------------------------------------------------------------------
def read_csv(path: str) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def norm(text: str) -> str:
    """DESIGN.md 5 text normalisation."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def row_problem(row: list[str]) -> str | None:
    """Return the first DESIGN.md 5 rule the row breaks (row-level rules only), or None."""
    if len(row) != len(COLUMNS):
        return "row"
    r = dict(zip(COLUMNS, row, strict=True))
    if any("\udc80" <= c <= "\udcff" for value in row for c in value):
        return "utf8"
    if not CCCD.fullmatch(r["cccd"]):
        return "cccd"
    if not BHXH.fullmatch(r["bhxh_code"]):
        return "bhxh_code"
    if not CARD.fullmatch(r["card_no"]) or r["card_no"][-10:] != r["bhxh_code"]:
        return "card_no"
    name = norm(r["full_name"])
    if not name or len(name) > 100 or any(unicodedata.category(c) == "Cc" for c in name):
        return "full_name"
    if not DOB.fullmatch(r["dob"]):
        return "dob"
    try:
        parts = [int(p) for p in r["dob"].split("-")] + [1, 1]
        datetime.date(parts[0], parts[1], parts[2])
    except ValueError:
        return "dob"
    if r["gender"] not in ("1", "2", "3"):
        return "gender"
    for field in ("address", "issuer"):
        text = norm(r[field])
        if len(text) > 200 or any(unicodedata.category(c) == "Cc" for c in text):
            return field
    if not FACILITY.fullmatch(r["facility_code"]):
        return "facility_code"
    for field in ("valid_from", "valid_to", "five_year_date", "prev_valid_to"):
        if r[field] or field in ("valid_from", "valid_to"):
            if not DATE.fullmatch(r[field]):
                return field
            try:
                date(r[field])
            except ValueError:
                return field
    if r["valid_to"] < r["valid_from"]:
        return "valid_to"
    if r["region_code"] not in ("", "K1", "K2", "K3"):
        return "region_code"
    if r["status"] not in STATUSES | {""}:
        return "status"
    if r["managed_by"] not in ("", "vss", "defence", "police"):
        return "managed_by"
    if r["prev_card_no"] and (
        not CARD.fullmatch(r["prev_card_no"]) or r["prev_card_no"] == r["card_no"]
    ):
        return "prev_card_no"
    if r["prev_valid_to"] and not r["prev_card_no"]:
        return "prev_valid_to"
    return None


def shared_codes(rows: list[list[str]]) -> set[int]:
    """Return the rows that share a CCCD, BHXH code or card code (current or previous)."""
    owners: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for i, row in enumerate(rows):
        r = dict(zip(COLUMNS, row, strict=True))
        owners[("cccd", r["cccd"])].append(i)
        owners[("bhxh", r["bhxh_code"])].append(i)
        for code in {r["card_no"], r["prev_card_no"]} - {""}:
            owners[("card", code)].append(i)
    return {i for rows_ in owners.values() if len(rows_) > 1 for i in rows_}


def cccd_agrees(cccd: str, dob: str, gender: str) -> bool:
    """DOMAIN.md 1: province, century/sex digit and birth year digits agree with the person."""
    year = int(dob[:4])
    digit = int(cccd[3])
    century = {18: 8, 19: 0, 20: 2, 21: 4, 22: 6}[year // 100]
    sex_ok = gender == "3" or digit % 2 == int(gender) - 1
    return (
        cccd[:3] in PROVINCES
        and digit - digit % 2 == century
        and sex_ok
        and (cccd[4:6] == f"{year % 100:02d}")
    )


def province_on_card(code2: str, valid_from: str) -> str:
    """Return the 2-digit code a card issued on valid_from writes for an old province."""
    return NEW_OF.get(code2, code2) if valid_from >= "2025-07-01" else code2


def te_limit(dob: str) -> datetime.date:
    """DESIGN.md 6 rule 6: later of the day before 72 months and 30 Sept of birth year + 6."""
    born = date(dob)
    day = 28 if (born.month, born.day) == (2, 29) else born.day
    month_72 = datetime.date(born.year + 6, born.month, day) - datetime.timedelta(days=1)
    return max(month_72, datetime.date(born.year + 6, 9, 30))


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """One 20k-row extract with its population file and delta."""
    d = tmp_path_factory.mktemp("synth")
    paths = {k: str(d / f"{k}.csv") for k in ("extract", "population", "delta")}
    summary = synthesize(
        paths["extract"],
        ROWS,
        seed=11,
        as_of=AS_OF,
        population=paths["population"],
        mismatch_rate=MISMATCH,
        delta=paths["delta"],
        changes=CHANGES,
    )
    files = {k: read_csv(p) for k, p in paths.items()}
    return summary, paths, files


@pytest.fixture(scope="module")
def insured(national):
    """The extract rows as dicts, with the insured records' errors (lookup.synth.register)."""
    _, _, files = national
    return [dict(zip(COLUMNS, row, strict=True)) for row in files["extract"][1]]


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """The same people as drawn, before any insured record is spoiled: for their realism."""
    path = tmp_path_factory.mktemp("drawn") / "extract.csv"
    synthesize(str(path), ROWS, seed=11, as_of=AS_OF)
    return [dict(zip(COLUMNS, row, strict=True)) for row in read_csv(str(path))[1]]


# -- files -----------------------------------------------------------------------------------
def test_extract_has_the_spec_columns_and_the_rows_asked_for(national):
    summary, _, files = national
    header, rows = files["extract"]
    assert header == list(COLUMNS)
    assert len(rows) == ROWS == summary["rows"]
    assert summary["invalid"] == 0 and summary["seconds"] > 0


def test_lines_are_what_the_csv_module_writes(national):
    _, paths, _ = national
    raw = Path(paths["extract"]).read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    text = raw.decode("utf-8")
    again = io.StringIO()
    csv.writer(again, lineterminator="\n").writerows(csv.reader(io.StringIO(text, newline="")))
    assert again.getvalue() == text
    assert '"Số ' in text  # addresses hold commas, so they are quoted


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path):
    a, b, c = (str(tmp_path / name) for name in ("a.csv", "b.csv", "c.csv"))
    synthesize(a, 3000, seed=5, as_of=AS_OF, mismatch_rate=0.2)
    # Asking for the other files too must not change the extract.
    synthesize(
        b,
        3000,
        seed=5,
        as_of=AS_OF,
        population=str(tmp_path / "p.csv"),
        mismatch_rate=0.2,
        delta=str(tmp_path / "d.csv"),
        changes=100,
    )
    synthesize(c, 3000, seed=6, as_of=AS_OF)
    data = [Path(p).read_bytes() for p in (a, b, c)]
    assert data[0] == data[1]
    assert data[0] != data[2]
    assert not list(tmp_path.glob("*.tmp*"))


def test_shards_give_the_same_files_on_one_process_or_several(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "SHARD_ROWS", 1500)  # 4000 rows: three shards
    runs = {}
    for workers in (1, 2):
        d = tmp_path / str(workers)
        d.mkdir()
        summary = synthesize(
            str(d / "e.csv.gz"),
            4000,
            seed=3,
            as_of=AS_OF,
            workers=workers,
            population=str(d / "p.csv"),
            mismatch_rate=0.1,
            delta=str(d / "d.csv"),
            changes=300,
            invalid_rate=0.01,
        )
        runs[workers] = [(d / n).read_bytes() for n in ("e.csv.gz", "p.csv", "d.csv")], summary
        assert sorted(p.name for p in d.iterdir()) == ["d.csv", "e.csv.gz", "p.csv"]
    assert runs[1][0] == runs[2][0]
    same = lambda summary: {k: v for k, v in summary.items() if k != "seconds" and "out" not in k}  # noqa: E731
    assert same(runs[1][1]) == same(runs[2][1])
    header, rows = read_csv(str(tmp_path / "1" / "e.csv.gz"))  # gzip members, one per shard
    assert header == list(COLUMNS) and len(rows) == 4000
    valid = [r for r in rows if row_problem(r) is None]
    assert len(valid) > 3900 and not shared_codes(valid) - shared_codes(rows)


def test_as_of_moves_the_windows(tmp_path):
    a, b = str(tmp_path / "a.csv"), str(tmp_path / "b.csv")
    synthesize(a, 500, seed=5, as_of=AS_OF)
    synthesize(b, 500, seed=5, as_of=AS_OF.replace(year=2027))
    assert Path(a).read_bytes() != Path(b).read_bytes()
    valid_from = [row[8] for row in read_csv(b)[1]]
    assert collections.Counter(valid_from).most_common(1)[0][0] == "2027-01-01"


def test_gzip_output_holds_the_same_rows_and_is_reproducible(tmp_path):
    plain, gz1, gz2 = (str(tmp_path / n) for n in ("x.csv", "x.csv.gz", "y.csv.gz"))
    for path in (plain, gz1, gz2):
        synthesize(path, 2000, seed=8, as_of=AS_OF)
    assert Path(gz1).read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(Path(gz1).read_bytes()) == Path(plain).read_bytes()
    assert Path(gz1).read_bytes() == Path(gz2).read_bytes()  # no name or time in the header


def test_default_as_of_is_today_in_vietnam(tmp_path):
    summary = synthesize(str(tmp_path / "t.csv"), 10)
    today = today_in_vietnam()
    assert summary["as_of"] in (str(today - datetime.timedelta(days=1)), str(today))


def test_bad_arguments_are_refused_and_leave_no_file(tmp_path):
    with pytest.raises(ValueError):
        synthesize(str(tmp_path / "a.csv"), -1)
    with pytest.raises(ValueError):
        synthesize(str(tmp_path / "a.csv"), 10, invalid_rate=1.5)
    with pytest.raises(OSError):
        synthesize(str(tmp_path / "missing" / "a.csv"), 10)
    assert list(tmp_path.iterdir()) == []


# -- rules (DESIGN.md 5) ---------------------------------------------------------------------
def test_every_row_passes_the_row_rules(national):
    _, _, files = national
    problems = collections.Counter(row_problem(row) for row in files["extract"][1])
    assert problems == {None: ROWS}


def test_the_reference_validator_accepts_every_row(national):
    validate = pytest.importorskip("lookup.reference.validate")
    header, rows = national[2]["extract"]
    validator = validate.RowValidator(header)
    flags = collections.Counter(validator.validate(row).quality for row in rows)
    assert sum(flags.values()) == ROWS
    # The deliberate CCCD data-quality cases, and the insured records of the wrong sex.
    wrong_sex = national[0]["insured_error_kinds"]["wrong_sex"]
    assert wrong_sex < ROWS - flags[0] <= 0.003 * ROWS + wrong_sex


def test_codes_are_unique_across_people(national):
    _, _, files = national
    rows = files["extract"][1]
    assert shared_codes(rows) == set()
    cards = [r[2] for r in rows] + [r[14] for r in rows if r[14]]
    assert len(set(cards)) == len(cards)


def test_serial_slices_never_meet():
    world = World(3)
    codes: set[str] = set()
    drawn = 0
    for space, shard in (
        ("extract", 0),
        ("extract", 1),
        ("extract", 511),
        ("population", 0),
        ("population", 7),
        ("delta", None),
        ("officers", None),
    ):
        serials = Serials(world, 6, space, shard)
        count = serials.limit if shard is not None else min(serials.limit, 50_000)
        codes.update(serials.codes([42_007] * count, ["042007"] * count))
        drawn += count
        if shard is not None:
            with pytest.raises(ValueError, match="share the prefix"):
                serials.codes([42_007], ["042007"])  # the shard's piece is used up
    assert len(codes) == drawn
    assert all(len(code) == 12 and code.isdigit() for code in codes)


# -- realism ---------------------------------------------------------------------------------
def test_surnames_follow_their_national_shares(people):
    surnames = collections.Counter(norm(p["full_name"]).split()[0] for p in people)
    share = {name: n / ROWS for name, n in surnames.items()}
    assert surnames.most_common(1)[0][0] == "Nguyễn"
    assert 0.34 <= share["Nguyễn"] <= 0.41
    assert 0.09 <= share["Trần"] <= 0.13
    assert 0.08 <= share["Lê"] <= 0.11
    assert 0.06 <= share["Phạm"] <= 0.08
    assert len(surnames) >= 60


def test_names_are_vietnamese_nfc_and_by_sex(people):
    odd = [p["full_name"] for p in people if p["full_name"] != norm(p["full_name"])]
    assert 0 < len(odd) <= 0.005 * ROWS  # NFD or doubled spaces, which normalise
    clean = [p for p in people if p["full_name"] == norm(p["full_name"])]
    assert all(unicodedata.is_normalized("NFC", p["full_name"]) for p in clean)
    women = [p for p in clean if p["gender"] == "2"]
    men = [p for p in clean if p["gender"] == "1"]
    thi = sum(" Thị " in p["full_name"] for p in women) / len(women)
    van = sum(" Văn " in p["full_name"] for p in men) / len(men)
    assert 0.35 <= thi <= 0.75 and 0.2 <= van <= 0.6
    assert sum(" Thị " in p["full_name"] for p in men) < 0.01 * len(men)
    three = sum(len(p["full_name"].split()) == 3 for p in clean) / len(clean)
    assert 0.8 <= three <= 0.97  # some two-syllable middles, a few two-syllable names
    minority = {"Lò", "Vàng", "Giàng", "Sùng", "Thào", "Cầm", "Quàng", "Thạch", "Danh", "Y", "H"}
    share = sum(p["full_name"].split()[0].split("'")[0] in minority for p in clean) / len(clean)
    assert 0.001 <= share <= 0.012


def test_cccd_agrees_with_birth_year_sex_and_province(people):
    agree = sum(cccd_agrees(p["cccd"], p["dob"], p["gender"]) for p in people) / ROWS
    assert 0.997 <= agree < 1.0  # ~0.1% disagree on purpose (DESIGN.md 5 data quality)
    # Migrants were born elsewhere; a card issued since 2025-07-01 names the province of the
    # 2025 map the birth province went to (DOMAIN.md 1), one issued before the old one.
    same_province = sum(
        province_on_card(p["cccd"][1:3], p["valid_from"]) == p["card_no"][3:5] for p in people
    )
    assert 0.75 <= same_province / ROWS <= 0.95


def test_age_pyramid_looks_like_vietnam(people):
    ages = [AS_OF.year - int(p["dob"][:4]) for p in people]
    share = lambda lo, hi: sum(lo <= a <= hi for a in ages) / ROWS  # noqa: E731
    assert 0.20 <= share(0, 14) <= 0.27
    assert share(25, 44) > 0.28
    assert share(25, 44) > 2 * share(60, 120)
    assert share(80, 120) < 0.03


def test_cards_follow_the_groups_benefit_levels(people):
    groups = collections.Counter(p["card_no"][:2] for p in people)
    for group in (
        "DN",
        "HC",
        "CH",
        "NN",
        "TE",
        "HT",
        "HN",
        "CN",
        "HS",
        "SV",
        "GD",
        "CC",
        "CK",
        "CB",
        "BT",
        "TS",
        "QN",
        "CA",
        "CY",
    ):
        assert groups[group] > 0, group
    assert 0.07 <= groups["TE"] / ROWS <= 0.12
    assert {g for g, _ in groups.most_common(2)} == {"DN", "GD"}  # workers and households
    cn_level_2_from = "2026-01-01"
    for p in people:
        group, level = p["card_no"][:2], int(p["card_no"][2])
        expected = 2 if group == "CN" and p["valid_from"] >= cn_level_2_from else LEVEL[group]
        assert level == expected, p
        assert p["managed_by"] == {"QN": "defence", "CY": "defence", "CA": "police"}.get(
            group, "vss"
        )
        assert p["facility_code"][:2] == p["card_no"][3:5]
        assert p["bhxh_code"][:2] in {code[1:] for code in PROVINCES}


def test_children_cards_end_at_the_te_limit(people):
    children = [p for p in people if p["card_no"].startswith("TE")]
    assert all(date(p["valid_to"]) == te_limit(p["dob"]) for p in children)
    assert all(p["valid_from"] >= p["dob"] for p in children)


def test_windows_statuses_and_edge_cases_occur_as_in_real_data(people, national):
    summary = national[0]
    today = AS_OF.isoformat()
    expired = sum(p["valid_to"] < today for p in people) / ROWS
    future = sum(p["valid_from"] > today for p in people) / ROWS
    assert 0.02 <= expired <= 0.045 and 0.002 <= future <= 0.01
    statuses = collections.Counter(p["status"] for p in people)
    assert set(statuses) == STATUSES
    assert 0.001 <= statuses["revoked"] / ROWS <= 0.006
    cut_off = sum(n for s, n in statuses.items() if s.startswith("reduced")) / ROWS
    assert 0.01 <= cut_off <= 0.02
    assert collections.Counter(p["managed_by"] for p in people).keys() == {
        "vss",
        "defence",
        "police",
    }
    regions = collections.Counter(p["region_code"] for p in people)
    assert {"K1", "K2", "K3"} <= regions.keys()
    assert 0.03 <= (ROWS - regions[""]) / ROWS <= 0.08
    assert statuses == summary["statuses"] and summary["expired"] == round(expired * ROWS)


def test_previous_cards_share_the_bhxh_tail_and_answer_003_or_004(people):
    replaced = [p for p in people if p["prev_card_no"]]
    assert 0.03 <= len(replaced) / ROWS <= 0.05
    assert all(p["prev_card_no"][-10:] == p["bhxh_code"] for p in replaced)
    assert all(p["prev_card_no"][:5] != p["card_no"][:5] for p in replaced)
    today = AS_OF.isoformat()
    ends = collections.Counter(
        "none" if not p["prev_valid_to"] else "003" if p["prev_valid_to"] < today else "004"
        for p in replaced
    )
    assert ends["003"] > ends["004"] > ends["none"] > 0


def test_birth_dates_are_partial_mostly_for_the_elderly(people):
    old = [p for p in people if int(p["dob"][:4]) < 1950]
    year_only = sum(len(p["dob"]) == 4 for p in old) / len(old)
    assert 0.15 <= year_only <= 0.35
    assert any(len(p["dob"]) == 7 for p in old)
    young = [p for p in people if int(p["dob"][:4]) >= 1970]
    assert all(len(p["dob"]) == 10 for p in young)


def test_five_year_dates_for_about_40_percent_of_adults(people):
    adults = [p for p in people if AS_OF.year - int(p["dob"][:4]) >= 19]
    share = sum(bool(p["five_year_date"]) for p in adults) / len(adults)
    assert 0.33 <= share <= 0.47
    children = [p for p in people if AS_OF.year - int(p["dob"][:4]) < 17]
    assert not any(p["five_year_date"] for p in children)


def test_addresses_and_issuers_name_real_places(people):
    with_address = [p for p in people if p["address"]]
    assert 0.97 <= len(with_address) / ROWS < 1.0
    # Street, commune, district, province; since 2025-07-01 without the district (DOMAIN.md 6).
    assert all(
        p["address"].count(",") >= (2 if p["valid_from"] >= "2025-07-01" else 3)
        for p in with_address
    )
    assert any(p["address"].endswith(", Quận Cầu Giấy, Hà Nội") for p in with_address)
    assert any(p["address"].endswith(", Phường Dịch Vọng, Hà Nội") for p in with_address)
    assert any(p["address"].endswith(", Thành phố Hồ Chí Minh") for p in with_address)
    issuers = collections.Counter(p["issuer"].split()[1] for p in people)
    assert {"tỉnh", "thành", "huyện", "quận", "cơ", "Bộ"} <= issuers.keys()
    assert any(p["issuer"] == "BHXH thành phố Hà Nội" for p in people)
    stations = sum(not p["facility_code"][2:].isdigit() for p in people) / ROWS
    assert 0.3 <= stations <= 0.6  # most register at a commune station ("01C51")


# -- population extract (SPEC.md 1.3) --------------------------------------------------------
def test_the_register_agrees_with_its_own_cccds(national):
    summary, _, files = national
    header, records = files["population"]
    assert header == [*POPULATION_COLUMNS, "death_date"]
    assert len(records) == summary["population"]
    assert len({r[0] for r in records}) == len(records)
    for cccd, name, dob, gender, death in records:
        assert CCCD.fullmatch(cccd) and DOB.fullmatch(dob) and name == norm(name)
        # DOMAIN.md 1: digit 4 is century and sex, digits 5-6 the birth year; the chip card's
        # sex is always known.
        digit = int(cccd[3])
        assert gender == ("1" if digit % 2 == 0 else "2")
        assert int(dob[:4]) == {0: 1900, 1: 2000, 2: 2100, 3: 2200, 4: 1800}[digit // 2] + int(
            cccd[4:6]
        )
        assert death == "" or datetime.date.fromisoformat(death) < AS_OF


def test_the_insured_records_carry_the_errors_in_their_shares(national, insured):
    summary, _, files = national
    records = {r[0]: r for r in files["population"][1]}
    insured = {p["cccd"]: p for p in insured}
    assert len(records.keys() - insured.keys()) == summary["population_not_insured"]
    assert 0.055 <= summary["population_not_insured"] / len(records) <= 0.085  # ~7%
    assert len(insured.keys() - records.keys()) == summary["population_absent"] > 0
    deaths = sum(1 for r in records.values() if r[4])
    assert deaths == summary["population_deceased"] > 0
    kinds = summary["insured_error_kinds"]
    assert sum(kinds.values()) == summary["insured_errors"]
    assert abs(summary["insured_errors"] / ROWS - MISMATCH) <= 0.01
    for kind in ERROR_KINDS:
        assert kinds.get(kind, 0) > 0, kind
    assert kinds["tone_marks_lost"] > kinds["typo"] > kinds["given_name"]  # as the shares say
    # Where the two differ, the extract's side is one of the kinds; the register's is the card.
    seen: collections.Counter[str] = collections.Counter()
    for cccd, p in insured.items():
        if cccd not in records:
            continue
        _, name, dob, gender, _ = records[cccd]
        stored = norm(p["full_name"])
        if stored != name:
            if strip_tone_marks(stored) == stored and strip_tone_marks(name) == stored:
                seen["tone_marks_lost"] += 1
            elif unicodedata.normalize("NFD", stored) != unicodedata.normalize("NFD", name):
                seen["name"] += 1
        if dob != p["dob"]:
            seen["year_only" if dob.startswith(p["dob"]) else "dob"] += 1
        if gender != p["gender"]:
            seen["gender"] += 1
    # The few spoiled people the register lacks (0.3%) are not seen.
    assert seen["tone_marks_lost"] >= kinds["tone_marks_lost"] * 0.9
    assert seen["year_only"] >= kinds["year_only"] * 0.97
    assert seen["gender"] >= kinds["wrong_sex"] * 0.97


def test_no_mismatch_rate_leaves_the_extract_as_drawn(tmp_path):
    a, b = str(tmp_path / "a.csv"), str(tmp_path / "b.csv")
    summary = synthesize(a, 3000, seed=2, as_of=AS_OF)
    synthesize(b, 3000, seed=2, as_of=AS_OF, mismatch_rate=0.05)
    assert summary["insured_errors"] == 0
    rows_a, rows_b = read_csv(a)[1], read_csv(b)[1]
    changed = [(x, y) for x, y in zip(rows_a, rows_b, strict=True) if x != y]
    assert 0.03 * 3000 <= len(changed) <= 0.07 * 3000
    # Only the name, the birth date and the sex are ever spoiled.
    assert all(x[:3] == y[:3] and x[6:] == y[6:] for x, y in changed)


# -- delta (SPEC.md 1.2) ---------------------------------------------------------------------
def test_delta_changes_are_well_formed_and_realistic(national, insured):
    summary, _, files = national
    header, rows = files["delta"]
    assert header == list(DELTA_COLUMNS)
    assert len(rows) == CHANGES == summary["delta"]
    cccds = [r[1] for r in rows]
    assert len(set(cccds)) == len(cccds)  # never two ops on one person
    insured = {p["cccd"]: p for p in insured}
    deletes = [r for r in rows if r[0] == "delete"]
    upserts = [r[1:] for r in rows if r[0] == "upsert"]
    assert len(deletes) + len(upserts) == CHANGES
    assert all(r[1] in insured and not any(r[2:]) for r in deletes)
    assert all(row_problem(row) is None for row in upserts)
    changed = [dict(zip(COLUMNS, r, strict=True)) for r in upserts if r[0] in insured]
    new = [dict(zip(COLUMNS, r, strict=True)) for r in upserts if r[0] not in insured]
    assert all(c["bhxh_code"] == insured[c["cccd"]]["bhxh_code"] for c in changed)
    what = collections.Counter()
    for c in changed:
        old = insured[c["cccd"]]
        diff = {k for k in COLUMNS if c[k] != old[k]}
        assert diff, c  # an upsert of an existing person changes something
        what.update(diff)
    for field in ("valid_to", "facility_code", "status", "full_name", "card_no", "prev_card_no"):
        assert what[field] > 0, field
    assert {c["status"] for c in changed} >= {"revoked", "active"}
    assert any(c["status"].startswith("reduced") for c in changed)
    # Newcomers: newborns with TE cards and new workers, with codes nobody else holds.
    assert any(n["card_no"].startswith("TE") and n["dob"] >= "2026-01-01" for n in new)
    assert any(n["card_no"].startswith("DN") for n in new)
    taken = {
        p[k] for p in insured.values() for k in ("cccd", "bhxh_code", "card_no", "prev_card_no")
    }
    taken |= {r[0] for r in files["population"][1]}
    for n in new:
        assert not {n["cccd"], n["bhxh_code"], n["card_no"]} & taken, n
    assert summary["delta_ops"] == {"upsert": len(upserts), "delete": len(deletes)}


def test_the_reference_validator_accepts_the_delta(national):
    validate = pytest.importorskip("lookup.reference.validate")
    header, rows = national[2]["delta"]
    validator = validate.RowValidator(header, delta=True)
    ops = collections.Counter(validator.validate(row).op for row in rows)
    assert ops["delete"] > 0 and ops["upsert"] > ops["delete"]


# -- deliberately invalid rows ---------------------------------------------------------------
def test_invalid_rate_breaks_one_rule_in_that_share_of_rows(tmp_path):
    path = str(tmp_path / "bad.csv")
    summary = synthesize(path, 6000, seed=4, as_of=AS_OF, invalid_rate=0.05)
    header, rows = read_csv(path)
    row_level = {i for i, row in enumerate(rows) if row_problem(row)}
    clean = [i for i in range(len(rows)) if i not in row_level]
    shared = {clean[j] for j in shared_codes([rows[i] for i in clean])}
    assert 0.04 <= summary["invalid"] / 6000 <= 0.06
    assert len(row_level | shared) == summary["rejects_expected"]
    assert summary["invalid"] < summary["rejects_expected"]  # a shared code rejects both rows
    assert len(summary["invalid_kinds"]) >= 20
    problems = collections.Counter(row_problem(rows[i]) for i in row_level)
    assert len(problems) >= 12
    assert "utf8" in problems and "row" in problems  # bytes that are not UTF-8, extra field


def test_the_reference_validator_rejects_the_broken_rows(tmp_path):
    validate = pytest.importorskip("lookup.reference.validate")
    errors = pytest.importorskip("lookup.errors")
    path = str(tmp_path / "bad.csv")
    summary = synthesize(path, 3000, seed=9, as_of=AS_OF, invalid_rate=0.03)
    header, rows = read_csv(path)
    validator = validate.RowValidator(header)
    rejected = collections.Counter()
    for row in rows:
        try:
            validator.validate(row)
        except errors.RowError as exc:
            rejected[exc.field] += 1
    dups = summary["invalid_kinds"].get("dup_cccd", 0) + summary["invalid_kinds"].get("dup_bhxh", 0)
    assert sum(rejected.values()) == summary["invalid"] - dups
    assert len(rejected) >= 10
