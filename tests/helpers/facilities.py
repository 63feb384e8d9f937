"""Facility registry files (SPEC.md 1.4) for the registry and officer tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from helpers.files import write_csv

COLUMNS = ("facility_code", "name", "province", "level", "officer_cccd", "officer_name")

# Bạch Mai registers two desk officers, Chợ Rẫy one; the commune station registers none.
OFFICERS = {
    "001190000777": "Phạm Thị Dung",
    "001090000888": "Nguyễn Văn Hòa",
    "079190000999": "Trần Thị Thúy",
}
REGISTRY = [
    {"facility_code": "01832", "name": "Bệnh viện Bạch Mai", "province": "01", "level": "central",
     "officer_cccd": "001190000777", "officer_name": "Phạm Thị Dung"},
    {"facility_code": "01832", "name": "Bệnh viện Bạch Mai", "province": "01", "level": "central",
     "officer_cccd": "001090000888", "officer_name": "Nguyễn  Văn Hòa"},
    {"facility_code": "79024", "name": "Bệnh viện Chợ Rẫy", "province": "79", "level": "central",
     "officer_cccd": "079190000999", "officer_name": "Trần Thị Thúy"},
    {"facility_code": "01C51", "name": "Trạm y tế xã Phú Thượng", "province": "01",
     "level": "primary"},
    {"facility_code": "02005", "name": "Bệnh viện đa khoa Hà Giang", "province": "02",
     "level": "provincial"},
]  # fmt: skip


def write_registry(
    path: Path,
    rows: Sequence[dict[str, str]] = REGISTRY,
    columns: Sequence[str] = COLUMNS,
    **kwargs: object,
) -> Path:
    """Write registry rows as a CSV (gzip when the name ends in .gz); return the path."""
    return write_csv(path, rows, columns, **kwargs)  # type: ignore[arg-type]
