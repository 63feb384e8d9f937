"""Reconciliation with the population register (SPEC.md 1.3 and 4): every status and field, the
Vietnamese name cases, partial birth dates on both sides, file forms, bad rows and bad files,
and corrections that leave no mismatch once applied. Real files, real snapshots."""

from __future__ import annotations

import csv
import gzip
import io
import os
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookup.errors import ExtractError
from lookup.ingest.build import build
from lookup.ingest.delta import apply_delta
from lookup.reference import reconcile as rules
from lookup.store import DataDir
from lookup.store.strings import Strings
from lookup.sync.reconcile import reconcile

from helpers.files import person

TODAY = 20260601
POPULATION = ("cccd", "full_name", "dob", "gender", "death_date")


def register(n: int, **overrides: str) -> dict[str, str]:
    """The register's record of test person n, agreeing with the store unless overridden."""
    row = person(n)
    return {
        "cccd": row["cccd"],
        "full_name": row["full_name"],
        "dob": row["dob"],
        "gender": row["gender"],
        "death_date": "",
        **overrides,
    }


def write_population(path, rows, columns=POPULATION, *, bom=False, line_end="\n"):
    lines = [",".join(columns)]
    for row in rows:
        values = row if isinstance(row, list) else [row.get(c, "") for c in columns]
        lines.append(",".join(_quote(v) for v in values))
    data = (("\ufeff" if bom else "") + line_end.join(lines) + line_end).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return str(path)


def _quote(value: str) -> str:
    return f'"{value}"' if "," in value else value


def read_report(path) -> list[tuple[str, str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["cccd", "status", "fields"]
    return [tuple(row) for row in rows[1:]]


@pytest.fixture
def data(tmp_path):
    """A store of test people 0-9, each with the name, birth date and sex person(n) gives."""
    from helpers.files import write_csv

    rows = [person(i) for i in range(10)]
    rows[4] = person(4, dob="1985")  # a year-only birth date in the store
    rows[5] = person(5, dob="1985-04")
    data = DataDir(tmp_path / "data")
    build(data, str(write_csv(tmp_path / "base.csv", rows)))
    return data


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("register", "stored", "field"),
    [
        ("Nguyễn Văn Hòa", "Nguyễn Văn Hoà", None),  # the two standard tone placements
        ("Lê Thị Thúy", "Lê Thị Thuý", None),
        ("Trần Khỏe", "Trần Khoẻ", None),
        ("Đỗ Thị Hòe", "Đỗ Thị Hoè", None),
        ("H’Hen Niê", "H'Hen Niê", None),  # apostrophe forms
        ("NGUYỄN  văn   AN", "Nguyễn Văn An", None),  # case and spaces
        (unicodedata.normalize("NFD", "Phạm Thị Ánh"), "Phạm Thị Ánh", None),
        ("Nguyen Van An", "Nguyễn Văn An", "full_name_diacritics"),  # tone marks lost
        ("Dương Văn Đức", "Duong Van Duc", "full_name_diacritics"),  # Đ typed as D
        ("Nguyễn Văn Án", "Nguyễn Văn An", "full_name_diacritics"),  # a tone mark wrong
        ("Nguyễn Văn Anh", "Nguyễn Văn An", "full_name"),  # a typo
        ("Văn An Nguyễn", "Nguyễn Văn An", "full_name"),  # order
    ],
)
def test_names_compare_as_spec_4_says(register, stored, field):
    assert rules.compare_names(register, stored) == field
    assert rules.compare_names(stored, register) == field


VIETNAMESE = st.text(
    alphabet=st.sampled_from(
        "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ "
    ),
    min_size=1,
    max_size=30,
).filter(str.strip)


@given(VIETNAMESE)
def test_a_name_agrees_with_itself_in_every_form(name):
    for form in (name.upper(), unicodedata.normalize("NFD", name), f"  {name} "):
        assert rules.compare_names(form, name) is None


@given(VIETNAMESE)
def test_losing_the_marks_is_only_ever_a_diacritics_difference(name):
    bare = "".join(
        c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c)
    ).replace("đ", "d")
    assert rules.compare_names(bare, name) in (None, "full_name_diacritics")


