"""Read a published snapshot and answer entitlement lookups (docs/DESIGN.md 4 and 6), in plain
Python over py-lmdb: the readable twin and test oracle of core/reader.pyx."""

from __future__ import annotations

import os
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType

import lmdb
import orjson

from lookup.errors import IdError, StoreError
from lookup.reference import dates, ids, record, rules
from lookup.store import OVERLAY_DIR
from lookup.store.strings import STRINGS_KEY, Strings

__all__ = ("FacilityTable", "SnapshotReader")

DATABASES = ("people", "bhxh", "cards", "meta")
KEY_LEN = 8  # DESIGN 4: people keys, and the values of the bhxh and cards indexes


def _require_strings(ids: list[str]) -> None:
    for i, asked in enumerate(ids):
        if not isinstance(asked, str):
            raise TypeError(f"ids[{i}]: expected str, got {type(asked).__name__}")


def check_date(date: int) -> None:
    """Raise ValueError unless date is a full packed yyyymmdd date (DESIGN 3)."""
    if not dates.is_real_date(*dates.unpack(date)):
        raise ValueError(f"date: {date} is not a real yyyymmdd date in the years 1800-2299")


class FacilityTable:
    """The facility registry (SPEC 1.4) as answers show it: code -> (name, level)."""

    def __init__(self, table: Mapping[str, tuple[str | None, str | None]]) -> None:
        self.table = dict(table)
        for code in self.table:
            if not isinstance(code, str) or not code.isascii() or len(code) != 5:
                raise ValueError(f"facilities: {code!r} is no 5-character facility code")


