"""What a snapshot says about itself (docs/DESIGN.md 4): the same JSON in its `meta` db and in
the manifest.json beside its data.mdb."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = ("FORMAT_VERSION", "MANIFEST", "read_manifest", "snapshot_identity")

# DESIGN 4. Format 2: `cards` holds only the previous card codes that do not end in their
# holder's social insurance number (the others are found through bhxh); format 1 held every
# code, and still answers.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"


def snapshot_identity(
    snapshot_id: str, kind: str, source: str, *, core: str, **extra: Any
) -> dict[str, Any]:
    """Return the manifest of a new snapshot: id, format, kind (build/delta), time, core."""
    return {
        "id": snapshot_id,
        "format": FORMAT_VERSION,
        "kind": kind,
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "core": core,
        "source": str(source),
        **extra,
    }


def read_manifest(path: Path) -> dict[str, Any] | None:
    """Return the manifest of the snapshot directory `path`, or None when it has none."""
    try:
        return orjson.loads((path / MANIFEST).read_bytes())  # type: ignore[no-any-return]
    except (FileNotFoundError, NotADirectoryError, orjson.JSONDecodeError):
        return None
