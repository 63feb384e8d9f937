"""Apply a daily delta (SPEC.md 1.2) to the current snapshot, all or nothing.

Every row is validated by the same RowValidator as the build; one bad row, or one change that
would give a social insurance number or card code to two people, rejects the whole delta and
every such row is listed. A good delta is published like a build, so readers of the current
snapshot never see a half-applied one, but it does not copy the store (docs/DESIGN.md 4): the
new snapshot's data.mdb is the parent's base (a hard link), and overlay/data.mdb beside it
holds the changes of every delta since that base was built (a copy of the parent's overlay,
plus these). Once the parent's overlay passes MERGE_SHARE of its base, the delta writes a new
base instead (the old one, the overlay folded in, these changes): a delta costs what it
changes, and now and then what the store weighs. Deltas are daily changes, so their rows are
held in memory (about 300 bytes each).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lmdb
import orjson

from lookup import _core
from lookup._os import crash_point
from lookup.errors import RowError, StoreError
from lookup.ingest.extract import Extract
from lookup.store import DATA_FILE, OVERLAY_DIR, DataDir
from lookup.store.manifest import snapshot_identity
from lookup.store.strings import STRINGS_KEY, Strings

__all__ = ("DeltaRejected", "apply_delta")

MAX_ERRORS_SHOWN = 20
DATABASES = ("people", "bhxh", "cards", "meta")
# An overlay past this share of its base's bytes is merged into a new base by the next delta:
# lookups that miss it still pay a probe of it, and each delta copies it.
MERGE_SHARE = 0.05


class DeltaRejected(StoreError):
    """The delta has bad rows; nothing was changed. `.errors` lists (line, field, reason)."""

    def __init__(self, path: str, errors: list[tuple[int, str, str]]) -> None:
        self.errors = sorted(errors)
        lines = [f"  line {line}: {reason}" for line, _, reason in self.errors[:MAX_ERRORS_SHOWN]]
        if len(self.errors) > MAX_ERRORS_SHOWN:
            lines.append(f"  ... and {len(self.errors) - MAX_ERRORS_SHOWN} more")
        super().__init__(
            f"{path}: {len(self.errors)} bad row(s); nothing was applied:\n" + "\n".join(lines)
        )


def apply_delta(data: DataDir, path: str) -> dict[str, Any]:
    """Apply the delta at `path` to the current snapshot and publish the result."""
    started = time.monotonic()
    with data.writer():
        parent = data.current_path()
        ops, errors = _read_delta(path)
        if errors:
            raise DeltaRejected(path, errors)
        snapshot_id, staging = data.new_staging()
        base_size = (parent / DATA_FILE).stat().st_size
        parent_overlay = parent / OVERLAY_DIR / DATA_FILE
        overlay_size = parent_overlay.stat().st_size if parent_overlay.exists() else 0
        merge = overlay_size > MERGE_SHARE * base_size
        delta_bytes = sum(len(row.record or b"") + 64 for _, row in ops)
        identity = snapshot_identity(
            snapshot_id, "delta", path, core=_core.CORE, parent=parent.name
        )
        # Room for what is copied, twice, and for the changes (an overlay is written whole).
        copied = (base_size if merge else 0) + overlay_size
        map_size = 2 * copied + 2 * delta_bytes + 64 * 2**20
        write = _apply_merged if merge else _apply_overlay
        with _open(parent, readonly=True) as base:
            counts, entries = write(base, parent, staging, ops, path, identity, map_size)
        crash_point("delta-before-publish")
        summary = {
            "snapshot": snapshot_id,
            "parent": parent.name,
            "source": str(path),
            **counts,
            "entries": entries,
            "merged": merge,
            "store_bytes": _bytes(staging),
            "seconds": round(time.monotonic() - started, 3),
        }
        manifest = {
            **identity,
            "changes": {k: summary[k] for k in ("added", "changed", "deleted")},
            "published": entries["people"],
            "entries": entries,
            "store_bytes": summary["store_bytes"],
        }
        data.publish(snapshot_id, manifest, new_data=merge)
    return summary


def _open(path: Path, *, readonly: bool, map_size: int = 0) -> lmdb.Environment:
    # A snapshot being written has one writer and no reader until publish: no lock file.
    if readonly:
        return lmdb.open(str(path), readonly=True, lock=False, max_dbs=4, subdir=True)
    return lmdb.open(
        str(path), map_size=map_size, max_dbs=4, lock=False, sync=False, metasync=False
    )


def _apply_overlay(
    base: lmdb.Environment,
    parent: Path,
    staging: Path,
    ops: list[tuple[int, Any]],
    path: str,
    identity: dict[str, Any],
    map_size: int,
) -> tuple[dict[str, int], dict[str, int]]:
    """Publish the parent's base as it is (a hard link: no copy) with an overlay of its
    overlay's changes and these (DESIGN 4)."""
    os.link(parent / DATA_FILE, staging / DATA_FILE)
    crash_point("delta-overlay-linked")
    target = staging / OVERLAY_DIR
    target.mkdir()
    if (parent / OVERLAY_DIR / DATA_FILE).exists():
        with _open(parent / OVERLAY_DIR, readonly=True) as previous:
            previous.copy(str(target), compact=True)
    env = _open(target, readonly=False, map_size=map_size)
    try:
        with base.begin() as base_txn, env.begin(write=True) as txn:
            dbs = {name: env.open_db(name.encode(), txn=txn) for name in DATABASES}
            base_dbs = {name: base.open_db(name.encode(), txn=base_txn) for name in DATABASES}
            if txn.get(b"manifest", db=dbs["meta"]) is None:  # the base's first overlay
                table = base_txn.get(STRINGS_KEY, db=base_dbs["meta"])
                txn.put(STRINGS_KEY, table or b"", db=dbs["meta"])
            view = _Overlay(txn, dbs, base_txn, base_dbs)
            counts = _apply(view, ops, path, identity)
            entries = {
                name: base_txn.stat(base_dbs[name])["entries"] + view.growth(name)
                for name in ("people", "bhxh", "cards")
            }
        env.sync(True)
    finally:
        env.close()
    return counts, entries