class SnapshotReader:
    """Answer lookups from one immutable snapshot directory (it holds data.mdb)."""

    _facilities: FacilityTable | None = None

    @property
    def facilities(self) -> dict[str, tuple[str | None, str | None]] | None:
        """The registry's code -> (name, level) that answers show (None: no registry)."""
        return None if self._facilities is None else self._facilities.table

    @facilities.setter
    def facilities(
        self, table: Mapping[str, tuple[str | None, str | None]] | FacilityTable | None
    ) -> None:
        if table is None or isinstance(table, FacilityTable):
            self._facilities = table
        else:
            self._facilities = FacilityTable(table)

    def __init__(self, path: str) -> None:
        if not os.path.isfile(os.path.join(path, "data.mdb")):
            raise StoreError(f"snapshot {path}: no data.mdb here; not a published snapshot")
        try:
            # DESIGN 4: a published snapshot never changes, so no lock file and no reader table.
            self._env = lmdb.open(path, readonly=True, lock=False, max_dbs=4, subdir=True)
        except lmdb.Error as exc:
            raise StoreError(f"snapshot {path}: cannot open the store: {exc}") from exc
        self._closed = False
        try:
            self._check_size(path)
            # One read transaction for the reader's life: nothing is ever written under it.
            self._txn = self._env.begin()
            self._dbs = {name: self._open_db(path, name) for name in DATABASES}
            self._overlay = self._open_overlay(path)
            self.snapshot_id: str = self._read_snapshot_id(path)
            self._strings = self._read_strings(path)
        except BaseException:
            self._env.close()
            overlay: lmdb.Environment | None = getattr(self, "_overlay", None)
            if overlay is not None:
                overlay.close()
            raise

    def _open_overlay(self, path: str) -> lmdb.Environment | None:
        """Open DIR/overlay/data.mdb when there is one: the changes of the deltas since the
        base was built (an empty value is a deletion), and the snapshot's own manifest and
        string table."""
        overlay = os.path.join(path, OVERLAY_DIR)
        self._meta_txn, self._meta_db = self._txn, self._dbs["meta"]
        self._otxn: lmdb.Transaction | None = None
        if not os.path.isfile(os.path.join(overlay, "data.mdb")):
            return None
        try:
            env = lmdb.open(overlay, readonly=True, lock=False, max_dbs=4, subdir=True)
        except lmdb.Error as exc:
            raise StoreError(f"snapshot {path}: cannot open its overlay: {exc}") from exc
        try:
            self._otxn = env.begin()
            self._odbs = {
                name: env.open_db(name.encode(), txn=self._otxn, create=False) for name in DATABASES
            }
        except lmdb.Error as exc:
            env.close()
            raise StoreError(f"snapshot {path}: cannot open its overlay: {exc}") from exc
        self._meta_txn, self._meta_db = self._otxn, self._odbs["meta"]
        return env

    def _check_size(self, path: str) -> None:
        """Refuse a truncated file: reading a page past its end would kill the process."""
        committed = (self._env.info()["last_pgno"] + 1) * self._env.stat()["psize"]
        if committed > os.path.getsize(os.path.join(path, "data.mdb")):
            raise StoreError(f"snapshot {path}: data.mdb is truncated")

    def _open_db(self, path: str, name: str) -> lmdb._Database:
        try:
            return self._env.open_db(name.encode(), txn=self._txn, create=False)
        except lmdb.Error as exc:
            raise StoreError(f"snapshot {path}: no {name} database") from exc

    def _read_snapshot_id(self, path: str) -> str:
        raw = self._meta_txn.get(b"manifest", db=self._meta_db)
        try:
            snapshot_id = orjson.loads(raw)["id"] if raw is not None else None
        except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
            raise StoreError(f"snapshot {path}: the manifest is not JSON with an id") from exc
        if not isinstance(snapshot_id, str):
            raise StoreError(f"snapshot {path}: the manifest is not JSON with an id")
        return snapshot_id

    def _read_strings(self, path: str) -> Strings:
        """Read the string table of version-2 records (none in a format-1 snapshot)."""
        try:
            return Strings.from_bytes(self._meta_txn.get(STRINGS_KEY, db=self._meta_db))
        except ValueError as exc:
            raise StoreError(f"snapshot {path}: the string table is damaged") from exc

    @property
    def strings(self) -> tuple[bytes, ...]:
        """The string table's texts (UTF-8), string n at index n - 1 (lookup.store.strings)."""
        if self._closed:
            raise StoreError("snapshot reader is closed")
        return tuple(self._strings.texts)

    def _get(self, db: str, key: bytes) -> bytes | None:
        """Look a key up in the overlay, then the base."""
        if self._closed:
            raise StoreError("snapshot reader is closed")
        if self._otxn is not None:
            changed = self._otxn.get(key, db=self._odbs[db])
            if changed is not None:
                return bytes(changed) or None  # empty: deleted since the base was built
        return self._txn.get(key, db=self._dbs[db])

    def _find_person(self, kind: str, normalised: str) -> tuple[bytes | None, str]:
        """Return the people key an id leads to, or None, and the kind of id it was found as
        (DESIGN 4): a card code `cards` does not hold is sought as the social insurance number
        it ends with."""
        if kind == "cccd":
            return record.cccd_key(normalised), kind
        if kind == "bhxh_code":
            return self._get("bhxh", record.bhxh_key(normalised)), kind
        key = self._get("cards", normalised.encode("ascii"))
        if key is not None:
            return key, kind
        return self._get("bhxh", record.bhxh_key(normalised[5:])), "bhxh_code"

    def _body(self, asked: str, date: int, facility: str | None) -> rules.Body:
        snapshot = self.snapshot_id
        try:
            kind, normalised = ids.parse_id(asked)
        except IdError as exc:
            return rules.malformed(asked, str(exc), date, snapshot)
        key, found_as = self._find_person(kind, normalised)
        if key is None:
            return rules.not_found(asked, kind, date, snapshot)
        stored = self._get("people", key) if len(key) == KEY_LEN else None
        if stored is None:
            if kind == "cccd":
                return rules.not_found(asked, kind, date, snapshot)
            return rules.data_error(asked, kind, date, snapshot)  # an index entry to nobody
        try:
            person = record.decode(stored, self._strings)
        except ValueError:
            return rules.data_error(asked, kind, date, snapshot)
        if not rules.is_sound(person):
            return rules.data_error(asked, kind, date, snapshot)
        if found_as != kind:  # a card code found by its last 10 digits
            if not rules.holds_id(person, found_as, normalised[5:]):
                return rules.data_error(asked, kind, date, snapshot)
            if not rules.holds_id(person, kind, normalised):
                return rules.not_found(asked, kind, date, snapshot)  # the holder's codes differ
        elif not rules.holds_id(person, kind, normalised):
            return rules.data_error(asked, kind, date, snapshot)
        cccd = record.key_to_cccd(key)
        return rules.entitlement(
            asked, kind, normalised, cccd, person, date, facility, snapshot, self.facilities
        )

    def answer(self, id: str, date: int, facility: str | None = None) -> bytes:
        """Answer one lookup as the SPEC 3 JSON body; date is packed yyyymmdd."""
        check_date(date)
        return orjson.dumps(self._body(id, date, facility))

    def answer_coded(self, id: str, date: int, facility: str | None = None) -> tuple[bytes, str]:
        """Return the SPEC 3 body of one lookup and its result code."""
        check_date(date)
        body = self._body(id, date, facility)
        return orjson.dumps(body), body["result"]["code"]

    def answer_many(self, ids: list[str], date: int, facility: str | None = None) -> bytes:
        """Answer many lookups as a JSON array of bodies in request order."""
        check_date(date)
        _require_strings(ids)
        return orjson.dumps([self._body(asked, date, facility) for asked in ids])

    def answer_batch(
        self, ids: list[str], date: int, facility: str | None = None
    ) -> tuple[bytes, bytes, dict[str, int]]:
        """Return the SPEC 3 batch answer, `{"results": [...]}`, with the answers' result codes.

        The codes come in request order as a JSON array, and counted: how many gave each code.
        """
        check_date(date)
        _require_strings(ids)
        bodies = [self._body(asked, date, facility) for asked in ids]
        codes = [body["result"]["code"] for body in bodies]
        return orjson.dumps({"results": bodies}), orjson.dumps(codes), dict(Counter(codes))

    # -- reconciliation with the population register (SPEC.md 4; lookup.sync) --
    def stored_record(self, cccd: int) -> bytes | None:
        """Return the stored record of the person whose CCCD is this number, or None."""
        return self._get("people", cccd.to_bytes(KEY_LEN, "big"))

    def reconcile(
        self,
        rows: Iterable[tuple[int, list[str]]],
        columns: tuple[str, ...],
        slow: Callable[[int, list[str]], tuple[bytes, int]],
        write: Callable[[bytes], object],
        today: int,
        mismatches: bool = False,
        tick: Callable[[int], object] | None = None,
        every: int = 65536,
    ) -> tuple[dict[str, int], dict[str, int], bytes]:
        """Report each (line, values) of rows to `write`: here every row goes to `slow`, which
        returns its report line and the CCCD it found (-1: none); `tick(rows read)` every
        `every` rows. Return the rows of each status and mismatch field written without `slow`
        (none here), and the CCCDs found, in file order, as native uint64 bytes."""
        found = array("Q")
        for read, (line, values) in enumerate(rows, start=1):
            text, key = slow(line, values)
            if key >= 0:
                found.append(key)
            write(text)
            if tick is not None and read % every == 0:
                tick(read)
        return {}, {}, found.tobytes()

    def missing(self, found: bytes) -> bytes:
        """Return the CCCDs of the stored people not among `found` (native uint64 bytes in any
        order: what `reconcile` returned, of one range or of several), sorted, the same way."""
        unsorted = array("Q")
        unsorted.frombytes(found)
        seen = sorted(unsorted)
        seen_set = set(seen)
        changed: dict[int, bool] = {}  # the overlay's people: key -> has a record
        if self._otxn is not None:
            for key, value in self._otxn.cursor(db=self._odbs["people"]):
                changed[int.from_bytes(key, "big")] = bool(value)
        people = [
            int.from_bytes(key, "big")
            for key in self._txn.cursor(db=self._dbs["people"]).iternext(values=False)
        ]
        stored = [n for n in people if n not in changed] + [n for n, has in changed.items() if has]
        return array("Q", sorted(n for n in stored if n not in seen_set)).tobytes()

    def close(self) -> None:
        """Release the snapshot; later lookups raise StoreError."""
        if not self._closed:
            self._closed = True
            self._txn.abort()
            self._env.close()
            if self._otxn is not None and self._overlay is not None:
                self._otxn.abort()
                self._overlay.close()

    def __enter__(self) -> SnapshotReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
