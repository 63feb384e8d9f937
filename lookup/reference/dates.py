"""Packed dates (docs/DESIGN.md 3): the plain-Python twin of core/calendar.pxd.

A date is the integer yyyymmdd (`20261122`), comparable as an integer. A partial birth date keeps
zeros for what is unknown (`19500000` year only, `19500300` March 1950); `0` means absent.
Years 1800-2299 are the range the CCCD century digit covers (DOMAIN.md 1).
"""

from __future__ import annotations

__all__ = (
    "MAX_YEAR",
    "MIN_YEAR",
    "day_before",
    "days_in_month",
    "format_date",
    "is_leap",
    "is_real_date",
    "latest_day",
    "pack",
    "parse_date",
    "parse_dob",
    "unpack",
)

MIN_YEAR = 1800
MAX_YEAR = 2299

# The tails of the DESIGN 5 messages; the validator prefixes the field name.
FORMAT_DATE = "must be YYYY-MM-DD"
FORMAT_DOB = "must be YYYY-MM-DD, YYYY-MM or YYYY"
NOT_REAL = "not a real date"


def pack(y: int, m: int, d: int) -> int:
    """Pack a (possibly partial, zeros unknown) date as yyyymmdd."""
    return y * 10000 + m * 100 + d


def unpack(p: int) -> tuple[int, int, int]:
    """Split a packed date into (year, month, day); zeros stay zeros."""
    return p // 10000, p // 100 % 100, p % 100


def is_leap(y: int) -> bool:
    """Tell whether y is a Gregorian leap year."""
    return (y % 4 == 0 and y % 100 != 0) or y % 400 == 0


def days_in_month(y: int, m: int) -> int:
    """Return the number of days of month m (1-12) of year y."""
    if m == 2:
        return 29 if is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def is_real_date(y: int, m: int, d: int) -> bool:
    """Tell whether (y, m, d) is a full calendar date in the years 1800-2299."""
    return MIN_YEAR <= y <= MAX_YEAR and 1 <= m <= 12 and 1 <= d <= days_in_month(y, m)


def latest_day(p: int) -> int:
    """Return the latest full date a partial packed date can stand for (DESIGN 6, rule 6)."""
    y, m, d = unpack(p)
    if m == 0:
        return pack(y, 12, 31)
    if d == 0:
        return pack(y, m, days_in_month(y, m))
    return p


def day_before(p: int) -> int:
    """Return the full packed date one day before p."""
    y, m, d = unpack(p)
    if d > 1:
        return pack(y, m, d - 1)
    if m > 1:
        return pack(y, m - 1, days_in_month(y, m - 1))
    return pack(y - 1, 12, 31)


def format_date(p: int) -> str:
    """Format a packed date as YYYY-MM-DD, or YYYY-MM / YYYY when partial."""
    y, m, d = unpack(p)
    if m == 0:
        return f"{y:04d}"
    if d == 0:
        return f"{y:04d}-{m:02d}"
    return f"{y:04d}-{m:02d}-{d:02d}"


def _digits(text: str) -> int:
    """Return the value of a run of ASCII digits, or -1 (str.isdigit also takes U+0661...)."""
    if not text or any(not "0" <= c <= "9" for c in text):
        return -1
    return int(text)


def parse_date(text: str) -> int:
    """Parse a full YYYY-MM-DD date; raise ValueError with the DESIGN 5 message tail."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(FORMAT_DATE)
    y, m, d = _digits(text[0:4]), _digits(text[5:7]), _digits(text[8:10])
    if y < 0 or m < 0 or d < 0:
        raise ValueError(FORMAT_DATE)
    if not is_real_date(y, m, d):
        raise ValueError(NOT_REAL)
    return pack(y, m, d)


def parse_dob(text: str) -> int:
    """Parse a birth date, YYYY-MM-DD, YYYY-MM or YYYY, into a (partial) packed date."""
    n = len(text)
    if n not in (4, 7, 10) or (n > 4 and text[4] != "-") or (n > 7 and text[7] != "-"):
        raise ValueError(FORMAT_DOB)
    # What is not given is checked as 1 (always real) and packed as 0 (unknown).
    y = _digits(text[0:4])
    m = _digits(text[5:7]) if n > 4 else 1
    d = _digits(text[8:10]) if n > 7 else 1
    if y < 0 or m < 0 or d < 0:
        raise ValueError(FORMAT_DOB)
    if not is_real_date(y, m, d):
        raise ValueError(NOT_REAL)
    return pack(y, m if n > 4 else 0, d if n > 7 else 0)
