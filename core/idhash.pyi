"""Keyed hashes of looked-up ids for the audit log; compiled from core/idhash.pyx."""

from collections.abc import Iterable
from typing import Self, final

__all__ = ("IdHasher",)

@final
class IdHasher:
    """BLAKE2b-128 keyed with `key` (1-64 bytes) over folded ids."""

    # The key goes to __cinit__, that is to __new__: the class has no __init__ of its own.
    def __new__(cls, key: bytes) -> Self: ...
    def hash_id(self, id: str) -> str:
        """Return the keyed hash of an id as 32 lower-case hex digits."""
    def hash_ids_json(self, ids: Iterable[str]) -> bytes:
        """Return the JSON array of the ids' hashes: orjson.dumps([hash_id(i) for i in ids])."""
