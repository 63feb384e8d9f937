"""The person record and index keys of a snapshot (docs/DESIGN.md 4), in plain Python.

A record is a 67-byte little-endian header (`HEADER`) followed by the UTF-8 texts full_name,
address, issuer. Enumerations are stored as their index in the tuples below, in DESIGN order.
"""

from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass

from lookup.schema import GENDERS, MANAGED_BY, REGIONS, STATUSES

__all__ = (
    "GENDERS",
    "HEADER",
    "HEADER_SIZE",
    "MANAGED_BY",
    "REGIONS",
    "STATUSES",
    "VERSION",
    "Record",
    "bhxh_key",
    "cccd_key",
    "decode",
    "encode",
    "key_to_bhxh",
    "key_to_cccd",
)

VERSION = 1
HEADER = struct.Struct("<BBBBBBHHHIIIII15s5s15s")
HEADER_SIZE = HEADER.size  # 67
NO_CARD = b"\0" * 15
# HEADER's fields, in order (DESIGN 4).
_Header = namedtuple(
    "_Header",
    "version gender status managed_by region reserved name_len address_len issuer_len"
    " dob valid_from valid_to five_year prev_valid_to card_no facility prev_card_no",
)


@dataclass(frozen=True, slots=True)
class Record:
    """One person's record as stored under their CCCD key; absent values are None.

    Dates are packed yyyymmdd integers (DESIGN 3); `dob` may be partial.
    """

    gender: str
    status: str
    managed_by: str
    region_code: str | None
    dob: int
    valid_from: int
    valid_to: int
    five_year_date: int | None
    prev_valid_to: int | None
    card_no: str
    facility_code: str
    prev_card_no: str | None
    full_name: str
    address: str | None
    issuer: str | None
    version: int = VERSION

    @property
    def bhxh_code(self) -> str:
        """Return the social insurance number: the last 10 characters of card_no (SPEC 1.1)."""
        return self.card_no[-10:]


def encode(record: Record) -> bytes:
    """Encode a record as the bytes stored in the `people` database."""
    name = record.full_name.encode("utf-8")
    address = (record.address or "").encode("utf-8")
    issuer = (record.issuer or "").encode("utf-8")
    header = HEADER.pack(
        record.version,
        GENDERS.index(record.gender),
        STATUSES.index(record.status),
        MANAGED_BY.index(record.managed_by),
        REGIONS.index(record.region_code),
        0,  # reserved
        len(name),
        len(address),
        len(issuer),
        record.dob,
        record.valid_from,
        record.valid_to,
        record.five_year_date or 0,
        record.prev_valid_to or 0,
        record.card_no.encode("ascii"),
        record.facility_code.encode("ascii"),
        record.prev_card_no.encode("ascii") if record.prev_card_no else NO_CARD,
    )
    return header + name + address + issuer


def _name(names: tuple[str | None, ...], code: int, what: str) -> str:
    """Return the name stored as `code` (code 0 of GENDERS and REGIONS names nothing)."""
    if code >= len(names) or names[code] is None:
        raise ValueError(f"record: unknown {what} code {code}")
    return names[code]  # type: ignore[return-value]


def decode(buf: bytes) -> Record:
    """Decode a stored record; raise ValueError when it is not a version-1 record."""
    if len(buf) < HEADER_SIZE:
        raise ValueError(f"record: {len(buf)} bytes; the header alone has {HEADER_SIZE}")
    h = _Header._make(HEADER.unpack_from(buf))
    if h.version != VERSION:
        raise ValueError(f"record: format version {h.version}; this reader knows {VERSION}")
    end = HEADER_SIZE + h.name_len + h.address_len + h.issuer_len
    if len(buf) != end:
        raise ValueError(f"record: {len(buf)} bytes; its header says {end}")
    name_end = HEADER_SIZE + h.name_len
    full_name = bytes(buf[HEADER_SIZE:name_end]).decode("utf-8")
    address = bytes(buf[name_end : name_end + h.address_len]).decode("utf-8")
    issuer = bytes(buf[name_end + h.address_len : end]).decode("utf-8")
    return Record(
        version=h.version,
        gender=_name(GENDERS, h.gender, "gender"),
        status=_name(STATUSES, h.status, "status"),
        managed_by=_name(MANAGED_BY, h.managed_by, "managed_by"),
        region_code=_name(REGIONS, h.region, "region") if h.region else None,
        dob=h.dob,
        valid_from=h.valid_from,
        valid_to=h.valid_to,
        five_year_date=h.five_year or None,
        prev_valid_to=h.prev_valid_to or None,
        card_no=h.card_no.decode("ascii"),
        facility_code=h.facility.decode("ascii"),
        prev_card_no=None if h.prev_card_no == NO_CARD else h.prev_card_no.decode("ascii"),
        full_name=full_name,
        address=address or None,
        issuer=issuer or None,
    )


def cccd_key(cccd: str) -> bytes:
    """Return the `people` key of a 12-digit CCCD: an 8-byte big-endian integer."""
    return int(cccd).to_bytes(8, "big")


def key_to_cccd(key: bytes) -> str:
    """Return the 12-digit CCCD (leading zeros kept) of a `people` key."""
    return f"{int.from_bytes(key, 'big'):012d}"


def bhxh_key(bhxh_code: str) -> bytes:
    """Return the `bhxh` key of a 10-digit social insurance number."""
    return int(bhxh_code).to_bytes(8, "big")


def key_to_bhxh(key: bytes) -> str:
    """Return the 10-digit social insurance number of a `bhxh` key."""
    return f"{int.from_bytes(key, 'big'):010d}"
