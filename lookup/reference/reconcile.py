"""Reconciliation with the population register, in plain Python (SPEC.md 1.3 and 4): a register
row checked, then compared with the stored record of the same CCCD.

The readable statement of the comparison, the oracle of the core's fast path (core/register.pxd,
core/names.pxd) and the judge of every row the core leaves to it (lookup.sync.reconcile):
`check_row` turns a row of the population extract into a `RegisterRow` (or raises RowError with
the field at fault), `compare` gives the report's status and fields for it and the stored record.

Names compare after NFC, case folding and collapsing spaces, with the two standard tone
placements (`Hòa`/`Hoà`, `Thúy`/`Thuý`) and the apostrophe forms (`'`, `’`) equal: each
syllable's tone mark is moved to its end before comparing, since a Vietnamese syllable carries
exactly one tone and where it is written is convention, not meaning. Names that then differ only
in their marks (tones, and `Đ` read as `D`) differ in `full_name_diacritics`, any other way in
`full_name`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

from lookup.errors import RowError
from lookup.reference import dates, record
from lookup.reference.validate import normalise_text
from lookup.schema import GENDERS
from lookup.store.strings import Strings

__all__ = (
    "NAME_LIMIT",
    "RegisterRow",
    "bare_name",
    "check_row",
    "compare",
    "compare_dob",
    "compare_names",
    "fold_name",
)

NAME_LIMIT = 100  # SPEC.md 1.1: 1-100 characters after normalisation
# SPEC.md 1.1 codes: the stored gender code is the index in GENDERS (DESIGN 4).
GENDER_CODES = {str(code): name for code, name in enumerate(GENDERS) if name}
# The five Vietnamese tones as combining marks: grave, acute, tilde, hook above, dot below. The
# other marks (circumflex, breve, horn) make letters (â, ă, ơ) and stay where they are.
TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_TONE = re.compile("[" + "".join(sorted(TONES)) + "]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_CCCD = re.compile("[0-9]{12}")
APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


class RegisterRow(NamedTuple):
    """One valid row of the population extract."""

    cccd: str
    full_name: str  # normalised: NFC, whitespace runs to one space
    dob: int  # packed, partial where the register gives a year or a month only
    gender: str  # male, female, unknown
    death_date: int  # packed, 0 when alive


def check_row(values: Sequence[str], columns: Sequence[str]) -> RegisterRow:
    """Check a population row (SPEC.md 1.3) given in the order of `columns`; raise RowError."""
    row = dict(zip(columns, values, strict=True))
    for name, value in row.items():  # csvrows keeps bytes that are not UTF-8 as surrogates
        if not value.isascii() and _SURROGATE.search(value):
            raise RowError(name, f"{name}: not valid UTF-8")
    cccd = row["cccd"]
    if not _CCCD.fullmatch(cccd):
        raise RowError("cccd", "cccd: must be 12 digits")
    name = normalise_text(row["full_name"])
    if not name:
        raise RowError("full_name", "full_name: required")
    if _CONTROL.search(name):
        raise RowError("full_name", "full_name: contains a control character")
    if len(name) > NAME_LIMIT:
        raise RowError("full_name", f"full_name: {len(name)} characters; at most {NAME_LIMIT}")
    try:
        dob = dates.parse_dob(row["dob"])
    except ValueError as exc:
        raise RowError("dob", f"dob: {exc}") from None
    gender = GENDER_CODES.get(row["gender"])
    if gender is None:
        raise RowError("gender", "gender: must be 1, 2 or 3")
    death = row.get("death_date") or ""
    try:
        death_date = dates.parse_date(death) if death else 0
    except ValueError as exc:
        raise RowError("death_date", f"death_date: {exc}") from None
    return RegisterRow(cccd, name, dob, gender, death_date)


def fold_name(name: str) -> str:
    """Return the form two names are compared in: equal forms are the same name."""
    text = unicodedata.normalize("NFD", name.casefold().translate(APOSTROPHES))
    words = []
    for word in text.split():
        tones = _TONE.findall(word)
        words.append(_TONE.sub("", word) + "".join(sorted(tones)) if tones else word)
    return " ".join(words)


def bare_name(name: str) -> str:
    """Return the name without any mark, `Đ` read as `D`: what is left when diacritics are lost."""
    decomposed = unicodedata.normalize("NFD", name.casefold().translate(APOSTROPHES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("đ", "d").split())


def compare_names(register: str, stored: str) -> str | None:
    """Return None when the names agree, else the field that says how they differ."""
    if register == stored or fold_name(register) == fold_name(stored):
        return None
    return "full_name_diacritics" if bare_name(register) == bare_name(stored) else "full_name"


def compare_dob(register: int, stored: int) -> str | None:
    """Compare packed (partial) birth dates at the coarser precision (SPEC.md 4).

    Return "dob" when they differ there, "dob_precision" when they agree there and the register
    gives more (the record can be completed), else None.
    """
    for r, s in zip(dates.unpack(register), dates.unpack(stored), strict=True):
        if r == 0 or s == 0:
            return "dob_precision" if s == 0 and r != 0 else None
        if r != s:
            return "dob"
    return None


def compare(
    row: RegisterRow, stored: bytes, today: int, strings: Strings | None = None
) -> tuple[str, str]:
    """Return the report's status and fields for a register row and the stored record (with
    its snapshot's string table)."""
    if row.death_date and row.death_date <= today:
        return "deceased", ""
    person = record.decode(stored, strings)
    fields = [
        compare_names(row.full_name, person.full_name),
        compare_dob(row.dob, person.dob),
        "gender" if row.gender != person.gender else None,
    ]
    differ = [field for field in fields if field is not None]
    return ("mismatch", ";".join(differ)) if differ else ("match", "")
