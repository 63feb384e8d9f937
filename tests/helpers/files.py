"""Real extract and delta files for ingest tests."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from pathlib import Path

from helpers.rows import COLUMNS, make_row


def write_csv(
    path: Path,
    rows: Sequence[dict[str, str]],
    columns: Sequence[str] | None = None,
    *,
    bom: bool = False,
    line_end: str = "\n",
) -> Path:
    """Write rows as an RFC 4180 CSV (gzip when the name ends in .gz); return the path."""
    columns = list(columns or (rows[0].keys() if rows else COLUMNS))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=line_end)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(name, "") for name in columns])
    data = (("\ufeff" if bom else "") + text.getvalue()).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def person(n: int, **overrides: str) -> dict[str, str]:
    """Return a valid row for the n-th test person: unique CCCD, bhxh_code and card code."""
    bhxh = f"01{n:08d}"
    return make_row(
        **{"cccd": f"001085{n:06d}", "bhxh_code": bhxh, "card_no": f"DN401{bhxh}", **overrides}
    )
