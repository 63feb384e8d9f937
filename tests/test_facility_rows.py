"""The registry row checks (lookup/facilities/rows.py) and the file reader over any input
(hypothesis): every valid row is taken as written (normalised), every single broken field is
named alone and never quoted, a file of valid rows in any column order, BOM, line end or gzip
reads back as the facilities and officers it holds, on both implementations of the splitter."""

from __future__ import annotations

import csv
import gzip
import io
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookup.facilities.importer import RegistryRejected, read_registry_file
from lookup.facilities.rows import (
    COLUMNS,
    LEVELS,
    PROVINCES,
    BadRow,
    Facility,
    Officer,
    RegistryRows,
    check_row,
)
from lookup.names import fold_name, normalise_text

from helpers.twins import use_implementation

CODES = st.from_regex(r"[0-9]{2}[0-9A-Z]{3}", fullmatch=True)
CCCDS = st.from_regex(r"[0-9]{12}", fullmatch=True)
VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
)
LETTERS = st.sampled_from(VIETNAMESE + VIETNAMESE.upper() + "’'-.,\"")
CHARS = st.one_of(LETTERS, st.sampled_from(" \t\n"), st.characters(exclude_categories=("Cc", "Cs")))
NAMES = st.text(CHARS, min_size=1, max_size=60).filter(lambda t: bool(normalise_text(t)))
PROVINCE_CODES = st.sampled_from(sorted(PROVINCES))


@st.composite
def rows(draw, officer: bool | None = None) -> dict[str, str]:
    """A valid row as a file would hold it (officer columns empty when it has none)."""
    row = {
        "facility_code": draw(CODES),
        "name": draw(NAMES),
        "province": draw(PROVINCE_CODES),
        "level": draw(st.sampled_from(LEVELS)),
        "officer_cccd": "",
        "officer_name": "",
    }
    if officer if officer is not None else draw(st.booleans()):
        row.update(officer_cccd=draw(CCCDS), officer_name=draw(NAMES))
    return row


@given(rows())
def test_a_valid_row_is_taken_normalised(row):
    facility, officer = check_row(row)
    assert facility == Facility(
        row["facility_code"], normalise_text(row["name"]), row["province"], row["level"]
    )
    if row["officer_cccd"]:
        assert officer == Officer(row["officer_cccd"], normalise_text(row["officer_name"]))
        assert unicodedata.is_normalized("NFC", officer.name)
    else:
        assert officer is None


def _not(pattern_ok):
    return st.text(max_size=14).filter(lambda t: t and not pattern_ok(t))


BROKEN = {
    "facility_code": _not(lambda t: check_code(t)),
    "name": st.one_of(
        st.text(st.sampled_from(" \t\n\u3000"), max_size=4),
        st.text(LETTERS, min_size=201, max_size=230),
        st.builds(lambda a, b: a + "\x07" + b, NAMES, NAMES),
    ),
    "province": st.text(max_size=4).filter(lambda t: t not in PROVINCES),
    "level": st.text(max_size=12).filter(lambda t: t not in LEVELS),
    "officer_cccd": _not(lambda t: len(t) == 12 and all("0" <= c <= "9" for c in t)),
    "officer_name": st.one_of(
        st.text(LETTERS, min_size=101, max_size=120),
        st.builds(lambda a, b: a + "\x1b" + b, NAMES, NAMES),
    ),
}


def check_code(text: str) -> bool:
    return (
        len(text) == 5
        and all("0" <= c <= "9" for c in text[:2])
        and all("0" <= c <= "9" or "A" <= c <= "Z" for c in text[2:])
    )


@given(st.data(), st.sampled_from(sorted(BROKEN)))
def test_one_broken_field_is_named_alone_and_never_quoted(data, field):
    row = data.draw(rows(officer=field.startswith("officer")))
    row[field] = data.draw(BROKEN[field])
    with pytest.raises(BadRow) as caught:
        check_row(row)
    assert [f for f, _ in caught.value.problems] == [field]
    reason = caught.value.problems[0][1]
    if len(row[field].strip()) >= 3:
        assert row[field].strip() not in reason


@given(st.data(), st.sampled_from(COLUMNS[:4]))
def test_bytes_that_were_no_utf8_are_named(data, field):
    row = data.draw(rows())
    row[field] += "\udcff"
    with pytest.raises(BadRow) as caught:
        check_row(row)
    assert caught.value.problems == [(field, "not valid UTF-8")]


@given(st.dictionaries(st.sampled_from(COLUMNS), st.text(max_size=20)))
def test_any_values_give_a_row_or_bad_row(values):
    try:
        check_row(values)
    except BadRow as exc:
        assert exc.problems and len({f for f, _ in exc.problems}) == len(exc.problems)