# The five tones as combining marks, written out apart from the code under test.
TONES = "\u0300\u0301\u0303\u0309\u0323"


@given(VIETNAMESE, st.data())
def test_where_a_syllable_carries_its_tone_does_not_matter(name, draw):
    # Move each tone mark anywhere within its syllable: the same name (SPEC 3.1, 4).
    moved = []
    for word in unicodedata.normalize("NFD", name).split():
        tones = [c for c in word if c in TONES]
        letters = [c for c in word if c not in TONES]
        for tone in tones:
            letters.insert(draw.draw(st.integers(1, len(letters))), tone)
        moved.append("".join(letters))
    assert rules.compare_names(" ".join(moved), name) is None


# -- birth dates -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("register", "stored", "field"),
    [
        (19850412, 19850412, None),
        (19850000, 19850412, None),  # the register less precise, agreeing: no difference
        (19850400, 19850412, None),
        (19850412, 19850000, "dob_precision"),  # the record can be completed
        (19850412, 19850400, "dob_precision"),
        (19850400, 19850000, "dob_precision"),
        (19851204, 19850412, "dob"),  # day and month swapped
        (19860000, 19850412, "dob"),
        (19860412, 19850000, "dob"),
        (19850500, 19850412, "dob"),
    ],
)
def test_birth_dates_compare_at_the_coarser_precision(register, stored, field):
    assert rules.compare_dob(register, stored) == field


# -- the whole report ------------------------------------------------------------------------
def test_every_status_and_field(data, tmp_path):
    rows = [
        register(0),  # match
        register(1, full_name="Nguyen Van An"),
        register(2, full_name="Nguyễn Văn Bình", gender="2"),
        register(3, dob="1985-12-04"),
        register(4, dob="1985-04-12"),  # the store has 1985: completes it
        register(5, dob="1985"),  # less precise than the store, agreeing: a match
        register(6, death_date="2026-05-31", full_name="Someone Else"),  # deceased wins
        register(7, death_date="2026-06-02"),  # dies after the report date: still a match
        {"cccd": "079199000001", "full_name": "Lò Văn Páo", "dob": "1991", "gender": "1"},
        {"cccd": "12345", "full_name": "X", "dob": "1990", "gender": "1"},
        register(8, dob="1985-13-01"),
        register(9, gender="4"),
        ["001085000009", "Nguyễn Văn An", "1985-04-12"],  # a field short
    ]
    population = write_population(tmp_path / "pop.csv", rows)
    summary = reconcile(data, population, report=str(tmp_path / "r.csv"), today=TODAY)
    cccd = [person(i)["cccd"] for i in range(10)]
    assert read_report(tmp_path / "r.csv") == [
        (cccd[0], "match", ""),
        (cccd[1], "mismatch", "full_name_diacritics"),
        (cccd[2], "mismatch", "full_name;gender"),
        (cccd[3], "mismatch", "dob"),
        (cccd[4], "mismatch", "dob_precision"),
        (cccd[5], "match", ""),
        (cccd[6], "deceased", ""),
        (cccd[7], "match", ""),
        ("079199000001", "not_insured", ""),
        ("12345", "invalid", "line 11: cccd: must be 12 digits"),
        (cccd[8], "invalid", "line 12: dob: not a real date"),
        (cccd[9], "invalid", "line 13: gender: must be 1, 2 or 3"),
        (cccd[9], "invalid", "line 14: row: 3 fields; the header has 5"),
        (cccd[8], "not_in_register", ""),  # its only row was invalid
        (cccd[9], "not_in_register", ""),
    ]
    assert summary["snapshot"] == data.current_id()
    statuses = {s: v["count"] for s, v in summary["statuses"].items()}
    assert statuses == {
        "match": 3,
        "mismatch": 4,
        "deceased": 1,
        "not_insured": 1,
        "not_in_register": 2,
        "invalid": 4,
    }
    assert summary["population_rows"] == 13
    assert summary["statuses"]["mismatch"]["pct"] == round(100 * 4 / 13, 3)
    fields = {f: v["count"] for f, v in summary["fields"].items()}
    assert fields == {
        "full_name": 1,
        "full_name_diacritics": 1,
        "dob": 1,
        "dob_precision": 1,
        "gender": 1,
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("cccd=00108500000x", "cccd: must be 12 digits"),
        ("full_name=", "full_name: required"),
        ("full_name=" + "A" * 101, "full_name: 101 characters; at most 100"),
        ("full_name=An\u0007", "full_name: contains a control character"),
        ("dob=12/04/1985", "dob: must be YYYY-MM-DD, YYYY-MM or YYYY"),
        ("dob=1985-02-30", "dob: not a real date"),
        ("gender=M", "gender: must be 1, 2 or 3"),
        ("death_date=2026", "death_date: must be YYYY-MM-DD"),
    ],
)
def test_a_bad_row_is_an_invalid_report_row_naming_its_line(data, tmp_path, value, reason):
    name, _, bad = value.partition("=")
    population = write_population(tmp_path / "p.csv", [register(0), register(1, **{name: bad})])
    summary = reconcile(data, population, report=str(tmp_path / "r.csv"), today=TODAY)
    assert read_report(tmp_path / "r.csv")[1][1:] == ("invalid", f"line 3: {reason}")
    assert summary["statuses"]["invalid"]["count"] == 1


