"""The facility registry as the service reads it (SPEC.md 1.4): names and technical levels of
the facilities, and for each the officers it registered for the gateway check (DOMAIN.md 4).

An officer is kept as the keyed hash of their CCCD, the audit log's (lookup.service.audit: BLAKE2b
-128 keyed with DATA/audit.key, 32 hex digits), so the registry file holds no CCCD and an
investigator matches a registry entry with an audit record's `officer`. Beside it, the key of
their name (lookup.names), which a `hoTenCb` must give (055).
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, NamedTuple

from lookup.errors import StoreError
from lookup.facilities.rows import Facility
from lookup.facilities.storage import RegistryStore
from lookup.names import FOLD_VERSION, fold_name
from lookup.service.audit import load_secret

__all__ = ("FORMAT", "Entry", "OfficerHasher", "Registry")

FORMAT = 1
_CCCD = re.compile(r"[0-9]{12}", re.ASCII)


class OfficerHasher:
    """The audit log's keyed hash of an id (AuditLog.hash_id), for officers' CCCDs."""

    def __init__(self, secret: bytes) -> None:
        # As AuditLog does: BLAKE2b takes keys of at most 64 bytes; a longer secret is hashed.
        key = secret if len(secret) <= 64 else hashlib.blake2b(secret).digest()
        self._keyed = hashlib.blake2b(key=key, digest_size=16)
        # Tells which secret made a registry's hashes without revealing anything of it.
        self.key_id = hashlib.blake2b(
            b"lookup facility registry", key=key, digest_size=8
        ).hexdigest()

    def hash(self, cccd: str) -> str:
        """Return the keyed hash of a 12-digit CCCD (folding as the audit log's is a no-op)."""
        h = self._keyed.copy()
        h.update(cccd.encode("ascii"))
        return h.hexdigest()


class Entry(NamedTuple):
    """One facility as `lookup facilities list` shows it: never its officers, only how many."""

    code: str
    name: str
    province: str
    level: str
    officers: int


class Registry:
    """One imported registry version, read-only; cheap lookups for the request path."""

    __slots__ = ("_facilities", "_hasher", "_officers", "created_at", "source", "version")

    def __init__(self, document: dict[str, Any], hasher: OfficerHasher) -> None:
        """Index a registry document (lookup.facilities.importer) hashed under `hasher`'s key."""
        if document.get("format") != FORMAT:
            raise StoreError(f"facility registry {document.get('version')}: unknown format")
        if document.get("key_id") != hasher.key_id:
            raise StoreError(
                "the facility registry was imported under another audit.key; import it again"
            )
        same_fold = document.get("name_fold") == FOLD_VERSION
        self.version: str = document["version"]
        self.created_at: str = document.get("created_at", "")
        self.source: str = document.get("source", "")
        self._hasher = hasher
        self._facilities: dict[str, Facility] = {}
        self._officers: dict[str, dict[str, str]] = {}
        for code, name, province, level, officers in document["facilities"]:
            self._facilities[code] = Facility(code, name, province, level)
            if officers:
                # A key folded by older rules is folded again: new rules only add equivalences.
                self._officers[code] = (
                    officers if same_fold else {h: fold_name(k) for h, k in officers.items()}
                )

    @classmethod
    def load(cls, data_dir: str | os.PathLike[str]) -> Registry | None:
        """Return the current registry of a data directory, None when none was imported."""
        store = RegistryStore(data_dir)
        version = store.current_version()
        if version is None:
            return None
        return cls(store.read(version), OfficerHasher(load_secret(data_dir)))

    def facility(self, code: str) -> tuple[str, str] | None:
        """Return a facility's (name, level), None when it is not registered."""
        facility = self._facilities.get(code)
        return None if facility is None else (facility.name, facility.level)

    def officers(self, code: str) -> bool:
        """Tell whether a facility registered any officer (then the gateway checks them)."""
        return code in self._officers

    def officer_ok(self, code: str, officer_cccd: str) -> bool:
        """Tell whether this CCCD is among the facility's registered officers."""
        officers = self._officers.get(code)
        if officers is None or not _CCCD.fullmatch(officer_cccd):
            return False
        return self._hasher.hash(officer_cccd) in officers

    def officer_name_ok(self, code: str, officer_cccd: str, name: str) -> bool:
        """Tell whether the officer is registered at the facility under this name (055)."""
        officers = self._officers.get(code)
        if officers is None or not _CCCD.fullmatch(officer_cccd):
            return False
        return officers.get(self._hasher.hash(officer_cccd)) == fold_name(name)

    def as_table(self) -> dict[str, tuple[str, str]]:
        """Return every facility's (name, level) by code, for the answers' facility fields."""
        return {code: (f.name, f.level) for code, f in self._facilities.items()}

    def entries(self) -> list[Entry]:
        """Return the facilities in code order, each with its number of officers."""
        return [
            Entry(*facility, len(self._officers.get(code, ())))
            for code, facility in sorted(self._facilities.items())
        ]
