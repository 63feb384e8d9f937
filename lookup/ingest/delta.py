"""Apply a daily delta (SPEC.md 1.2) to the current snapshot, all or nothing.

Every row is validated by the same RowValidator as the build; one bad row, or one change that
would give a social insurance number or card code to two people, rejects the whole delta and
every such row is listed. A good delta is applied to a compacted copy of the current snapshot,
published like a build: readers of the current snapshot never see a half-applied delta.
Deltas are daily changes, so their rows are held in memory (about 300 bytes each).
"""

from __future__ import annotations

import time
from typing import Any

import lmdb
import orjson

from lookup import _core
from lookup._os import crash_point
from lookup.errors import RowError, StoreError
from lookup.ingest.extract import Extract
from lookup.store import DataDir
from lookup.store.manifest import snapshot_identity
from lookup.store.strings import STRINGS_KEY, Strings

__all__ = ("DeltaRejected", "apply_delta")

MAX_ERRORS_SHOWN = 20


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
        with lmdb.open(str(parent), readonly=True, lock=False, max_dbs=4, subdir=True) as src:
            src.copy(str(staging), compact=True)
            parent_size = (parent / "data.mdb").stat().st_size
        delta_bytes = sum(len(row.record or b"") + 64 for _, row in ops)
        # The staging copy has one writer and no reader until publish: no lock file (DESIGN 4).
        env = lmdb.open(
            str(staging),
            map_size=2 * parent_size + 2 * delta_bytes + 64 * 2**20,
            max_dbs=4,
            lock=False,
            sync=False,
            metasync=False,
            subdir=True,
        )
        identity = snapshot_identity(
            snapshot_id, "delta", path, core=_core.CORE, parent=parent.name
        )
        try:
            counts = _apply(env, ops, path, identity)
            env.sync(True)
            entries = {name: _count(env, name) for name in ("people", "bhxh", "cards")}
        finally:
            env.close()
        crash_point("delta-before-publish")
        summary = {
            "snapshot": snapshot_id,
            "parent": parent.name,
            "source": str(path),
            **counts,
            "entries": entries,
            "store_bytes": (staging / "data.mdb").stat().st_size,
            "seconds": round(time.monotonic() - started, 3),
        }
        manifest = {
            **identity,
            "changes": {k: summary[k] for k in ("added", "changed", "deleted")},
            "published": entries["people"],
            "entries": entries,
            "store_bytes": summary["store_bytes"],
        }
        data.publish(snapshot_id, manifest)
    return summary


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
    env: lmdb.Environment, ops: list[tuple[int, Any]], path: str, identity: dict[str, Any]
) -> dict[str, int]:
    """Apply all ops in one write transaction; raise DeltaRejected (txn aborted) on conflicts."""
    people, bhxh, cards, meta = (
        env.open_db(name) for name in (b"people", b"bhxh", b"cards", b"meta")
    )
    errors: list[tuple[int, str, str]] = []
    counts = {"added": 0, "changed": 0, "deleted": 0}
    with env.begin(write=True) as txn:
        # The parent's string table, which the new records extend (DESIGN 4; none in format 1).
        strings = Strings.from_bytes(txn.get(STRINGS_KEY, db=meta))
        # Pass 1: take every changed or deleted person's old codes out of the indexes, so a
        # code that moves from one person to another within the delta does not depend on order.
        for line, row in ops:
            old = txn.get(row.cccd_key, db=people)
            if old is None:
                if row.op == "delete":
                    errors.append(
                        (line, "cccd", "cccd: delete of a person who is not in the store")
                    )
                continue
            record = _core.decode_record(old, strings)
            txn.delete(int(record.bhxh_code).to_bytes(8, "big"), db=bhxh)
            for card in (record.card_no, record.prev_card_no):
                if card:
                    txn.delete(card.encode("ascii"), db=cards)
            counts["deleted" if row.op == "delete" else "changed"] += 1
            if row.op == "delete":
                txn.delete(row.cccd_key, db=people)
        # Pass 2: write the new records and claim their codes; a code already held is a conflict.
        for line, row in ops:
            if row.op == "delete":
                continue
            [(_, stored)] = _core.compact_records([(row.cccd_key, row.record)], strings)
            if not txn.put(row.cccd_key, stored, db=people, overwrite=True, dupdata=False):
                raise StoreError(f"line {line}: could not write the record")
            if not txn.put(row.bhxh_key, row.cccd_key, db=bhxh, overwrite=False):
                errors.append((line, "bhxh_code", "bhxh_code: already belongs to another person"))
            for field, card in (("card_no", row.card_no), ("prev_card_no", row.prev_card_no)):
                if card is not None and _card_taken(txn, bhxh, cards, people, card, row, strings):
                    errors.append((line, field, f"{field}: already belongs to another person"))
                elif card is not None and card[5:] != row.card_no[5:]:
                    txn.put(card, row.cccd_key, db=cards)  # bhxh cannot find it (DESIGN 4)
        counts["added"] = sum(1 for _, row in ops if row.op == "upsert") - counts["changed"]
        if errors:
            raise DeltaRejected(path, errors)  # leaving the block aborts the transaction
        txn.put(STRINGS_KEY, strings.to_bytes(), db=meta)
        txn.put(b"manifest", orjson.dumps(identity), db=meta)
    return counts


def _card_taken(
    txn: lmdb.Transaction,
    bhxh: lmdb._Database,
    cards: lmdb._Database,
    people: lmdb._Database,
    card: bytes,
    row: Any,
    strings: Strings,
) -> bool:
    """Tell whether another person holds the card code: in `cards`, or as a code found through
    bhxh (one that ends in its holder's social insurance number, DESIGN 4)."""
    if txn.get(card, db=cards) is not None:
        return True
    holder = txn.get(int(card[5:]).to_bytes(8, "big"), db=bhxh)
    if holder is None or holder == row.cccd_key:
        return False
    stored = txn.get(holder, db=people)
    held = _core.decode_record(bytes(stored), strings) if stored is not None else None
    return held is not None and card.decode("ascii") in (held.card_no, held.prev_card_no)


def _count(env: lmdb.Environment, name: str) -> int:
    db = env.open_db(name.encode())
    with env.begin(db=db) as txn:
        return int(txn.stat(db)["entries"])
