"""The rows of a facility registry file (SPEC.md 1.4): each checked alone (`check_row`), then
against the rows before it (`RegistryRows`). Pure functions over strings: no file, no store.

    facility_code, name, province, level [, officer_cccd, officer_name]

One row per registered officer; a row with both officer values empty registers the facility
alone. A facility on several rows must have the same name, province and level on each. Messages
name the field and never quote a value: an officer's CCCD and name are personal data (SPEC 5).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import NamedTuple

from lookup.names import fold_name, normalise_text
from lookup.schema import PROVINCES as CCCD_PROVINCES

__all__ = (
    "COLUMNS",
    "LEVELS",
    "OFFICER_COLUMNS",
    "PROVINCES",
    "REQUIRED",
    "BadRow",
    "Facility",
    "Officer",
    "RegistryRows",
    "Row",
    "check_row",
)

COLUMNS = ("facility_code", "name", "province", "level", "officer_cccd", "officer_name")
REQUIRED = COLUMNS[:4]
OFFICER_COLUMNS = COLUMNS[4:]
LEVELS = ("central", "provincial", "basic", "primary")  # technical levels since 2025 (DOMAIN 3)
# The 2-digit province codes of card and facility codes: the CCCD's without the leading zero
# (DOMAIN 1). The 34 codes in force since 2025-07-01 are among them: closed codes are not reused.
PROVINCES = frozenset(code[1:] for code in CCCD_PROVINCES)
NAME_LIMIT = 200
OFFICER_NAME_LIMIT = 100  # as an insured person's full_name (SPEC 1.1)

# ASCII classes: \d would take Arabic-Indic and full-width digits, which are no digits here.
_FACILITY = re.compile(r"[0-9]{2}[0-9A-Z]{3}")
_CCCD = re.compile(r"[0-9]{12}")
_PROVINCE = re.compile(r"[0-9]{2}")


class Facility(NamedTuple):
    code: str
    name: str
    province: str
    level: str


class Officer(NamedTuple):
    cccd: str
    name: str  # NFC, whitespace collapsed


class Row(NamedTuple):
    facility: Facility
    officer: Officer | None


class BadRow(ValueError):
    """A row that breaks SPEC 1.4: `.problems` lists (field, reason), each field once."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems))
        self.problems = problems


def _text(value: str, limit: int, problems: list[tuple[str, str]], field: str) -> str:
    text = normalise_text(value)
    if not text:
        problems.append((field, "required"))
    elif any(unicodedata.category(c) == "Cc" for c in text):
        problems.append((field, "contains a control character"))
    elif len(text) > limit:
        problems.append((field, f"{len(text)} characters; at most {limit}"))
    return text


def _code(
    value: str, pattern: re.Pattern[str], form: str, problems: list[tuple[str, str]], field: str
) -> None:
    if not value:
        problems.append((field, "required"))
    elif not pattern.fullmatch(value):
        problems.append((field, form))


def check_row(values: Mapping[str, str]) -> Row:
    """Check one row (a column's value by name; absent columns read as empty); raise BadRow."""
    problems: list[tuple[str, str]] = []
    for field, value in values.items():
        # Lone surrogates are the bytes that were no UTF-8 (csvrows reads with surrogateescape).
        if any("\ud800" <= c <= "\udfff" for c in value):
            problems.append((field, "not valid UTF-8"))
    if problems:
        raise BadRow(problems)
    code = values.get("facility_code", "")
    form = "must be 2 digits then 3 digits or capital letters"
    _code(code, _FACILITY, form, problems, "facility_code")
    name = _text(values.get("name", ""), NAME_LIMIT, problems, "name")
    province = values.get("province", "")
    _code(province, _PROVINCE, "must be 2 digits", problems, "province")
    if _PROVINCE.fullmatch(province) and province not in PROVINCES:
        problems.append(("province", "no such province code (DOMAIN.md 1, old or new)"))
    level = values.get("level", "")
    if level not in LEVELS:
        problems.append(
            ("level", "required" if not level else f"must be one of {', '.join(LEVELS)}")
        )
    officer = _officer(values.get("officer_cccd", ""), values.get("officer_name", ""), problems)
    if problems:
        raise BadRow(problems)
    return Row(Facility(code, name, province, level), officer)


def _officer(cccd: str, name: str, problems: list[tuple[str, str]]) -> Officer | None:
    if not cccd and not normalise_text(name):
        return None  # the facility alone
    if not cccd:
        problems.append(("officer_cccd", "required with officer_name"))
    elif not _CCCD.fullmatch(cccd):
        problems.append(("officer_cccd", "must be 12 digits"))
    if not normalise_text(name):
        problems.append(("officer_name", "required with officer_cccd"))
        return None
    return Officer(cccd, _text(name, OFFICER_NAME_LIMIT, problems, "officer_name"))


class RegistryRows:
    """The rows of one file, in order: each `add`ed row checked against those before it."""

    def __init__(self) -> None:
        self.facilities: dict[str, Facility] = {}
        self.officers: dict[str, dict[str, str]] = {}  # code -> {cccd: name}
        self._lines: dict[tuple[str, str], int] = {}  # (code, cccd or "") -> first line

    def add(self, line: int, row: Row) -> list[tuple[str, str]]:
        """Take a checked row; return its (field, reason) conflicts with earlier rows."""
        facility, officer = row
        seen = self.facilities.setdefault(facility.code, facility)
        first = self._lines.setdefault((facility.code, ""), line)
        conflicts = [
            (field, f"differs from line {first} for facility {facility.code}")
            for field, mine, theirs in zip(
                Facility._fields[1:], facility[1:], seen[1:], strict=True
            )
            if mine != theirs
        ]
        if officer is None or conflicts:
            return conflicts
        names = self.officers.setdefault(facility.code, {})
        known = names.setdefault(officer.cccd, officer.name)
        first = self._lines.setdefault((facility.code, officer.cccd), line)
        if fold_name(known) != fold_name(officer.name):
            reason = f"differs from line {first} for the same officer_cccd at {facility.code}"
            return [("officer_name", reason)]
        return []