@given(st.lists(rows(), min_size=1, max_size=8), st.data())
def test_a_facility_conflicts_exactly_when_it_differs(first_rows, data):
    seen: dict[str, tuple[int, Facility]] = {}
    registry = RegistryRows()
    for line, row in enumerate(first_rows, 2):
        if seen and data.draw(st.booleans()):  # repeat an earlier code
            row["facility_code"] = data.draw(st.sampled_from(sorted(seen)))
        facility, officer = check_row(row)
        conflicts = registry.add(line, check_row(row))
        first_line, first = seen.setdefault(facility.code, (line, facility))
        expected = [
            (field, f"differs from line {first_line} for facility {facility.code}")
            for field in ("name", "province", "level")
            if getattr(facility, field) != getattr(first, field)
        ]
        if expected:
            assert conflicts == expected
        elif officer is not None:
            assert all(field == "officer_name" for field, _ in conflicts)


# -- whole files ---------------------------------------------------------------------------------
@st.composite
def registries(draw):
    """Facilities (unique codes) with 0-3 officers each, as one valid file's rows, shuffled."""
    facilities = draw(
        st.dictionaries(
            CODES,
            st.tuples(NAMES, PROVINCE_CODES, st.sampled_from(LEVELS)),
            min_size=1,
            max_size=6,
        )
    )
    model_officers: dict[str, dict[str, str]] = {}
    file_rows = []
    for code, (name, province, level) in facilities.items():
        base = {"facility_code": code, "name": name, "province": province, "level": level}
        officers = draw(st.dictionaries(CCCDS, NAMES, max_size=3))
        if officers:
            model_officers[code] = {c: normalise_text(n) for c, n in officers.items()}
        for cccd, officer_name in officers.items() or [("", "")]:
            file_rows.append({**base, "officer_cccd": cccd, "officer_name": officer_name})
    model = {
        code: Facility(code, normalise_text(name), province, level)
        for code, (name, province, level) in facilities.items()
    }
    return draw(st.permutations(file_rows)), model, model_officers


def _file_bytes(file_rows, columns, *, bom: bool, line_end: str, gzipped: bool) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=line_end)
    writer.writerow(columns)
    for row in file_rows:
        writer.writerow([row[c] for c in columns])
    data = (("\ufeff" if bom else "") + text.getvalue()).encode("utf-8")
    return gzip.compress(data) if gzipped else data


@pytest.mark.parametrize("implementation", ["compiled", "python"])
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(registries(), st.permutations(COLUMNS), st.booleans(), st.sampled_from(["\n", "\r\n"]),
       st.booleans())  # fmt: skip
def test_a_file_of_valid_rows_reads_back_as_its_registry(
    monkeypatch, tmp_path, request, implementation, registry, columns, bom, line_end, gzipped
):
    impl = request.getfixturevalue("compiled" if implementation == "compiled" else "reference")
    use_implementation(monkeypatch, impl)
    file_rows, facilities, officers = registry
    path = tmp_path / "registry.csv"
    path.write_bytes(_file_bytes(file_rows, columns, bom=bom, line_end=line_end, gzipped=gzipped))
    read, count = read_registry_file(str(path))
    assert count == len(file_rows)
    assert read.facilities == facilities
    assert read.officers == officers


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(registries(), st.data())
def test_one_bad_row_anywhere_rejects_the_file_naming_its_line(tmp_path, registry, data):
    file_rows, _, _ = registry
    index = data.draw(st.integers(0, len(file_rows) - 1))
    file_rows = [dict(r) for r in file_rows]
    file_rows[index]["level"] = "district"
    path = tmp_path / "registry.csv"
    path.write_bytes(_file_bytes(file_rows, COLUMNS, bom=False, line_end="\n", gzipped=False))
    with pytest.raises(RegistryRejected) as caught:
        read_registry_file(str(path))
    # A line is where its row starts: quoted line ends in the rows before push it down.
    line = 2 + index + sum(v.count("\n") for row in file_rows[:index] for v in row.values())
    assert (line, "level") in [(line, field) for line, field, _ in caught.value.errors]


# -- the name key --------------------------------------------------------------------------------
@given(NAMES)
def test_the_name_key_ignores_case_spacing_and_normal_form(name):
    key = fold_name(name)
    assert fold_name(key) == key
    assert fold_name(name.upper()) == fold_name(name.lower()) or any(
        unicodedata.category(c) == "Ll" and c.upper().lower() != c for c in name
    )  # a few letters do not come back from upper case (ß, ŉ...)
    assert fold_name(unicodedata.normalize("NFD", name)) == key
    assert fold_name("  " + name.replace(" ", " \t ") + " ") == key


@pytest.mark.parametrize(
    ("old", "new"),
    [("Hòa", "Hoà"), ("Thúy", "Thuý"), ("Khỏe", "Khoẻ"), ("Hóa", "Hoá"), ("Thụy", "Thuỵ"),
     ("Ô’Nin", "Ô'Nin")],
)  # fmt: skip
def test_the_two_tone_placements_and_apostrophes_give_one_key(old, new):
    assert fold_name(old) == fold_name(new)
    assert fold_name(f"Nguyễn {old.upper()}") == fold_name(f"nguyễn {new}")


@pytest.mark.parametrize(("a", "b"), [("Hòa", "Hóa"), ("Hoặc", "Hòac"), ("Dung", "Dũng")])
def test_other_marks_still_differ(a, b):
    assert fold_name(a) != fold_name(b)