def _apply_merged(
    base: lmdb.Environment,
    parent: Path,
    staging: Path,
    ops: list[tuple[int, Any]],
    path: str,
    identity: dict[str, Any],
    map_size: int,
) -> tuple[dict[str, int], dict[str, int]]:
    """Write a new base: the parent's base, its overlay folded in, and these changes."""
    base.copy(str(staging), compact=True)
    overlay_path = parent / OVERLAY_DIR
    env = _open(staging, readonly=False, map_size=map_size)
    try:
        with env.begin(write=True) as txn:
            dbs = {name: env.open_db(name.encode(), txn=txn) for name in DATABASES}
            if (overlay_path / DATA_FILE).exists():
                with _open(overlay_path, readonly=True) as overlay, overlay.begin() as o_txn:
                    for name in DATABASES:
                        db = overlay.open_db(name.encode(), txn=o_txn)
                        for key, value in o_txn.cursor(db=db):
                            if value or name == "meta":
                                txn.put(key, value, db=dbs[name])
                            else:
                                txn.delete(key, db=dbs[name])
            counts = _apply(_Store(txn, dbs), ops, path, identity)
            entries = {name: txn.stat(dbs[name])["entries"] for name in ("people", "bhxh", "cards")}
        env.sync(True)
    finally:
        env.close()
    return counts, entries


class _Store:
    """The snapshot being written, read and changed in place (a merge)."""

    def __init__(self, txn: lmdb.Transaction, dbs: dict[str, lmdb._Database]) -> None:
        self.txn, self.dbs = txn, dbs

    def get(self, name: str, key: bytes) -> bytes | None:
        value = self.txn.get(key, db=self.dbs[name])
        return bytes(value) if value is not None else None

    def put(self, name: str, key: bytes, value: bytes) -> None:
        self.txn.put(key, value, db=self.dbs[name])

    def delete(self, name: str, key: bytes) -> None:
        self.txn.delete(key, db=self.dbs[name])


class _Overlay(_Store):
    """An overlay over a base (DESIGN 4): read there first; a deletion is an empty value."""

    def __init__(
        self,
        txn: lmdb.Transaction,
        dbs: dict[str, lmdb._Database],
        base_txn: lmdb.Transaction,
        base_dbs: dict[str, lmdb._Database],
    ) -> None:
        super().__init__(txn, dbs)
        self.base_txn, self.base_dbs = base_txn, base_dbs

    def get(self, name: str, key: bytes) -> bytes | None:
        changed = self.txn.get(key, db=self.dbs[name])
        if changed is not None:
            return bytes(changed) or None
        value = self.base_txn.get(key, db=self.base_dbs[name])
        return bytes(value) if value is not None else None

    def delete(self, name: str, key: bytes) -> None:
        self.txn.put(key, b"", db=self.dbs[name])

    def growth(self, name: str) -> int:
        """Entries the overlay adds to the base's, less those it deletes."""
        grown = 0
        for key, value in self.txn.cursor(db=self.dbs[name]):
            in_base = self.base_txn.get(key, db=self.base_dbs[name]) is not None
            grown += (1 if value else 0) - (1 if in_base else 0)
        return grown


