"""Which answer an entitlement lookup gives (docs/DESIGN.md 6, SPEC 3 and 3.1, DOMAIN 3-4).

The readable statement of the rules, and the oracle core/reader.pyx is tested against: each
function builds part of the SPEC 3 body as a dict, in the DESIGN 6 key order (orjson keeps it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lookup.reference import dates
from lookup.reference.record import Record
from lookup.schema import ELIGIBLE, MESSAGES

__all__ = (
    "COVERAGE_PCT",
    "ELIGIBLE",
    "MESSAGES",
    "data_error",
    "entitlement",
    "holds_id",
    "is_sound",
    "malformed",
    "not_found",
    "te_limit",
)

Body = dict[str, Any]
# The facility registry (SPEC 1.4) as answers show it: code -> (name, level).
Facilities = Mapping[str, tuple[str | None, str | None]]

# DOMAIN 2: the share the fund pays, by benefit level (3rd character of the card code).
COVERAGE_PCT = {1: 100, 2: 100, 3: 95, 4: 80, 5: 100}

# DESIGN 6 rule 4 and rule 5; the group decides the ministry before managed_by does.
GROUP_MINISTRY_CODES = {"QN": "001", "CY": "001", "CA": "002"}
MANAGED_BY_CODES = {"defence": "001", "police": "002"}
# DOMAIN 2: from 2026-01-01 CN and LH cards are level 2, whatever their code says.
LEVEL_2_FROM = dates.pack(2026, 1, 1)
LEVEL_2_GROUPS = ("CN", "LH")
STATUS_CODES = {
    "revoked": "110",
    "reduced": "120",
    "reduced_out_province": "121",
    "reduced_in_province": "122",
    "reduced_rejoined": "123",
    "reduced_stopped": "124",
}

_CARD = re.compile(r"[A-Z]{2}[1-5][0-9]{12}")
_FACILITY = re.compile(r"[0-9]{2}[0-9A-Z]{3}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _result(key: str, message_en: str | None = None) -> Body:
    code = key[:3]
    message, default_en = MESSAGES[key]
    return {
        "code": code,
        "eligible": code in ELIGIBLE,
        "message": message,
        "message_en": message_en if message_en is not None else default_en,
    }


def _body(
    asked: str,
    kind: str | None,
    result: Body,
    date: int,
    snapshot: str,
    person: Body | None = None,
    card: Body | None = None,
    replacement: Body | None = None,
    in_route: bool | None = None,
) -> Body:
    """Assemble a SPEC 3 body; `id` is as asked, lone surrogates replaced (DESIGN 6)."""
    return {
        "id": _SURROGATE.sub("\ufffd", asked),
        "id_type": kind,
        "result": result,
        "date": dates.format_date(date),
        "person": person,
        "card": card,
        "replacement": replacement,
        "in_route": in_route,
        "snapshot": snapshot,
    }


def malformed(asked: str, message: str, date: int, snapshot: str) -> Body:
    """Answer 205 for an id that parse_id rejected with `message` (rule 1)."""
    return _body(asked, None, _result("205", message), date, snapshot)


def not_found(asked: str, kind: str, date: int, snapshot: str) -> Body:
    """Answer 050: no person has this id (rule 1)."""
    return _body(asked, kind, _result("050"), date, snapshot)


def data_error(asked: str, kind: str, date: int, snapshot: str) -> Body:
    """Answer 100: the store points at a record that is not what a correct build writes."""
    return _body(asked, kind, _result("100"), date, snapshot)


def holds_id(record: Record, kind: str, normalised: str) -> bool:
    """Tell whether the record really holds the id its index entry was found under (rule 1)."""
    if kind == "bhxh_code":
        return record.bhxh_code == normalised
    if kind == "card_no":
        return normalised in (record.card_no, record.prev_card_no)
    return True  # a CCCD is the people key itself


def _is_date(packed: int) -> bool:
    return dates.is_real_date(*dates.unpack(packed))


def _is_dob(packed: int) -> bool:
    # DESIGN 3: a birth date may lack its day, or its month and day.
    y, m, d = dates.unpack(packed)
    if m == 0:
        return d == 0 and dates.is_real_date(y, 1, 1)
    return dates.is_real_date(y, m, d or 1)


def is_sound(record: Record) -> bool:
    """Tell whether a decoded record holds only what the build validates (DESIGN 5).

    record.decode() checks the layout; this checks the values the answer is computed from, so a
    damaged record answers 100 instead of a wrong verdict.
    """
    return (
        _CARD.fullmatch(record.card_no) is not None
        and (record.prev_card_no is None or _CARD.fullmatch(record.prev_card_no) is not None)
        and _FACILITY.fullmatch(record.facility_code) is not None
        and _is_dob(record.dob)
        and _is_date(record.valid_from)
        and _is_date(record.valid_to)
        and (record.five_year_date is None or _is_date(record.five_year_date))
        and (record.prev_valid_to is None or _is_date(record.prev_valid_to))
    )


def te_limit(dob: int) -> int:
    """Return the last day a TE (child under 6) card covers (DESIGN 6 rule 6, DOMAIN 3).

    The later of the day before the child is 72 months old and 30 September of the year the
    child turns 6; a partial birth date counts as its latest possible day.
    """
    year, month, day = dates.unpack(dates.latest_day(dob))
    # 72 months later: the same day of month 6 years on, or that month's last day (29 February).
    day = min(day, dates.days_in_month(year + 6, month))
    before_72_months = dates.day_before(dates.pack(year + 6, month, day))
    return max(before_72_months, dates.pack(year + 6, 9, 30))


def _valid_until(record: Record) -> int:
    if record.card_no.startswith("TE"):
        return min(record.valid_to, te_limit(record.dob))
    return record.valid_to


def _optional_date(packed: int | None) -> str | None:
    return None if packed is None else dates.format_date(packed)


def level_on(card_no: str, date: int) -> int:
    """Return the benefit level in force on `date` for a card code (SPEC 3.1 "Also")."""
    if date >= LEVEL_2_FROM and card_no[:2] in LEVEL_2_GROUPS:
        return 2
    return int(card_no[2])


def _card_code_fields(card_no: str, date: int) -> Body:
    """Return the fields a card code carries (DOMAIN 1 and 2), the level in force on `date`."""
    level = level_on(card_no, date)
    return {
        "card_no": card_no,
        "group": card_no[:2],
        "benefit_level": level,
        "coverage_pct": COVERAGE_PCT[level],
        "province": card_no[3:5],
    }


def _person(cccd: str, record: Record) -> Body:
    return {
        "cccd": cccd,
        "bhxh_code": record.bhxh_code,
        "full_name": record.full_name,
        "dob": dates.format_date(record.dob),
        "gender": record.gender,
        "address": record.address,
    }


def _current_card(record: Record, date: int, facilities: Facilities) -> Body:
    name, level = facilities.get(record.facility_code, (None, None))
    return {
        **_card_code_fields(record.card_no, date),
        "facility_code": record.facility_code,
        "facility_name": name,
        "facility_level": level,
        "valid_from": dates.format_date(record.valid_from),
        "valid_to": dates.format_date(record.valid_to),
        "five_year_date": _optional_date(record.five_year_date),
        "region_code": record.region_code,
        "status": record.status,
        "issuer": record.issuer,
        "managed_by": record.managed_by,
        "valid_until": dates.format_date(_valid_until(record)),
        "prev_card_no": record.prev_card_no,
    }


def _previous_card(record: Record, date: int) -> Body:
    """Return the replaced card as far as the record knows it (rule 3)."""
    valid_to = _optional_date(record.prev_valid_to)
    return {
        **_card_code_fields(record.prev_card_no or "", date),
        "facility_code": None,
        "facility_name": None,
        "facility_level": None,
        "valid_from": None,
        "valid_to": valid_to,
        "five_year_date": _optional_date(record.five_year_date),
        "region_code": None,
        "status": "replaced",
        "issuer": None,
        "managed_by": record.managed_by,
        "valid_until": valid_to,
        "prev_card_no": None,
    }


def _replacement(record: Record, facilities: Facilities) -> Body:
    return {
        "card_no": record.card_no,
        "valid_from": dates.format_date(record.valid_from),
        "valid_to": dates.format_date(record.valid_to),
        "facility_code": record.facility_code,
        "facility_name": facilities.get(record.facility_code, (None, None))[0],
    }


def _verdict(record: Record, date: int) -> str:
    """Rules 4-7 for the person's current card: the key of MESSAGES that answers."""
    if record.card_no[:2] in GROUP_MINISTRY_CODES:
        return GROUP_MINISTRY_CODES[record.card_no[:2]]
    if record.managed_by in MANAGED_BY_CODES:
        return MANAGED_BY_CODES[record.managed_by]
    if record.status in STATUS_CODES:
        return STATUS_CODES[record.status]
    if date < record.valid_from:
        return "010 early"
    if date > _valid_until(record):
        return "010 late"
    return "000"


