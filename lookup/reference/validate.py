"""Extract and delta row validation and record encoding (docs/DESIGN.md 5), in plain Python.

`RowValidator(columns).validate(values)` checks one CSV row in the DESIGN 5 order, first failure
wins, and returns a `ValidRow` holding the record and its index keys, or raises
`RowError(field, message)` with the exact DESIGN 5 message. core/validate.pyx must agree with it
byte for byte; the tests hold both to that.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import NamedTuple, NoReturn

from lookup.errors import RowError
from lookup.reference import dates, record
from lookup.schema import CARD_PROVINCES, GROUP_LEVELS, GROUP_MINISTRY, PROVINCES

__all__ = ("PROVINCES", "RowValidator", "ValidRow", "normalise_text")

# Data-quality flags (DESIGN 5): kept and counted, never a rejection.
QUALITY_SEX_OR_CENTURY = 1
QUALITY_BIRTH_YEAR = 2
QUALITY_PROVINCE = 4
QUALITY_CARD_GROUP = 8
QUALITY_CARD_LEVEL = 16
QUALITY_CARD_PROVINCE = 32
QUALITY_CARD_MINISTRY = 64

# CCCD digit 4 (DOMAIN.md 1): century -> the pair of digits (male, female) it is written as.
CENTURY_DIGIT = {19: 0, 20: 2, 21: 4, 22: 6, 18: 8}

# Patterns are ASCII only: [0-9] is not \d, which would take U+0661 and friends.
CCCD = re.compile(r"[0-9]{12}")
BHXH = re.compile(r"[0-9]{10}")
CARD = re.compile(r"[A-Z]{2}[1-5][0-9]{12}")
FACILITY = re.compile(r"[0-9]{2}[0-9A-Z]{3}")

CARD_FORM = "must be 2 capital letters, a benefit level 1-5 and 12 digits"
GENDER_CODES = {"1": 1, "2": 2, "3": 3}
REGION_CODES = {"K1": 1, "K2": 2, "K3": 3}
STATUS_FORM = "must be one of " + ", ".join(record.STATUSES)


class ValidRow(NamedTuple):
    """One validated row: the record and the keys the build indexes it under."""

    op: str  # "upsert" or "delete"; always "upsert" for an extract
    cccd_key: bytes
    bhxh_key: bytes | None
    card_no: bytes | None
    prev_card_no: bytes | None
    record: bytes | None
    quality: int


def _fail(field: str, tail: str) -> NoReturn:
    raise RowError(field, f"{field}: {tail}")


def normalise_text(value: str) -> str:
    """Apply the DESIGN 5 text normalisation: NFC, whitespace runs to one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def _text(field: str, value: str, limit: int, *, required: bool) -> str | None:
    text = normalise_text(value)
    if not text:
        if required:
            _fail(field, "required")
        return None
    if any(unicodedata.category(c) == "Cc" for c in text):
        _fail(field, "contains a control character")
    if len(text) > limit:
        _fail(field, f"{len(text)} characters; at most {limit}")
    return text


def _date(field: str, value: str, *, required: bool) -> int:
    if not value:
        if required:
            _fail(field, "required")
        return 0
    try:
        return dates.parse_date(value)
    except ValueError as exc:
        _fail(field, str(exc))


def _dob(value: str) -> int:
    if not value:
        _fail("dob", "required")
    try:
        return dates.parse_dob(value)
    except ValueError as exc:
        _fail("dob", str(exc))


def _card(field: str, value: str) -> str:
    if not CARD.fullmatch(value):
        _fail(field, CARD_FORM)
    return value