def _bytes(snapshot: Path) -> int:
    """Return the snapshot's bytes on disk: its base and its overlay."""
    overlay = snapshot / OVERLAY_DIR / DATA_FILE
    size = (snapshot / DATA_FILE).stat().st_size
    return size + (overlay.stat().st_size if overlay.exists() else 0)


def _read_delta(path: str) -> tuple[list[tuple[int, Any]], list[tuple[int, str, str]]]:
    ops: list[tuple[int, Any]] = []
    errors: list[tuple[int, str, str]] = []
    first_line: dict[bytes, int] = {}
    with Extract(path, delta=True) as extract:
        validate = _core.RowValidator(extract.columns, delta=True).validate
        for line, values in extract:
            try:
                row = validate(values)
            except RowError as exc:
                errors.append((line, exc.field, exc.message))
                continue
            if row.cccd_key in first_line:  # two changes to one person: which one is meant?
                errors.append(
                    (line, "cccd", f"cccd: also changed on line {first_line[row.cccd_key]}")
                )
                continue
            first_line[row.cccd_key] = line
            ops.append((line, row))
    return ops, errors


def _apply(
    store: _Store, ops: list[tuple[int, Any]], path: str, identity: dict[str, Any]
) -> dict[str, int]:
    """Apply all ops in the store's write transaction; raise DeltaRejected (and the caller's
    transaction is aborted) on conflicts."""
    errors: list[tuple[int, str, str]] = []
    counts = {"added": 0, "changed": 0, "deleted": 0}
    # The parent's string table, which the new records extend (DESIGN 4; none in format 1).
    strings = Strings.from_bytes(store.get("meta", STRINGS_KEY))
    # Pass 1: take every changed or deleted person's old codes out of the indexes, so a code
    # that moves from one person to another within the delta does not depend on order.
    for line, row in ops:
        old = store.get("people", row.cccd_key)
        if old is None:
            if row.op == "delete":
                errors.append((line, "cccd", "cccd: delete of a person who is not in the store"))
            continue
        try:
            record = _core.decode_record(bytes(old), strings)
        except ValueError as exc:  # not what a build writes: say so, change nothing
            message = f"line {line}: the stored record of this person is damaged: {exc}"
            raise StoreError(message) from None
        store.delete("bhxh", int(record.bhxh_code).to_bytes(8, "big"))
        for card in (record.card_no, record.prev_card_no):
            if card and store.get("cards", card.encode("ascii")) is not None:
                store.delete("cards", card.encode("ascii"))
        counts["deleted" if row.op == "delete" else "changed"] += 1
        if row.op == "delete":
            store.delete("people", row.cccd_key)
    # Pass 2: write the new records and claim their codes; a code already held is a conflict.
    for line, row in ops:
        if row.op == "delete":
            continue
        [(_, stored)] = _core.compact_records([(row.cccd_key, row.record)], strings)
        store.put("people", row.cccd_key, stored)
        if store.get("bhxh", row.bhxh_key) is not None:
            errors.append((line, "bhxh_code", "bhxh_code: already belongs to another person"))
        else:
            store.put("bhxh", row.bhxh_key, row.cccd_key)
        for field, card in (("card_no", row.card_no), ("prev_card_no", row.prev_card_no)):
            if card is not None and _card_taken(store, card, row, strings):
                errors.append((line, field, f"{field}: already belongs to another person"))
            elif card is not None and card[5:] != row.card_no[5:]:
                store.put("cards", card, row.cccd_key)  # bhxh cannot find it (DESIGN 4)
    counts["added"] = sum(1 for _, row in ops if row.op == "upsert") - counts["changed"]
    if errors:
        raise DeltaRejected(path, errors)  # leaving the caller's block aborts the transaction
    store.put("meta", STRINGS_KEY, strings.to_bytes())
    store.put("meta", b"manifest", orjson.dumps(identity))
    return counts


def _card_taken(store: _Store, card: bytes, row: Any, strings: Strings) -> bool:
    """Tell whether another person holds the card code: in `cards`, or as a code found through
    bhxh (one that ends in its holder's social insurance number, DESIGN 4)."""
    if store.get("cards", card) is not None:
        return True
    holder = store.get("bhxh", int(card[5:]).to_bytes(8, "big"))
    if holder is None or holder == row.cccd_key:
        return False
    stored = store.get("people", bytes(holder))
    held = _core.decode_record(bytes(stored), strings) if stored is not None else None
    return held is not None and card.decode("ascii") in (held.card_no, held.prev_card_no)
