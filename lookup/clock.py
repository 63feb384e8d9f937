"""Dates as the service sees them (DOMAIN.md 3): "today" is the date in Vietnam, not the server's.

`today_in_vietnam()` for commands, `Today` for the hot path (packed yyyymmdd, recomputed only at
Vietnam's midnight), `parse_date` for a `date` parameter, `pack_day` for the core's date form.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

from lookup.errors import IdError

__all__ = ("VIETNAM", "Today", "pack_day", "parse_date", "today_in_vietnam")

# UTC+7, no daylight saving.
VIETNAM = timezone(timedelta(hours=7), "ICT")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def today_in_vietnam(now: datetime | None = None) -> date:
    """Return today's date in Vietnam; `now` must be timezone-aware (default: the clock)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(VIETNAM).date()


def parse_date(text: str) -> date:
    """Parse a `date` parameter (YYYY-MM-DD) or raise IdError naming the field."""
    if not DATE.fullmatch(text):
        raise IdError("date: must be YYYY-MM-DD")
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise IdError("date: not a real date") from None
    if not 1800 <= value.year <= 2299:
        raise IdError("date: year must be 1800-2299")
    return value


def pack_day(day: date) -> int:
    """Return the day as the core takes it: yyyymmdd in one int."""
    return day.year * 10000 + day.month * 100 + day.day


class Today:
    """Today's date in Vietnam, packed yyyymmdd; recomputed only when that day ends."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until = 0.0
        self._packed = 0

    def __call__(self) -> int:
        now = self._clock()
        if now >= self._until:
            day = today_in_vietnam(datetime.fromtimestamp(now, UTC))
            self._packed = pack_day(day)
            midnight = datetime(day.year, day.month, day.day, tzinfo=VIETNAM) + timedelta(days=1)
            self._until = midnight.timestamp()
        return self._packed
