"""Keyed hashes of looked-up ids for the audit log (lookup/service/audit.py): the readable
reference of core/idhash.pyx, and the tests' oracle.

An id is folded as DESIGN 2 step 1 folds it (' ', '\\t', '\\r', '\\n' deleted, ASCII a-z
upper-cased, nothing else touched), encoded as UTF-8 with lone surrogates kept
("surrogatepass"), and hashed with BLAKE2b-128 keyed with the audit secret (RFC 7693: a MAC by
design). The hash is written as 32 lower-case hex digits, so the same id pasted with spaces or in
lower case hashes the same, and an investigator computes it with:

    hashlib.blake2b(folded.encode("utf-8", "surrogatepass"), key=key, digest_size=16).hexdigest()
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson

__all__ = ("IdHasher",)

# BLAKE2b's longest key; lookup/service/audit.py hashes a longer secret down to 64 bytes.
MAX_KEY = 64

_ID_FOLD = str.maketrans(
    {" ": None, "\t": None, "\r": None, "\n": None}
    | {chr(c): chr(c - 32) for c in range(ord("a"), ord("z") + 1)}
)


class IdHasher:
    """BLAKE2b-128 keyed with `key` (1-64 bytes) over folded ids."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes):
            raise TypeError(f"key must be bytes, not {type(key).__name__}")
        if not 1 <= len(key) <= MAX_KEY:
            raise ValueError(f"key must be 1 to 64 bytes, not {len(key)}")
        # Keyed once: the state after the key block is copied for each id.
        self._keyed = hashlib.blake2b(key=key, digest_size=16)

    def hash_id(self, id: str) -> str:
        """Return the keyed hash of an id as 32 lower-case hex digits."""
        if not isinstance(id, str):
            raise TypeError(f"id must be str, not {type(id).__name__}")
        return self._hash(id)

    def hash_ids_json(self, ids: Iterable[str]) -> bytes:
        """Return the JSON array of the ids' hashes: orjson.dumps([hash_id(i) for i in ids])."""
        hashes = []
        for index, id in enumerate(ids):
            if not isinstance(id, str):
                raise TypeError(f"ids[{index}] must be str, not {type(id).__name__}")
            hashes.append(self._hash(id))
        return orjson.dumps(hashes)

    def _hash(self, id: str) -> str:
        h = self._keyed.copy()
        # str.translate, not id.translate: a str subclass cannot change the folding.
        h.update(str.translate(id, _ID_FOLD).encode("utf-8", "surrogatepass"))
        return h.hexdigest()