@pytest.mark.parametrize("form", ["bom", "crlf", "gzip", "columns reordered", "no death_date"])
def test_file_forms_give_the_same_report(data, tmp_path, form):
    rows = [register(0), register(1, full_name="Nguyen Van An"), register(2, dob="1990")]
    plain = write_population(tmp_path / "plain.csv", rows)
    columns = POPULATION
    if form == "columns reordered":
        columns = ("gender", "death_date", "dob", "full_name", "cccd")
    elif form == "no death_date":
        columns = POPULATION[:4]
    name = "p.csv.gz" if form == "gzip" else "p.csv"
    other = write_population(
        tmp_path / name,
        rows,
        columns,
        bom=form == "bom",
        line_end="\r\n" if form == "crlf" else "\n",
    )
    reconcile(data, plain, report=str(tmp_path / "a.csv"), today=TODAY)
    reconcile(data, other, report=str(tmp_path / "b.csv"), today=TODAY)
    assert read_report(tmp_path / "a.csv") == read_report(tmp_path / "b.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file; a population extract starts with a header row"),
        (b"\xff\xfe\x00c\x00c", "not a CSV population extract"),
        (b"cccd,full_name,dob\n", "missing required column gender"),
        (b"cccd,full_name,dob,gender,address\n", "unknown column 'address'"),
        (b"cccd,full_name,dob,gender,gender\n", "column given twice: gender"),
    ],
)
def test_a_bad_file_is_a_clear_error_and_writes_no_report(data, tmp_path, content, message):
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    with pytest.raises(ExtractError, match=message):
        reconcile(data, str(path), report=str(tmp_path / "r.csv"), today=TODAY)
    assert not (tmp_path / "r.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r.csv")] == []


def test_corrections_leave_no_mismatch_once_applied(data, tmp_path):
    rows = [
        register(0),
        register(1, full_name="Nguyễn Văn Bình"),
        register(2, full_name="Nguyen Van An", gender="2"),
        register(3, dob="1985-12-04"),
        register(4, dob="1985-04-12"),
        register(6, death_date="2026-01-01", full_name="Someone Else"),  # not for the delta
        {"cccd": "079199000001", "full_name": "Lò Văn Páo", "dob": "1991", "gender": "1"},
    ]
    population = write_population(tmp_path / "pop.csv", rows)
    fixes = tmp_path / "fix.csv"
    first = reconcile(data, population, corrections=str(fixes), today=TODAY)
    assert first["statuses"]["mismatch"]["count"] == 4
    with open(fixes, newline="", encoding="utf-8") as f:
        delta = list(csv.DictReader(f))
    assert [row["cccd"] for row in delta] == [person(i)["cccd"] for i in (1, 2, 3, 4)]
    assert delta[1]["address"] == person(2)["address"]  # the rest of the row is the store's
    assert delta[1]["full_name"] == "Nguyen Van An" and delta[1]["gender"] == "2"
    applied = apply_delta(data, str(fixes))
    assert applied["changed"] == 4
    again = reconcile(data, population, today=TODAY)
    assert again["statuses"]["mismatch"]["count"] == 0
    assert again["statuses"]["match"]["count"] == 5
    assert again["snapshot"] == applied["snapshot"] != first["snapshot"]