def entitlement(
    asked: str,
    kind: str,
    normalised: str,
    cccd: str,
    record: Record,
    date: int,
    facility: str | None,
    snapshot: str,
    facilities: Facilities | None = None,
) -> Body:
    """Answer for a sound record found under the id (rules 3-7)."""
    # in_route compares with the card in use: the current one, which is also the replacement.
    in_route = None if facility is None else facility == record.facility_code
    person = _person(cccd, record)
    if (kind == "card_no" and normalised == record.prev_card_no) or _covered_by_previous(
        record, date
    ):
        # Rule 3: the previous card answers before the current card's own state is looked at.
        expired = record.prev_valid_to is None or date > record.prev_valid_to
        result = _result("003" if expired else "004")
        return _body(
            asked,
            kind,
            result,
            date,
            snapshot,
            person,
            _previous_card(record, date),
            _replacement(record, facilities or {}),
            in_route,
        )
    result = _result(_verdict(record, date))
    card = _current_card(record, date, facilities or {})
    return _body(asked, kind, result, date, snapshot, person, card, None, in_route)


def _covered_by_previous(record: Record, date: int) -> bool:
    """Tell whether a card change leaves the date to the previous card, whatever id was asked:
    before the current card starts and within the previous one's window (SPEC 3.1 "Also",
    DOMAIN 3: "whatever id the hospital types")."""
    return (
        record.prev_card_no is not None
        and record.prev_valid_to is not None
        and date < record.valid_from
        and date <= record.prev_valid_to
    )
