"""ID and facility parsing (docs/DESIGN.md 2), on both implementations, and their agreement."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookup.errors import IdError

CARD_SHAPE = (
    "expected a 12-digit CCCD, a 10-digit social insurance number or a 15-character card code"
)
FACILITY_MESSAGE = "facility: must be 5 characters, 2 digits then 3 digits or capital letters"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("001085012345", ("cccd", "001085012345")),
        ("0112345678", ("bhxh_code", "0112345678")),
        ("DN4010112345678", ("card_no", "DN4010112345678")),
        # DOMAIN 1: hospitals paste ids with spaces, tabs, line ends and in lower case.
        (" 0010 8501 2345 ", ("cccd", "001085012345")),
        ("\t011\r\n2345678\n", ("bhxh_code", "0112345678")),
        ("dn4 01 0112345678", ("card_no", "DN4010112345678")),
        ("Te1010112345679", ("card_no", "TE1010112345679")),
    ],
)
def test_parse_id_accepts(impl, text, expected):
    assert impl.ids.parse_id(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "id: empty"),
        (" \t\r\n ", "id: empty"),
        # Step 3: positions count the original string, pasted spaces included.
        ("12\u0661", "id: non-ASCII character U+0661 at position 3"),  # Arabic-Indic one
        (" 1\uff12", "id: non-ASCII character U+FF12 at position 3"),  # full-width two
        ("1\U0001f600", "id: non-ASCII character U+1F600 at position 2"),
        ("é-", "id: non-ASCII character U+00E9 at position 1"),
        # Step 3 looks at the whole id before step 4 looks for stray ASCII.
        ("-\u0661", "id: non-ASCII character U+0661 at position 2"),
        ("0012-345", "id: unexpected character '-' at position 5"),
        ("0012 '345", "id: unexpected character ''' at position 6"),
        ("12\x0b34", "id: unexpected character U+000B at position 3"),
        ("12\x7f", "id: unexpected character U+007F at position 3"),
        ("12\x00", "id: unexpected character U+0000 at position 3"),
        ("00108501234", "id: 11 digits; a CCCD has 12, a social insurance number 10"),
        ("1", "id: 1 digits; a CCCD has 12, a social insurance number 10"),
        ("1" * 15, "id: 15 digits; a CCCD has 12, a social insurance number 10"),
        ("D14010112345678", "id: card code must start with 2 letters (beneficiary group)"),
        ("1N4010112345678", "id: card code must start with 2 letters (beneficiary group)"),
        ("DN6010112345678", "id: card code character 3 (benefit level) must be 1-5"),
        ("DN0010112345678", "id: card code character 3 (benefit level) must be 1-5"),
        ("DNA010112345678", "id: card code character 3 (benefit level) must be 1-5"),
        ("DN401011234567X", "id: card code characters 4-15 must be digits"),
        ("DN4X10112345678", "id: card code characters 4-15 must be digits"),
        ("DN401011234567", f"id: 14 characters; {CARD_SHAPE}"),
        ("DN40101123456789", f"id: 16 characters; {CARD_SHAPE}"),
        ("ABC", f"id: 3 characters; {CARD_SHAPE}"),
    ],
)
def test_parse_id_rejects_with_design_message(impl, text, message):
    with pytest.raises(IdError) as caught:
        impl.ids.parse_id(text)
    assert str(caught.value) == message


def test_id_error_is_a_value_error(impl):
    with pytest.raises(ValueError):
        impl.ids.parse_id("x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("01832", "01832"), ("01c51", "01C51"), (" 79 0A1\t", "790A1"), ("00000", "00000")],
)
def test_parse_facility_accepts(impl, text, expected):
    assert impl.ids.parse_facility(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "0183", "018322", "A1832", "0A832", "01-32", "0183\u0662", "\uff10\uff11832", "01c5é"],
)
def test_parse_facility_rejects(impl, text):
    with pytest.raises(IdError) as caught:
        impl.ids.parse_facility(text)
    assert str(caught.value) == FACILITY_MESSAGE


def test_compiled_ids_module_is_loaded(compiled):
    # Like yarl's test_quoting_c_loaded: the compiled core must be the extension, not a twin.
    import core.ids
    import core.reader

    assert core.ids.__file__.endswith(".so")
    assert core.reader.__file__.endswith(".so")
    assert compiled.ids is core.ids
    assert compiled.reader is core.reader


def _outcome(parse, text):
    try:
        return parse(text)
    except IdError as exc:
        return ("IdError", str(exc))


# Text close to real ids: digits, letters in both cases, pasted whitespace and a few strays.
_ID_CHARS = st.sampled_from(
    list("0123456789") * 4
    + list("ABCDEHNSTXYZabcdnt")
    + [" ", "\t", "\r", "\n", "-", "'", "\x0b", "\x7f", "\u0661", "\uff11", "\U0001f600", "\udc80"]
)
_ID_LIKE = st.one_of(
    st.text(),
    st.lists(_ID_CHARS, max_size=20).map("".join),
    st.sampled_from([10, 12, 15])
    .flatmap(
        lambda n: st.lists(st.sampled_from(list("0123456789ABZaz5 ")), min_size=n, max_size=n + 2)
    )
    .map("".join),
    # Exactly 12 one-byte characters, digits and the bytes around them (the compiled core checks
    # a plain 12-character id 8 bytes at a time): "*/" and ":?" sit just below and above "0-9".
    st.lists(
        st.sampled_from(list("0123456789") * 6 + list("*/:;?@ a\x10\xb0\xb9")),
        min_size=12,
        max_size=12,
    ).map("".join),
)


@settings(max_examples=2000, deadline=None)
@given(_ID_LIKE)
def test_compiled_and_reference_agree_on_ids(compiled, reference, text):
    assert _outcome(compiled.ids.parse_id, text) == _outcome(reference.ids.parse_id, text)


@settings(max_examples=1000, deadline=None)
@given(_ID_LIKE)
def test_compiled_and_reference_agree_on_facilities(compiled, reference, text):
    assert _outcome(compiled.ids.parse_facility, text) == _outcome(
        reference.ids.parse_facility, text
    )
