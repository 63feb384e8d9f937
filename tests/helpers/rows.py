"""Test data: valid extract rows with overrides, and small snapshots written the DESIGN 4 way.

`make_row()` is one valid extract row (SPEC 1.1, every column); override any column by keyword,
or drop it with `None`. `write_snapshot()` validates rows with the reference RowValidator and
writes an LMDB snapshot exactly as docs/DESIGN.md 4 lays it out, for tests of the reader.
"""

from __future__ import annotations

import os

import lmdb
import orjson

from lookup.reference import record
from lookup.reference.validate import RowValidator
from lookup.schema import COLUMNS
from lookup.store.strings import STRINGS_KEY, Strings

__all__ = ("COLUMNS", "make_row", "split", "write_snapshot")


# A man born in Hanoi in 1985 (CCCD 001 0 85 ...: no data-quality flag), on an active DN
# (employee, level 4) card issued in Hanoi, valid for 2026.
DEFAULTS = {
    "cccd": "001085012345",
    "bhxh_code": "0112345678",
    "card_no": "DN4010112345678",
    "full_name": "Nguyễn Văn An",
    "dob": "1985-04-12",
    "gender": "1",
    "address": "Số 12 phố Huế, phường Hai Bà Trưng, Hà Nội",
    "facility_code": "01832",
    "valid_from": "2026-01-01",
    "valid_to": "2026-12-31",
    "five_year_date": "",
    "region_code": "",
    "status": "active",
    "managed_by": "vss",
    "prev_card_no": "",
    "prev_valid_to": "",
    "issuer": "BHXH thành phố Hà Nội",
}


def make_row(**overrides: str | None) -> dict[str, str]:
    """Return a valid extract row; keyword values replace columns, None drops a column."""
    row: dict[str, str | None] = {**DEFAULTS, **overrides}
    return {name: value for name, value in row.items() if value is not None}


def split(row: dict[str, str]) -> tuple[list[str], list[str]]:
    """Return a row's (columns, values), as a CSV header and line would give them."""
    return list(row), list(row.values())


def write_snapshot(
    directory: str,
    rows: list[dict[str, str]],
    snapshot_id: str = "test-snapshot",
    *,
    data_format: int = 2,
) -> str:
    """Validate rows and write them as a snapshot (DESIGN 4) in directory; return directory.

    Rows must be valid (RowError propagates) and free of duplicates: tests control their rows.
    Format 2 stores version-2 records with a string table and indexes only the previous card
    codes that end in another number than the card's; format 1 (older snapshots, which must
    still answer) stores version-1 records and indexes every card code.
    """
    valid = [RowValidator(list(row)).validate(list(row.values())) for row in rows]
    manifest = {
        "id": snapshot_id,
        "format": data_format,
        "people": len(valid),
        "source": "tests.factory",
    }
    manifest_json = orjson.dumps(manifest)
    os.makedirs(directory, exist_ok=True)
    env = lmdb.open(directory, map_size=1 << 30, max_dbs=4, lock=False, lib_version=0)
    try:
        people = env.open_db(b"people")
        bhxh = env.open_db(b"bhxh")
        cards = env.open_db(b"cards")
        meta = env.open_db(b"meta")
        strings = Strings()
        with env.begin(write=True) as txn:
            for row in valid:
                stored = row.record
                if data_format == 2:
                    stored = record.compact(record.decode(stored), strings)
                txn.put(row.cccd_key, stored, db=people)
                txn.put(row.bhxh_key, row.cccd_key, db=bhxh)
                if data_format == 1:
                    txn.put(row.card_no, row.cccd_key, db=cards)
                prev = row.prev_card_no
                if prev is not None and (data_format == 1 or prev[5:] != row.card_no[5:]):
                    txn.put(prev, row.cccd_key, db=cards)
            if data_format == 2:
                txn.put(STRINGS_KEY, strings.to_bytes(), db=meta)
            txn.put(b"manifest", manifest_json, db=meta)
        env.sync(True)
    finally:
        env.close()
    with open(os.path.join(directory, "manifest.json"), "wb") as f:
        f.write(manifest_json)
    return directory