def test_the_command_line(data, tmp_path):
    population = write_population(tmp_path / "pop.csv", [register(0), register(1, gender="2")])
    done = subprocess.run(
        [sys.executable, "-m", "lookup", "reconcile", population, "--data", str(data.root)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = data.root / "reports" / f"reconcile-{data.current_id()}.csv"
    assert f"report in {report}" in done.stdout and "mismatch 1 (50%)" in done.stdout
    assert len(read_report(report)) == 10  # 2 register rows, then the 8 people it lacks
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "lookup",
            "reconcile",
            str(tmp_path / "nope.csv"),
            "--data",
            str(data.root),
        ],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and "cannot open" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_synthetic_country_reconciles_as_it_was_made(tmp_path):
    # lookup synth spoils insured records and writes the register as the truth: a reconcile
    # finds what it spoiled, and its corrections leave nothing to find.
    made, data, population = make_country(tmp_path, 6000, seed=4)
    extract = tmp_path / "x.csv"
    fixes = tmp_path / "fix.csv"
    found = reconcile(data, str(population), corrections=str(fixes), today=TODAY)
    count = {s: v["count"] for s, v in found["statuses"].items()}
    fields = {f: v["count"] for f, v in found["fields"].items()}
    kinds = made["insured_error_kinds"]
    assert count["not_insured"] == made["population_not_insured"]
    assert count["not_in_register"] == made["population_absent"]
    assert count["deceased"] == made["population_deceased"]
    assert count["invalid"] == 0
    # Another tone placement is the same name: every other spoiled record is a mismatch (but
    # for the deceased and the absent), and so are the records whose CCCD says otherwise and
    # those of unknown sex (the register knows it).
    spoiled = made["insured_errors"] - kinds.get("tone_placement", 0)
    with open(extract, encoding="utf-8") as f:
        unknown_sex = sum(row["gender"] == "3" for row in csv.DictReader(f))
    gone = count["deceased"] + count["not_in_register"]
    more = made["population_cccd_says_otherwise"] + unknown_sex
    assert spoiled - gone <= count["mismatch"] <= spoiled + more
    assert fields["full_name_diacritics"] >= 0.9 * (kinds["tone_marks_lost"] + kinds["d_for_dj"])
    assert fields["gender"] >= kinds["wrong_sex"]
    assert fields["dob_precision"] >= 0.9 * kinds["year_only"]
    apply_delta(data, str(fixes))
    again = reconcile(data, str(population), today=TODAY)
    assert again["statuses"]["mismatch"]["count"] == 0
    assert again["statuses"]["match"]["count"] == count["match"] + count["mismatch"]


def make_country(folder, rows: int, *, seed: int):
    """Synthesise a country (insured records spoiled at 10%) and its register, and build it."""
    from lookup.synth import synthesize

    extract, population = folder / "x.csv", folder / "p.csv"
    made = synthesize(
        str(extract),
        rows,
        seed=seed,
        as_of=_date(TODAY),
        population=str(population),
        mismatch_rate=0.1,
    )
    data = DataDir(folder / "data")
    build(data, str(extract), max_reject_ratio=0.01)
    return made, data, population


def _date(packed: int):
    import datetime

    return datetime.date(packed // 10000, packed // 100 % 100, packed % 100)


def test_one_snapshot_is_compared_from_start_to_end(data, tmp_path, monkeypatch):
    # A delta published while the reconcile runs (after its second row) changes person 1's
    # name; the reconcile goes on comparing the snapshot it started with, and names it.
    import lookup.sync.reconcile as module
    from lookup.progress import Progress

    from helpers.files import write_csv

    fix = write_csv(
        tmp_path / "d.csv",
        [dict(person(1, full_name="Someone Else"), op="upsert")],
        ["op", *person(1)],
    )
    started_with = data.current_id()

    class PublishMidway(Progress):
        def update(self, done: int, rows: int) -> None:
            if rows == 2 and data.current_id() == started_with:  # another process publishes
                command = [sys.executable, "-m", "lookup", "apply", str(fix), "--data"]
                subprocess.run([*command, str(data.root)], check=True, capture_output=True)

    monkeypatch.setattr(module, "PROGRESS_EVERY", 1)
    population = write_population(tmp_path / "p.csv", [register(0), register(1), register(2)])
    summary = reconcile(
        data,
        population,
        report=str(tmp_path / "r.csv"),
        today=TODAY,
        progress=PublishMidway(enabled=True, stream=io.StringIO()),
    )
    assert data.current_id() != started_with  # the delta was published meanwhile
    assert summary["snapshot"] == started_with
    assert [status for _, status, _ in read_report(tmp_path / "r.csv")[:3]] == ["match"] * 3
    after = reconcile(data, population, report=str(tmp_path / "r2.csv"), today=TODAY)
    assert read_report(tmp_path / "r2.csv")[1][1:] == ("mismatch", "full_name")
    assert after["snapshot"] == data.current_id()


# -- the core's fast path against the reference ----------------------------------------------
# Stored names that try the name table: tones on both sides, Đ, the apostrophes, a letter the
# table does not fold (ß casefolds to two letters) and one outside it (CJK).
STORED_NAMES = {
    4: "Trần Thị Thuý",
    5: "H'Hen Niê",
    6: "Đặng Thị Hoà",
    7: "Nguyễn Thị Thúy",
    8: "Lê Văn Đức",
    9: "H\u2019Hen Niê",
    10: "Phạm Quốc Khánh",
    11: "Groß Văn An",
    12: "李 Văn An",
    13: "Hoàng Ngọc Ánh",
}


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """The compiled reader and the reference reader over one snapshot of people 0-39."""
    from lookup import _core

    from helpers.rows import write_snapshot

    rows = [person(i) for i in range(40)]
    rows[3] = person(3, dob="1985")
    rows[4] = person(4, dob="1985-04", full_name=STORED_NAMES[4], gender="2")
    rows[5] = person(5, gender="3", full_name=STORED_NAMES[5])
    for n in range(6, 14):
        rows[n] = person(n, full_name=STORED_NAMES[n])
    path = write_snapshot(str(tmp_path_factory.mktemp("twins") / "s"), rows)
    kinds = ("compiled", "python")
    readers = [_core.load(kind).reader.SnapshotReader(path) for kind in kinds]
    yield list(zip(kinds, readers, strict=True)), rows, path
    for reader in readers:
        reader.close()


def judge(reader, columns):
    """The reference's judgement of a row, as lookup.sync.reconcile asks for it."""

    def slow(line, values):
        if len(values) != len(columns):
            return f"{line},invalid,\n".encode(), -1
        try:
            row = rules.check_row(values, columns)
        except Exception as exc:  # RowError
            return f"{line},invalid,{type(exc).__name__}\n".encode(), -1
        stored = reader.stored_record(int(row.cccd))
        if stored is None:
            return f"{row.cccd},not_insured,\n".encode(), -1
        status, fields = rules.compare(row, stored, TODAY, Strings(reader.strings))
        return f"{row.cccd},{status},{fields}\n".encode(), int(row.cccd)

    return slow


def reconcile_rows(kind, reader, population, mismatches=True):
    """Reconcile population rows (lists of values, POPULATION columns) written as a CSV file,
    read by the twin's own csvrows; return (counts, fields, found) and the report's text."""
    from lookup import _core

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(POPULATION)
    writer.writerows(population)
    rows = _core.load(kind).csvrows.Rows(
        io.BytesIO(text.getvalue().encode("utf-8", "surrogateescape"))
    )
    assert rows.first() == list(POPULATION)
    written = []
    slow = judge(reader, POPULATION)
    result = reader.reconcile(rows, POPULATION, slow, written.append, TODAY, mismatches)
    return result, b"".join(written)


def _bare(name):
    decomposed = unicodedata.normalize("NFD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("Đ", "D")


# The other standard tone placement of a syllable (SPEC.md 3.1), either way.
PLACEMENTS = {"oà": "òa", "oá": "óa", "uý": "úy", "oạ": "ọa", "uỳ": "ùy"}
PLACEMENTS |= {new: old for old, new in PLACEMENTS.items()}


def _other_placement(name):
    for old, new in PLACEMENTS.items():
        if old in name:
            return name.replace(old, new, 1)
    return name


# One change at a time to a stored person's register row, so each is tried often.
CHANGES = {
    "cccd": lambda r: [r["cccd"][:11], "079199000001", r["cccd"] + " ", "０" + r["cccd"][1:]],
    "full_name": lambda r: [
        r["full_name"].upper(),
        r["full_name"].lower(),
        unicodedata.normalize("NFD", r["full_name"]),
        r["full_name"] + " ",
        r["full_name"].replace(" ", "  ", 1),
        _bare(r["full_name"]),
        r["full_name"].replace("Đ", "D").replace("đ", "d"),
        _other_placement(r["full_name"]),
        r["full_name"][:-1] + ("x" if r["full_name"][-1] != "x" else "y"),
        r["full_name"].replace("'", "\u2019"),
        r["full_name"].replace("\u2019", "'"),
        r["full_name"].replace("'", "`"),
        "Lê Văn Tám",
        "",
    ],
    "dob": lambda r: ["1985", "1985-04", "1985-04-12", "1985-12-04", "1985-02-30", "85"],
    "gender": lambda r: ["1", "2", "3", "0", ""],
    "death_date": lambda r: ["2026-05-01", "2026-06-01", "2027-01-01", "2026-13-01", "2026"],
}


# Names of someone the store does not hold: valid as they are, or only once normalised, or not.
STRANGERS = [
    "Lò Văn Páo",
    "H'Hen Niê",
    "Đặng Thị Huệ",
    " Lê Tám",
    "Lê  Tám",
    "Lê\u00a0Tám",
    "Lê\u2003Tám",
    "Lê\u3000Tám",
    "Lê\tTám",
    "Lê\x85Tám",
    "Lê\x7fTám",
    "Le\u0301 Tám",
    "Lê, Tám",
    'Lê "Tám"',
    "Lê\nTám",
    "Lê\udcffTám",
    "A" * 100,
    "A" * 101,
    "\u0344" * 40,
    "",
]


def _change(row, field):
    if field is None:
        return st.just({})
    if field == "stranger":
        return st.sampled_from(STRANGERS).map(
            lambda name: {"cccd": "079199000001", "full_name": name}
        )
    return st.sampled_from(CHANGES[field](row)).map(lambda value: {field: value})


def _variants(row):
    exact = {**{c: row[c] for c in POPULATION[:4]}, "death_date": ""}
    changes = st.sampled_from([None, "stranger", *CHANGES]).flatmap(lambda f: _change(row, f))
    return changes.map(lambda change: {**exact, **change})


@settings(max_examples=400)  # each is a few milliseconds; the changes are many
@given(st.data(), st.booleans())
def test_the_core_reports_as_the_reference_does(twins, data, mismatches):
    readers, rows, path = twins
    drawn = data.draw(st.lists(st.sampled_from(rows), min_size=1, max_size=40))
    population = [[v[c] for c in POPULATION] for v in (data.draw(_variants(row)) for row in drawn)]
    population.append(["001085000001", "Nguyễn Văn An"])  # a row a field short
    outputs = []
    for kind, reader in readers:
        (_, _, found), text = reconcile_rows(kind, reader, population, mismatches)
        outputs.append((text, found, reader.missing(found)))
    assert outputs[0] == outputs[1]


class Trickle(io.RawIOBase):
    """A stream that gives its bytes a few at a time, so records straddle the reader's refills."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.at, self.size = data, 0, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        piece = self.data[self.at : self.at + min(len(buffer), self.size)]
        buffer[: len(piece)] = piece
        self.at += len(piece)
        return len(piece)

    def read1(self, n: int = -1) -> bytes:
        return self.read(n)


@settings(max_examples=200)
@given(st.data(), st.sampled_from(["\n", "\r\n", "\r"]), st.integers(1, 64), st.booleans())
def test_rows_read_from_their_bytes_are_the_rows_csv_reads(twins, data, end, size, bom):
    """The core reads a plain line's bytes itself (csvrows next_plain): line ends of each kind,
    blank lines, a BOM, quoted values among plain ones, chunks that end anywhere."""
    readers, rows, path = twins
    drawn = data.draw(st.lists(st.sampled_from(rows), min_size=1, max_size=12))
    lines = [",".join(POPULATION)]
    for v in (data.draw(_variants(row)) for row in drawn):
        values = [v[c] for c in POPULATION]
        lines.append(",".join(_quote(x) if "\n" not in x else '"' + x + '"' for x in values))
        lines += [""] * data.draw(st.integers(0, 1))  # a blank line now and then
    text = ("\ufeff" if bom else "") + end.join(lines) + data.draw(st.sampled_from(["", end]))
    outputs = []
    for kind, reader in readers:
        from lookup import _core

        stream = Trickle(text.encode("utf-8", "surrogateescape"), size)
        csvrows = _core.load(kind).csvrows.Rows(stream)
        assert csvrows.first() == list(POPULATION)
        written = []
        slow = judge(reader, POPULATION)
        _, _, found = reader.reconcile(csvrows, POPULATION, slow, written.append, TODAY, True)
        outputs.append((b"".join(written), found, csvrows.offset))
    assert outputs[0] == outputs[1]


@given(
    st.sampled_from(sorted(STORED_NAMES)),
    st.text(
        st.sampled_from(
            "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ '’`ß李"
            "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_the_core_compares_names_as_the_reference_does(twins, n, name):
    readers, rows, path = twins
    population = [[rows[n]["cccd"], name, rows[n]["dob"], rows[n]["gender"], ""]]
    outputs = [reconcile_rows(kind, reader, population)[1] for kind, reader in readers]
    assert outputs[0] == outputs[1]


def test_the_core_takes_what_it_can_judge_itself(twins):
    readers, rows, path = twins
    population = [[r[c] for c in POPULATION[:4]] + [""] for r in rows]
    # The other tone placement, a mismatch of each field, a death, someone not insured.
    population += [
        [rows[4]["cccd"], "Trần Thị Thúy", "1985-04", "2", ""],  # the other placement: same
        [rows[6]["cccd"], "Dang Thi Hoa", "1985-05-12", "1", ""],
        [rows[8]["cccd"], "Lê Văn Được", "1985-04-12", "2", ""],
        [rows[0]["cccd"], rows[0]["full_name"], "1985", "1", "2026-01-31"],
        ["079199000001", "Lò Văn Páo", "1990", "1", ""],
    ]
    (compiled, reference) = [reconcile_rows(kind, reader, population) for kind, reader in readers]
    (counts, fields, found), text = compiled
    assert (text, found) == (reference[1], reference[0][2])
    assert reference[0][:2] == ({}, {})
    # Every row judged in C but the names with a character outside the table (李, ’).
    assert counts == {"match": 39, "not_insured": 1, "mismatch": 2, "deceased": 1}
    assert fields == {
        "full_name": 1,
        "full_name_diacritics": 1,
        "dob": 1,
        "dob_precision": 0,
        "gender": 1,
    }
    lines = text.decode().splitlines()
    assert lines[40:] == [
        f"{rows[4]['cccd']},match,",
        f"{rows[6]['cccd']},mismatch,full_name_diacritics;dob",
        f"{rows[8]['cccd']},mismatch,full_name;gender",
        f"{rows[0]['cccd']},deceased,",
        "079199000001,not_insured,",
    ]
    # The same through mdb_get, as when the page walker is not trusted.
    from lookup import _core

    with _core.load("compiled").reader.SnapshotReader(path) as plain:
        plain._use_lmdb_api()
        assert reconcile_rows("compiled", plain, population) == compiled


def test_bytes_that_are_not_utf8_make_an_invalid_row_not_a_crash(data, tmp_path):
    path = tmp_path / "p.csv"
    good = ",".join(register(0)[c] for c in POPULATION).encode()
    path.write_bytes(
        b"cccd,full_name,dob,gender,death_date\n"
        + good
        + b"\n"
        + person(1)["cccd"].encode()
        + b",Nguy\xe1n V\xff,1985-04-12,1,\n"
        + b"00108500\xff002,An,1985,1,\n"
    )
    summary = reconcile(data, str(path), report=str(tmp_path / "r.csv"), today=TODAY)
    report = (tmp_path / "r.csv").read_bytes().split(b"\n")
    assert report[1] == person(0)["cccd"].encode() + b",match,"
    assert report[2] == person(1)["cccd"].encode() + b",invalid,line 3: full_name: not valid UTF-8"
    assert report[3] == b"00108500\xff002,invalid,line 4: cccd: not valid UTF-8"
    assert summary["statuses"]["invalid"]["count"] == 2


@pytest.fixture(scope="module")
def country(tmp_path_factory):
    """A synthetic country of 3000 people, built, with its register."""
    _, data, population = make_country(tmp_path_factory.mktemp("country"), 3000, seed=8)
    return data, population


@pytest.mark.parametrize("jobs", [2, 3, 4])
def test_ranges_read_by_workers_give_what_one_process_gives(country, tmp_path, jobs, monkeypatch):
    import lookup.sync.reconcile as module

    data, population = country
    ranges, restarts = module._reconcile_ranges, []

    def watched(extract, starts, task, progress):
        parts = ranges(extract, starts, task, progress)
        if parts is None:
            restarts.append(True)
        return parts

    monkeypatch.setattr(module, "_reconcile_ranges", watched)
    # Quoted line ends in some names: a cut may fall inside one (the read then starts over in
    # one process), and a range's reader must stop at a row boundary.
    lines = population.read_text(encoding="utf-8").split("\n")
    for i in range(5, len(lines) - 1, 97):
        cccd, name, rest = lines[i].split(",", 2)
        lines[i] = f'{cccd},"{name.replace(" ", chr(10), 1)}",{rest}'
    if jobs == 2:  # the middle of the file inside a long quoted name that ends in a line end
        lines = _cut_inside_a_quote(lines)
    quoted = tmp_path / "p.csv"
    quoted.write_text("\n".join(lines), encoding="utf-8")
    runs = []
    for n in (1, jobs):
        report, fixes = tmp_path / f"r{n}.csv", tmp_path / f"c{n}.csv"
        summary = reconcile(
            data,
            str(quoted),
            report=str(report),
            corrections=str(fixes),
            today=TODAY,
            jobs=n,
            min_split=1,
        )
        runs.append((report.read_bytes(), fixes.read_bytes(), summary["statuses"]))
    assert runs[0] == runs[1]
    assert runs[0][2]["mismatch"]["count"] > 100
    assert runs[0][2]["invalid"]["count"] == (jobs == 2)  # the 400-letter name
    assert restarts == ([True] if jobs == 2 else [])


def _cut_inside_a_quote(lines: list[str]) -> list[str]:
    """Give one row a 400-letter quoted name ending in a line end, placed so that the first
    line end after the middle of the file is that one: a cut there is inside the quote."""
    size = sum(len(line.encode()) + 1 for line in lines) - 1
    offset = 0
    for i, line in enumerate(lines[1:-1], start=1):
        offset += len(lines[i - 1].encode()) + 1
        cccd, _, rest = line.split(",", 2)
        padded = f'{cccd},"{"A" * 400}\n",{rest}'
        middle = (size + len(padded.encode()) - len(line.encode())) // 2
        if offset + 14 <= middle < offset + 414:
            return [*lines[:i], padded, *lines[i + 1 :]]
    raise AssertionError("no row lies across the middle")


def test_a_killed_reconcile_leaves_no_report_and_no_delta(data, tmp_path):
    population = write_population(tmp_path / "p.csv", [register(0), register(1, gender="2")])
    report, fixes = tmp_path / "out" / "r.csv", tmp_path / "out" / "c.csv"
    command = [sys.executable, "-m", "lookup", "reconcile", population, "--data", str(data.root)]
    done = subprocess.run(
        [*command, "--out", str(report), "--corrections", str(fixes)],
        capture_output=True,
        env={**os.environ, "LOOKUP_CRASH_AT": "reconcile-written"},
    )
    assert done.returncode == -9  # SIGKILL, with everything written but not yet renamed
    assert not report.exists() and not fixes.exists()
    # What is left behind is hidden temporary files, never a file under either name.
    assert all(p.name.startswith(".") or p.name.startswith("tmp") for p in report.parent.iterdir())
