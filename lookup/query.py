"""Answer entitlement questions from a published snapshot (SPEC.md 3): the Python face of the
core's SnapshotReader, with the facility check and the Vietnam-date rule (lookup.clock)."""

from __future__ import annotations

from datetime import date

from lookup import _core
from lookup.clock import pack_day, today_in_vietnam
from lookup.store import DataDir

__all__ = ("Entitlements",)


class Entitlements:
    """Answers from one published snapshot: `answer(id)` and `answer_many(ids)` give JSON bytes."""

    def __init__(self, path: str) -> None:
        self.reader = _core.SnapshotReader(str(path))
        self.snapshot_id: str = self.reader.snapshot_id

    @classmethod
    def open_current(cls, data: DataDir) -> Entitlements:
        """Open the current snapshot, its answers naming facilities from the current registry."""
        from lookup.facilities.registry import Registry  # only where a data directory is

        opened = cls(str(data.current_path()))
        registry = Registry.load(data.root)
        if registry is not None:
            opened.reader.facilities = registry.as_table()
        return opened

    def answer(self, id: str, day: date | None = None, facility: str | None = None) -> bytes:
        """Return the SPEC 3 entitlement body for one id (205/050 are answers, not errors)."""
        return self.reader.answer(id, pack_day(day or today_in_vietnam()), self._facility(facility))

    def answer_many(
        self, ids: list[str], day: date | None = None, facility: str | None = None
    ) -> bytes:
        """Return a JSON array of entitlement bodies, in the order of `ids`."""
        return self.reader.answer_many(
            ids, pack_day(day or today_in_vietnam()), self._facility(facility)
        )

    @staticmethod
    def _facility(facility: str | None) -> str | None:
        return None if facility is None else _core.parse_facility(facility)

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Entitlements:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
