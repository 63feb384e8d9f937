"""`lookup facilities import`: a registry file (SPEC.md 1.4) checked whole, then published.

All or nothing: every row is checked, alone and against the rows before it, and one bad row
rejects the file with every bad line listed (line, field, reason); the served registry stays as
it was. A good file becomes the new version atomically (lookup.facilities.storage).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from lookup.errors import ExtractError, StoreError
from lookup.facilities.csvfile import RegistryFile
from lookup.facilities.registry import FORMAT, OfficerHasher
from lookup.facilities.rows import LEVELS, BadRow, RegistryRows, check_row
from lookup.facilities.storage import RegistryStore
from lookup.names import FOLD_VERSION, fold_name
from lookup.service.audit import load_secret

__all__ = ("RegistryRejected", "import_registry", "read_registry_file")


class RegistryRejected(StoreError):
    """The file has bad rows; nothing was imported. `.errors` lists (line, field, reason)."""

    def __init__(self, path: str, errors: list[tuple[int, str, str]]) -> None:
        self.errors = sorted(errors, key=lambda error: error[0])  # fields in row order
        lines = len({line for line, _, _ in self.errors})
        listed = "\n".join(
            f"  line {line}: {field}: {reason}" for line, field, reason in self.errors
        )
        super().__init__(
            f"{path}: {lines} bad line(s); nothing was imported, the registry is unchanged:\n"
            + listed
        )
        # With --json, the CLI's error object carries them one by one.
        self.details = {
            "rows": [{"line": n, "field": f, "reason": r} for n, f, r in self.errors],
        }


def read_registry_file(path: str) -> tuple[RegistryRows, int]:
    """Check every row of a registry file; return them and the row count, or raise."""
    rows = RegistryRows()
    errors: list[tuple[int, str, str]] = []
    count = 0
    with RegistryFile(path) as registry_file:
        columns = registry_file.columns
        for line, values in registry_file:
            count += 1
            if len(values) != len(columns):
                errors.append((line, "row", f"{len(values)} fields; the header has {len(columns)}"))
                continue
            try:
                row = check_row(dict(zip(columns, values, strict=True)))
            except BadRow as exc:
                errors.extend((line, field, reason) for field, reason in exc.problems)
                continue
            errors.extend((line, field, reason) for field, reason in rows.add(line, row))
    if errors:
        raise RegistryRejected(path, errors)
    if not rows.facilities:
        # An export cut short after its header must not empty the registry of every worker.
        raise ExtractError(f"{path}: no facility rows; nothing was imported")
    return rows, count


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _document(rows: RegistryRows, version: str, hasher: OfficerHasher, path: str) -> dict[str, Any]:
    """Return the stored form: officers as (keyed CCCD hash -> name key), never in clear."""
    facilities = []
    for code in sorted(rows.facilities):
        f = rows.facilities[code]
        officers = {
            hasher.hash(cccd): fold_name(name) for cccd, name in rows.officers.get(code, {}).items()
        }
        facilities.append([code, f.name, f.province, f.level, officers])
    return {
        "format": FORMAT,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": os.path.basename(path),
        "source_sha256": _sha256(path),
        "key_id": hasher.key_id,
        "name_fold": FOLD_VERSION,
        "facilities": facilities,
    }


def import_registry(data_dir: str | os.PathLike[str], path: str) -> dict[str, Any]:
    """Check the registry file at `path` whole and publish it; return the summary."""
    rows, count = read_registry_file(path)
    store = RegistryStore(data_dir)
    with store.lock():
        try:
            previous = store.current_version()
        except StoreError:
            previous = None  # a damaged pointer: the import repairs it
        version = store.new_version()
        hasher = OfficerHasher(load_secret(data_dir))
        store.publish(_document(rows, version, hasher, path))
    levels = Counter(f.level for f in rows.facilities.values())
    return {
        "version": version,
        "previous": previous,
        "source": path,
        "rows": count,
        "facilities": len(rows.facilities),
        "levels": {level: levels[level] for level in LEVELS},
        "officers": sum(len(names) for names in rows.officers.values()),
        "facilities_with_officers": len(rows.officers),
    }
