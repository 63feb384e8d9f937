"""Row validation (docs/DESIGN.md 5) on both implementations, and their agreement."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lookup.errors import RowError
from lookup.reference import record as rec

from helpers.rows import COLUMNS, make_row, split

# --- helpers ------------------------------------------------------------------------------------


def check(impl, row: dict[str, str], *, delta: bool = False):
    """Validate one row given as a dict (its keys are the header)."""
    columns, values = split(row)
    return impl.validate.RowValidator(columns, delta).validate(values)


def error(impl, row: dict[str, str], *, delta: bool = False) -> tuple[str, str]:
    with pytest.raises(RowError) as info:
        check(impl, row, delta=delta)
    assert str(info.value) == info.value.message
    return info.value.field, info.value.message


def decoded(impl, row: dict[str, str], **kw) -> rec.Record:
    return rec.decode(check(impl, row, **kw).record)


def test_compiled_core_is_compiled(compiled):
    assert compiled.validate.__file__.endswith((".so", ".pyd"))


# --- every DESIGN 5 message ----------------------------------------------------------------------

FACILITY_FORM = "must be 2 digits then 3 digits or capital letters"
CARD_FORM = "must be 2 capital letters, a benefit level 1-5 and 12 digits"
STATUS_FORM = (
    "must be one of active, revoked, reduced, reduced_out_province, reduced_in_province, "
    "reduced_rejoined, reduced_stopped"
)

MESSAGES = [
    ({"cccd": ""}, "cccd: required"),
    ({"cccd": None}, "cccd: required"),
    ({"cccd": "00108501234"}, "cccd: must be 12 digits"),
    ({"cccd": "0010850123456"}, "cccd: must be 12 digits"),
    ({"cccd": "00108501234x"}, "cccd: must be 12 digits"),
    ({"cccd": " 001085012345"}, "cccd: must be 12 digits"),
    ({"cccd": "٠٠١٠٨٥٠١٢٣٤٥"}, "cccd: must be 12 digits"),  # Arabic-Indic digits
    ({"cccd": "００1085012345"}, "cccd: must be 12 digits"),  # full-width digits
    ({"bhxh_code": ""}, "bhxh_code: required"),
    ({"bhxh_code": "011234567"}, "bhxh_code: must be 10 digits"),
    ({"bhxh_code": "01123456789"}, "bhxh_code: must be 10 digits"),
    ({"card_no": ""}, "card_no: required"),
    ({"card_no": "dn4010112345678"}, f"card_no: {CARD_FORM}"),
    ({"card_no": "DN6010112345678"}, f"card_no: {CARD_FORM}"),
    ({"card_no": "DN0010112345678"}, f"card_no: {CARD_FORM}"),
    ({"card_no": "D14010112345678"}, f"card_no: {CARD_FORM}"),
    ({"card_no": "DN401011234567"}, f"card_no: {CARD_FORM}"),
    ({"card_no": "DN4010112345678 "}, f"card_no: {CARD_FORM}"),
    ({"card_no": "ĐN4010112345678"}, f"card_no: {CARD_FORM}"),
    ({"card_no": "DN4010112345679"}, "card_no: last 10 digits must equal bhxh_code"),
    ({"full_name": ""}, "full_name: required"),
    ({"full_name": " \t\u00a0\u3000 "}, "full_name: required"),
    ({"full_name": "Nguyễn\x00An"}, "full_name: contains a control character"),
    ({"full_name": "Nguyễn An\x7f"}, "full_name: contains a control character"),
    ({"full_name": "Nguyễn\x9bAn"}, "full_name: contains a control character"),
    ({"full_name": "a" * 101}, "full_name: 101 characters; at most 100"),
    ({"full_name": "Nguyễn " * 40}, "full_name: 279 characters; at most 100"),
    ({"full_name": "x\x00" + "a" * 200}, "full_name: contains a control character"),
    ({"dob": ""}, "dob: required"),
    ({"dob": "12/04/1985"}, "dob: must be YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"dob": "1985-4-12"}, "dob: must be YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"dob": "198"}, "dob: must be YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"dob": "1985-04-12T00"}, "dob: must be YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"dob": "1985 04 12"}, "dob: must be YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"dob": "١٩٨٥"}, "dob: must be YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"dob": "1985-02-29"}, "dob: not a real date"),
    ({"dob": "1985-13"}, "dob: not a real date"),
    ({"dob": "1985-00"}, "dob: not a real date"),
    ({"dob": "1985-01-00"}, "dob: not a real date"),
    ({"dob": "1799"}, "dob: not a real date"),
    ({"dob": "2300-01-01"}, "dob: not a real date"),
    ({"gender": ""}, "gender: required"),
    ({"gender": "0"}, "gender: must be 1 (male), 2 (female) or 3 (unknown)"),
    ({"gender": "M"}, "gender: must be 1 (male), 2 (female) or 3 (unknown)"),
    ({"gender": "1 "}, "gender: must be 1 (male), 2 (female) or 3 (unknown)"),
    ({"gender": "١"}, "gender: must be 1 (male), 2 (female) or 3 (unknown)"),
    ({"address": "Hà Nội\x01"}, "address: contains a control character"),
    ({"address": "x" * 201}, "address: 201 characters; at most 200"),
    ({"facility_code": ""}, "facility_code: required"),
    ({"facility_code": "1832"}, f"facility_code: {FACILITY_FORM}"),
    ({"facility_code": "01c51"}, f"facility_code: {FACILITY_FORM}"),
    ({"facility_code": "A1832"}, f"facility_code: {FACILITY_FORM}"),
    ({"facility_code": "018320"}, f"facility_code: {FACILITY_FORM}"),
    ({"valid_from": ""}, "valid_from: required"),
    ({"valid_from": "2026-1-01"}, "valid_from: must be YYYY-MM-DD"),
    ({"valid_from": "2026-01"}, "valid_from: must be YYYY-MM-DD"),
    ({"valid_from": "2026-02-29"}, "valid_from: not a real date"),
    ({"valid_to": None}, "valid_to: required"),
    ({"valid_to": "31/12/2026"}, "valid_to: must be YYYY-MM-DD"),
    ({"valid_to": "2026-04-31"}, "valid_to: not a real date"),
    ({"valid_to": "2025-12-31"}, "valid_to: before valid_from"),
    ({"five_year_date": "2020"}, "five_year_date: must be YYYY-MM-DD"),
    ({"five_year_date": "2021-02-29"}, "five_year_date: not a real date"),
    ({"region_code": "K4"}, "region_code: must be K1, K2 or K3"),
    ({"region_code": "k1"}, "region_code: must be K1, K2 or K3"),
    ({"status": "Active"}, f"status: {STATUS_FORM}"),
    ({"status": "cancelled"}, f"status: {STATUS_FORM}"),
    ({"managed_by": "army"}, "managed_by: must be vss, defence or police"),
    ({"managed_by": " vss"}, "managed_by: must be vss, defence or police"),
    ({"prev_card_no": "HS401011234567"}, f"prev_card_no: {CARD_FORM}"),
    ({"prev_card_no": "DN4010112345678"}, "prev_card_no: same as card_no"),
    (
        {"prev_card_no": "HS4010112345678", "prev_valid_to": "2025/12/31"},
        "prev_valid_to: must be YYYY-MM-DD",
    ),
    (
        {"prev_card_no": "HS4010112345678", "prev_valid_to": "2025-12-32"},
        "prev_valid_to: not a real date",
    ),
    ({"prev_valid_to": "2025-12-31"}, "prev_valid_to: given without prev_card_no"),
    (
        {"prev_card_no": None, "prev_valid_to": "2025-12-31"},
        "prev_valid_to: given without prev_card_no",
    ),
    ({"issuer": "BHXH\x9f"}, "issuer: contains a control character"),
    ({"issuer": "ư" * 201}, "issuer: 201 characters; at most 200"),
    # First failure wins, in the DESIGN 5 order.
    ({"cccd": "x", "bhxh_code": "x"}, "cccd: must be 12 digits"),
    ({"full_name": "", "dob": ""}, "full_name: required"),
    ({"issuer": "\x00", "status": "x"}, f"status: {STATUS_FORM}"),
    ({"valid_to": "2025-12-31", "valid_from": "x"}, "valid_from: must be YYYY-MM-DD"),
]


@pytest.mark.parametrize(("overrides", "message"), MESSAGES)
def test_message(impl, overrides, message):
    assert error(impl, make_row(**overrides)) == (message.split(":")[0], message)


def test_every_design_message_is_reached():
    design = {message for _, message in MESSAGES}
    for tail in ("required", "must be"):
        assert any(tail in m for m in design)
    fields = {m.split(":")[0] for m in design}
    assert fields == set(COLUMNS)


def test_value_count(impl):
    columns, values = split(make_row())
    validator = impl.validate.RowValidator(columns)
    with pytest.raises(RowError) as info:
        validator.validate([*values, ""])
    assert (info.value.field, info.value.message) == ("row", "row: 18 fields; the header has 17")
    with pytest.raises(RowError, match=r"^row: 16 fields; the header has 17$"):
        validator.validate(values[:-1])


# --- bad UTF-8 (lone surrogates from surrogateescape) -------------------------------------------


def test_lone_surrogate(impl):
    bad = b"H\xe0 N\xf4i".decode("utf-8", "surrogateescape")
    assert error(impl, make_row(address=bad)) == ("address", "address: not valid UTF-8")


def test_lone_surrogate_first_in_file_order(impl):
    bad = "\udcc3"
    # An earlier check in DESIGN order (cccd) still loses to bad UTF-8 anywhere in the row.
    row = make_row(cccd="x", dob=bad, issuer=None)
    row = {"issuer": "ok" + bad, **row}
    assert list(row).index("issuer") < list(row).index("dob")
    assert error(impl, row) == ("issuer", "issuer: not valid UTF-8")


def test_lone_surrogate_in_an_astral_string(impl):
    got = error(impl, make_row(full_name="😀\udcff"))
    assert got == ("full_name", "full_name: not valid UTF-8")


# --- delta op (SPEC 1.2) ------------------------------------------------------------------------


def test_delta_upsert_is_the_extract_row(impl):
    row = make_row()
    assert check(impl, {"op": "upsert", **row}, delta=True) == check(impl, row)
    assert check(impl, row).op == "upsert"


def test_delta_delete_needs_only_cccd(impl):
    got = check(impl, {"op": "delete", "cccd": "001085012345"}, delta=True)
    assert got == ("delete", rec.cccd_key("001085012345"), None, None, None, None, 0)
    assert got.op == "delete" and got.record is None and got.quality == 0


def test_delta_delete_ignores_other_fields(impl):
    row = make_row(op="delete", full_name="", dob="nonsense", status="x")
    assert check(impl, row, delta=True).op == "delete"


def test_delta_delete_still_checks_cccd(impl):
    assert error(impl, {"op": "delete", "cccd": "123"}, delta=True) == (
        "cccd",
        "cccd: must be 12 digits",
    )


@pytest.mark.parametrize("op", ["", "Upsert", "insert", " delete"])
def test_delta_bad_op(impl, op):
    assert error(impl, make_row(op=op), delta=True) == ("op", "op: must be upsert or delete")


def test_op_column_ignored_in_an_extract(impl):
    assert check(impl, make_row(op="nonsense")) == check(impl, make_row())


# --- columns ------------------------------------------------------------------------------------


def test_column_order_is_free(impl):
    row = make_row(prev_card_no="HS4010112345678", prev_valid_to="2025-12-31", region_code="K2")
    backwards = dict(reversed(list(row.items())))
    assert list(backwards) != list(row)
    assert check(impl, backwards) == check(impl, row)


def test_missing_optional_columns_are_absent(impl):
    optional = (
        "address",
        "five_year_date",
        "region_code",
        "status",
        "managed_by",
        "prev_card_no",
        "prev_valid_to",
        "issuer",
    )
    empty = make_row(**{name: "" for name in optional})
    missing = make_row(**{name: None for name in optional})
    assert len(missing) == len(COLUMNS) - len(optional)
    assert check(impl, missing) == check(impl, empty)
    got = decoded(impl, missing)
    assert (got.address, got.issuer, got.region_code, got.five_year_date) == (None,) * 4
    assert (got.status, got.managed_by, got.prev_card_no, got.prev_valid_to) == (
        "active",
        "vss",
        None,
        None,
    )


def test_valid_row_keys(impl):
    got = check(impl, make_row(prev_card_no="HS4010112345678"))
    assert got.cccd_key == (1085012345).to_bytes(8, "big")
    assert got.bhxh_key == (112345678).to_bytes(8, "big")
    assert got.card_no == b"DN4010112345678"
    assert got.prev_card_no == b"HS4010112345678"
    assert check(impl, make_row()).prev_card_no is None


def test_record_fields(impl):
    got = decoded(
        impl,
        make_row(
            gender="2",
            cccd="001185012345",
            status="reduced_rejoined",
            managed_by="police",
            region_code="K3",
            five_year_date="2020-02-29",
            dob="1985-02",
            prev_card_no="HS4010112345678",
            prev_valid_to="2025-12-31",
        ),
    )
    assert (got.gender, got.status, got.managed_by, got.region_code) == (
        "female",
        "reduced_rejoined",
        "police",
        "K3",
    )
    assert (got.dob, got.five_year_date, got.prev_valid_to) == (19850200, 20200229, 20251231)
    assert (got.valid_from, got.valid_to) == (20260101, 20261231)
    assert (got.card_no, got.bhxh_code, got.facility_code) == (
        "DN4010112345678",
        "0112345678",
        "01832",
    )


# --- data quality (DESIGN 5, DOMAIN.md 1) --------------------------------------------------------


@pytest.mark.parametrize(
    ("cccd", "dob", "gender", "flags"),
    [
        ("001085012345", "1985-04-12", "1", 0),
        ("001185012345", "1985-04-12", "2", 0),
        ("001185012345", "1985-04-12", "1", 1),  # a woman's digit for a man
        ("001085012345", "1985", "2", 1),
        ("001085012345", "1985", "3", 0),  # unknown gender never disagrees
        ("001185012345", "1985", "3", 0),
        ("001285012345", "1985", "3", 1),  # 2000s digit for a 1985 birth
        ("001205012345", "2005-01", "1", 0),
        ("001305012345", "2005", "2", 0),
        ("001405012345", "2105", "1", 0),
        ("001505012345", "2105", "2", 0),
        ("001605012345", "2205", "1", 0),
        ("001705012345", "2205", "2", 0),
        ("001899012345", "1899-12-31", "1", 0),
        ("001999012345", "1899", "2", 0),
        ("001899012345", "1999", "1", 1),
        ("001086012345", "1985", "1", 2),  # digits 5-6 say 1986
        ("001000012345", "1900", "1", 0),
        ("003085012345", "1985", "1", 4),  # 003 is no province
        ("000085012345", "1985", "1", 4),
        ("096085012345", "1985", "1", 0),
        ("097085012345", "1985", "1", 4),
        ("999386012345", "1985", "1", 7),
    ],
)
def test_quality(impl, cccd, dob, gender, flags):
    assert check(impl, make_row(cccd=cccd, dob=dob, gender=gender)).quality == flags


# --- text normalisation (DESIGN 5) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        (unicodedata.normalize("NFD", "Nguyễn Văn An"), "Nguyễn Văn An"),
        ("  Nguyễn   Văn\tAn  ", "Nguyễn Văn An"),
        ("Nguyễn\u00a0Văn\r\nAn", "Nguyễn Văn An"),
        ("Nguyễn\u3000\u2003Văn\x1cAn\x85", "Nguyễn Văn An"),
        ("Nguye\u0302\u0303n", "Nguyễn"),  # circumflex then tilde composes to U+1EC5
        ("Nguye\u0303\u0302n", "Nguy\u1ebd\u0302n"),  # the other order does not fully compose
        ("\u212bngström", "Ångström"),  # Kelvin/Angstrom signs are NFC singletons
        ("Ｎｇｕｙễｎ", "Ｎｇｕｙễｎ"),  # NFC keeps full-width letters (NFKC would not)
        ("Lò Văn 😀", "Lò Văn 😀"),
    ],
)
def test_text_normalisation(impl, given, stored):
    got = decoded(impl, make_row(full_name=given, address=given, issuer=given))
    assert got.full_name == got.address == got.issuer == stored


def test_length_counts_after_normalisation(impl):
    assert decoded(impl, make_row(full_name="ễ" * 100)).full_name == "ễ" * 100
    decomposed = unicodedata.normalize("NFD", "ễ" * 100)
    assert len(decomposed) == 300
    assert decoded(impl, make_row(full_name=decomposed)).full_name == "ễ" * 100
    assert decoded(impl, make_row(full_name="  " + "a  " * 50)).full_name == " ".join("a" * 50)
    assert error(impl, make_row(full_name=unicodedata.normalize("NFD", "ễ" * 101))) == (
        "full_name",
        "full_name: 101 characters; at most 100",
    )
    assert decoded(impl, make_row(address="Đ" * 200)).address == "Đ" * 200
    assert error(impl, make_row(address="a " * 100 + "b")) == (
        "address",
        "address: 201 characters; at most 200",
    )


def test_blank_optional_text_is_absent(impl):
    got = decoded(impl, make_row(address=" \t ", issuer="\u00a0"))
    assert got.address is None and got.issuer is None


def test_fast_text_ranges_are_nfc_starters(compiled):
    # The compiled fast path skips unicodedata for these code points (core/validate.pyx); every
    # one must be NFC on its own, a starter, no control or whitespace, and never compose with
    # what precedes it (no canonical decomposition has it as its second half).
    second_halves = set()
    for cp in range(0x110000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second_halves.add(int(parts[1], 16))
    ranges = compiled.validate._FAST_TEXT_RANGES
    assert ranges
    for first, last in ranges:
        for cp in range(first, last + 1):
            ch = chr(cp)
            assert unicodedata.is_normalized("NFC", ch), hex(cp)
            assert unicodedata.combining(ch) == 0, hex(cp)
            assert unicodedata.category(ch) != "Cc", hex(cp)
            assert not ch.isspace(), hex(cp)
            assert cp not in second_halves, hex(cp)
            assert unicodedata.normalize("NFC", "a" + ch + "b") == "a" + ch + "b", hex(cp)


def test_vietnamese_letters_take_the_fast_path(compiled):
    letters = "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝĂĐĨŨƠƯẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸ"
    letters += letters.lower()
    for ch in letters:
        assert any(a <= ord(ch) <= b for a, b in compiled.validate._FAST_TEXT_RANGES), ch


def test_control_characters_are_c0_c1_and_del():
    # core/validate.pyx tests category Cc as < 0x20 or 0x7F-0x9F.
    cc = [cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cc"]
    assert cc == [*range(0x20), *range(0x7F, 0xA0)]


def test_ascii_whitespace_is_what_str_split_sees():
    # core/validate.pyx collapses these ASCII code points in C.
    assert [cp for cp in range(128) if chr(cp).isspace()] == [9, 10, 11, 12, 13, 28, 29, 30, 31, 32]


# --- compiled and reference agree (hypothesis) ---------------------------------------------------

ALL_COLUMNS = ("op", *COLUMNS)
ODD_CHARACTERS = st.sampled_from(
    [
        " ",
        "\t",
        "\n",
        "\x1f",
        "\x00",
        "\x7f",
        "\x85",
        "\x9f",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\u0301",
        "\u0302",
        "\u0303",
        "\u0323",
        "ễ",
        "Đ",
        "ư",
        "Å",
        "\u212b",
        "\ufb01",
        "😀",
        "\udc80",
        "\udcff",
        "\ud800",
        "-",
        "0",
        "9",
        "K",
        "٣",
        "５",
    ]
)
TEXT = st.text(st.one_of(st.characters(), ODD_CHARACTERS), max_size=40)
LONG_TEXT = st.builds(
    lambda unit, n, tail: unit * n + tail,
    st.sampled_from(["a", "ễ", "e\u0302\u0303", " ", "Đ ", "\t"]),
    st.integers(0, 210),
    TEXT,
)
SAMPLES = st.sampled_from(
    sorted(
        {v for row in (make_row(),) for v in row.values()}
        | {
            "",
            "delete",
            "upsert",
            "K1",
            "K3",
            "revoked",
            "police",
            "2026-02-28",
            "2020",
            "1950-02",
            "1800",
            "2299-12-31",
            "2300",
            "HS4010112345678",
            "001185012345",
            "1",
            "2",
            "3",
        }
    )
)
VALUE = st.one_of(TEXT, LONG_TEXT, SAMPLES)


def outcome(impl, columns, values, delta):
    try:
        return ("ok", tuple(impl.validate.RowValidator(columns, delta).validate(values)))
    except RowError as exc:
        return ("error", exc.field, exc.message, str(exc))


def assert_agree(compiled, reference, columns, values, delta):
    want = outcome(reference, columns, values, delta)
    assert outcome(compiled, columns, values, delta) == want


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    column=st.sampled_from(ALL_COLUMNS),
    value=VALUE,
    second=st.one_of(st.none(), st.tuples(st.sampled_from(ALL_COLUMNS), VALUE)),
    delta=st.booleans(),
    op=st.sampled_from(["upsert", "delete"]),
    shuffle=st.randoms(use_true_random=False),
)
@example(
    column="full_name",
    value="e\u0302\u0303" * 100,
    second=None,
    delta=False,
    op="upsert",
    shuffle=None,
)
def test_agree_on_one_mutated_field(compiled, reference, column, value, second, delta, op, shuffle):
    row = make_row(op=op if delta else None)
    row[column] = value
    if second is not None:
        row[second[0]] = second[1]
    columns, values = split(row)
    if shuffle is not None:
        order = list(range(len(columns)))
        shuffle.shuffle(order)
        columns, values = [columns[i] for i in order], [values[i] for i in order]
    assert_agree(compiled, reference, columns, values, delta)


@settings(max_examples=500, deadline=None)
@given(
    columns=st.lists(st.sampled_from(ALL_COLUMNS), unique=True, min_size=1),
    data=st.data(),
    extra=st.integers(-1, 1),
    delta=st.booleans(),
)
def test_agree_on_random_rows(compiled, reference, columns, data, extra, delta):
    count = max(0, len(columns) + extra) if data.draw(st.booleans()) else len(columns)
    values = data.draw(st.lists(VALUE, min_size=count, max_size=count))
    assert_agree(compiled, reference, columns, values, delta)


@settings(max_examples=300, deadline=None)
@given(
    cccd=st.text("0123456789", min_size=12, max_size=12),
    year=st.integers(1800, 2299),
    month=st.integers(0, 12),
    gender=st.sampled_from("123"),
)
def test_agree_on_quality(compiled, reference, cccd, year, month, gender):
    dob = f"{year}" if month == 0 else f"{year}-{month:02d}"
    columns, values = split(make_row(cccd=cccd, dob=dob, gender=gender))
    got = outcome(compiled, columns, values, False)
    assert got[0] == "ok"
    assert got == outcome(reference, columns, values, False)


@settings(max_examples=300, deadline=None)
@given(
    group=st.one_of(
        st.sampled_from(["DN", "QN", "CY", "CA", "CN", "LH", "CT", "TE"]),
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    ),
    level=st.sampled_from("12345"),
    province=st.text("0123456789", min_size=2, max_size=2),
    managed_by=st.sampled_from(["vss", "defence", "police", ""]),
)
def test_agree_on_card_quality(compiled, reference, group, level, province, managed_by):
    """The card code's data-quality flags (group, level, province, ministry) agree."""
    card = f"{group}{level}{province}0112345678"
    columns, values = split(make_row(card_no=card, managed_by=managed_by))
    got = outcome(compiled, columns, values, False)
    assert got[0] == "ok"
    assert got == outcome(reference, columns, values, False)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from([("full_name", 100), ("address", 200), ("issuer", 200)]),
    pieces=st.lists(st.sampled_from(["Nguyễn", "a", "bcdefgh", " ", "  ", "Đ", "ỹ", "x y"])),
    excess=st.integers(-3, 2),
)
def test_agree_on_texts_at_their_limit(compiled, reference, field, pieces, excess):
    """Texts of about their limit in code points, made of runs of ASCII (copied at once by the
    compiled fast path) and Vietnamese letters: the same record or the same message."""
    column, limit = field
    text = "".join(pieces) or "a"
    text = (text * (limit // len(text) + 1))[: limit + excess].strip() or "a"
    row = make_row()
    row[column] = text
    columns, values = split(row)
    assert_agree(compiled, reference, columns, values, False)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(["full_name", "address", "issuer"]),
    text=st.text(
        st.sampled_from(" \ta\u00a0\u00bf\u00c0Đ\u024f\u0250\u1e00\u1eff\u1f71ễ"), max_size=30
    ),
)
def test_agree_on_texts_at_the_fast_ranges_edges(compiled, reference, field, text):
    """Texts of the code points just in and just out of the fast ranges (U+1F71 is not NFC),
    with spaces, a tab and a no-break space: the compiled path copies a text in one pass only
    when it normalises to itself."""
    row = make_row()
    row[field] = text
    columns, values = split(row)
    assert_agree(compiled, reference, columns, values, False)