def quality(cccd: str, dob: int, gender: int) -> int:
    """Return the DESIGN 5 data-quality flags of a valid row (its CCCD against its birth data)."""
    year = dob // 10000
    digit = ord(cccd[3]) - ord("0")
    flags = 0
    century_differs = digit - digit % 2 != CENTURY_DIGIT[year // 100]
    # Even digits are men, odd women; gender 3 (unknown) never disagrees.
    sex_differs = gender != 3 and digit % 2 != gender - 1
    if century_differs or sex_differs:
        flags |= QUALITY_SEX_OR_CENTURY
    if cccd[4:6] != f"{year % 100:02d}":
        flags |= QUALITY_BIRTH_YEAR
    if cccd[:3] not in PROVINCES:
        flags |= QUALITY_PROVINCE
    return flags


def card_quality(card_no: str, managed_by: str) -> int:
    """Return the DESIGN 5 data-quality flags of a valid card code (DOMAIN 1-2, SPEC 3.1)."""
    flags = 0
    levels = GROUP_LEVELS.get(card_no[:2])
    if levels is None:
        flags |= QUALITY_CARD_GROUP
    elif card_no[2] not in levels:
        flags |= QUALITY_CARD_LEVEL
    if card_no[3:5] not in CARD_PROVINCES:
        flags |= QUALITY_CARD_PROVINCE
    if GROUP_MINISTRY.get(card_no[:2], managed_by) != managed_by:
        flags |= QUALITY_CARD_MINISTRY
    return flags


class RowValidator:
    """Validate rows of one extract (or delta) file whose header is `columns`."""

    def __init__(self, columns: Sequence[str], delta: bool = False) -> None:
        """Remember where each column is; the caller has checked the names (SPEC 1.1)."""
        self.columns = tuple(columns)
        self.delta = delta
        self._index: dict[str, int] = {}
        for i, name in enumerate(self.columns):
            self._index.setdefault(name, i)  # the first of repeated names (the caller rejects them)

    def validate(self, values: list[str]) -> ValidRow:
        """Check one row; return its record and keys or raise RowError (DESIGN 5)."""
        if len(values) != len(self.columns):
            raise RowError("row", f"row: {len(values)} fields; the header has {len(self.columns)}")
        for name, value in zip(self.columns, values, strict=True):
            # Lone surrogates are the bytes surrogateescape could not decode.
            if any("\ud800" <= c <= "\udfff" for c in value):
                _fail(name, "not valid UTF-8")

        def get(name: str) -> str:
            """Return a column's value; a missing optional column reads as empty (absent)."""
            i = self._index.get(name)
            return "" if i is None else values[i]

        op = "upsert"
        if self.delta:
            op = get("op")
            if op not in ("upsert", "delete"):
                _fail("op", "must be upsert or delete")
        cccd = get("cccd")
        if not cccd:
            _fail("cccd", "required")
        if not CCCD.fullmatch(cccd):
            _fail("cccd", "must be 12 digits")
        if op == "delete":
            return ValidRow("delete", record.cccd_key(cccd), None, None, None, None, 0)
        return self._upsert(cccd, get)

    def _upsert(self, cccd: str, get: Callable[[str], str]) -> ValidRow:
        """Check the rest of an upsert row, one DESIGN 5 line after the other."""
        bhxh = get("bhxh_code")
        if not bhxh:
            _fail("bhxh_code", "required")
        if not BHXH.fullmatch(bhxh):
            _fail("bhxh_code", "must be 10 digits")
        card_no = get("card_no")
        if not card_no:
            _fail("card_no", "required")
        _card("card_no", card_no)
        if card_no[-10:] != bhxh:
            _fail("card_no", "last 10 digits must equal bhxh_code")
        full_name = _text("full_name", get("full_name"), 100, required=True)
        dob = _dob(get("dob"))
        gender_text = get("gender")
        if not gender_text:
            _fail("gender", "required")
        gender = GENDER_CODES.get(gender_text)
        if gender is None:
            _fail("gender", "must be 1 (male), 2 (female) or 3 (unknown)")
        address = _text("address", get("address"), 200, required=False)
        facility = get("facility_code")
        if not facility:
            _fail("facility_code", "required")
        if not FACILITY.fullmatch(facility):
            _fail("facility_code", "must be 2 digits then 3 digits or capital letters")
        valid_from = _date("valid_from", get("valid_from"), required=True)
        valid_to = _date("valid_to", get("valid_to"), required=True)
        if valid_to < valid_from:
            _fail("valid_to", "before valid_from")
        five_year = _date("five_year_date", get("five_year_date"), required=False)
        region = get("region_code")
        if region and region not in REGION_CODES:
            _fail("region_code", "must be K1, K2 or K3")
        status = get("status") or "active"
        if status not in record.STATUSES:
            _fail("status", STATUS_FORM)
        managed_by = get("managed_by") or "vss"
        if managed_by not in record.MANAGED_BY:
            _fail("managed_by", "must be vss, defence or police")
        prev_card = get("prev_card_no")
        if prev_card:
            _card("prev_card_no", prev_card)
            if prev_card == card_no:
                _fail("prev_card_no", "same as card_no")
        prev_valid_to = _date("prev_valid_to", get("prev_valid_to"), required=False)
        if prev_valid_to and not prev_card:
            _fail("prev_valid_to", "given without prev_card_no")
        issuer = _text("issuer", get("issuer"), 200, required=False)

        rec = record.Record(
            gender=record.GENDERS[gender],  # type: ignore[arg-type]
            status=status,
            managed_by=managed_by,
            region_code=region or None,
            dob=dob,
            valid_from=valid_from,
            valid_to=valid_to,
            five_year_date=five_year or None,
            prev_valid_to=prev_valid_to or None,
            card_no=card_no,
            facility_code=facility,
            prev_card_no=prev_card or None,
            full_name=full_name,  # type: ignore[arg-type]
            address=address,
            issuer=issuer,
        )
        return ValidRow(
            op="upsert",
            cccd_key=record.cccd_key(cccd),
            bhxh_key=record.bhxh_key(bhxh),
            card_no=card_no.encode("ascii"),
            prev_card_no=prev_card.encode("ascii") if prev_card else None,
            record=record.encode(rec),
            quality=quality(cccd, dob, gender) | card_quality(card_no, managed_by),
        )
