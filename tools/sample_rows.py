"""Valid extract and delta rows for the robustness scripts (SPEC.md 1.1, 1.2).

The scripts make their own data rather than call `lookup synth`: a fixed, small vocabulary
whose every row is valid, so a snapshot's expected content is exactly the rows written.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from lookup.schema import COLUMNS

__all__ = ("COLUMNS", "DELTA_COLUMNS", "person", "write_rows")

DELTA_COLUMNS = ("op", *COLUMNS)

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi")
GIVEN = ("Văn An", "Thị Hoa", "Minh Đức", "Thu Hà", "Quốc Bảo", "Ngọc Lan", "Hữu Nghĩa")
STATUSES = ("active",) * 12 + ("revoked", "reduced", "reduced_out_province")
GROUPS = ("DN4", "HT2", "HN2", "GD4", "TE1", "CN3")


def person(n: int, version: int = 0) -> dict[str, str]:
    """Return the valid row of person `n`; `version` varies everything but their numbers.

    CCCD, social insurance number and card codes derive from `n` alone, so two persons never
    share one (a build would reject both) and a delta's upsert of `n` replaces the same person.
    """
    fixed, pick = random.Random(n), random.Random(n * 7919 + version)
    bhxh = f"01{n:08d}"
    group = fixed.choice(GROUPS)
    year = 2022 if group == "TE1" else fixed.randint(1940, 2004)
    century = 0 if year < 2000 else 2  # DOMAIN 1: a man born in the 1900s / 2000s
    row = {
        "cccd": f"001{century}{year % 100:02d}{n:06d}",
        "bhxh_code": bhxh,
        "card_no": f"{group}01{bhxh}",
        "full_name": f"{pick.choice(FAMILY)} {pick.choice(GIVEN)}",
        "dob": f"{year}-{pick.randint(1, 12):02d}-{pick.randint(1, 28):02d}",
        "gender": "1",
        "address": f"Số {n % 200 + 1} phố Huế, Hà Nội",
        "facility_code": pick.choice(("01832", "01001", "79024")),
        "valid_from": "2026-01-01",
        "valid_to": pick.choice(("2026-12-31", "2026-06-30", "2027-03-31")),
        "five_year_date": pick.choice(("", "2024-05-01")),
        "region_code": pick.choice(("", "", "K1")),
        "status": pick.choice(STATUSES),
        "managed_by": "vss",
        "prev_card_no": "",
        "prev_valid_to": "",
        "issuer": "BHXH thành phố Hà Nội",
    }
    if pick.random() < 0.2:  # a card change: the old code answers 003/004 (SPEC 3.1 rule 3)
        row["prev_card_no"] = f"DN479{bhxh}"
        row["prev_valid_to"] = "2025-12-31"
    return row


def write_rows(path: Path, rows: Iterable[dict[str, str]], columns: Sequence[str]) -> Path:
    """Write rows as an RFC 4180 CSV with a header; return the path."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
