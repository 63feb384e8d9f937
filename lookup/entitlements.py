"""Answer entitlement questions from the current snapshot (SPEC.md 3): the Python face of the
core's SnapshotReader, with the parameter checks and the Vietnam-date rule."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

from lookup import _core
from lookup.errors import IdError
from lookup.store import DataDir

__all__ = ("Entitlements", "today_in_vietnam", "parse_date")

# DOMAIN.md 3: "today" is the date in Vietnam (UTC+7, no daylight saving), not the server's.
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


def pack(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


class Entitlements:
    """Answers from one published snapshot: `answer(id)` and `answer_many(ids)` give JSON bytes."""

    def __init__(self, path: str) -> None:
        self.reader = _core.impl.reader.SnapshotReader(str(path))
        self.snapshot_id: str = self.reader.snapshot_id

    @classmethod
    def open_current(cls, data: DataDir) -> Entitlements:
        return cls(str(data.current_path()))

    def answer(self, id: str, day: date | None = None, facility: str | None = None) -> bytes:
        """Return the SPEC 3 entitlement body for one id (205/050 are answers, not errors)."""
        return self.reader.answer(id, pack(day or today_in_vietnam()), self._facility(facility))

    def answer_many(
        self, ids: list[str], day: date | None = None, facility: str | None = None
    ) -> bytes:
        """Return a JSON array of entitlement bodies, in the order of `ids`."""
        return self.reader.answer_many(
            ids, pack(day or today_in_vietnam()), self._facility(facility)
        )

    @staticmethod
    def _facility(facility: str | None) -> str | None:
        return None if facility is None else _core.impl.ids.parse_facility(facility)

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Entitlements:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
