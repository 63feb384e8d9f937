"""The person record and index keys of a snapshot (docs/DESIGN.md 4), in plain Python.

Version 1 (what the build's validator makes, and what format-1 snapshots store): a 67-byte
little-endian header (`HEADER`) followed by the UTF-8 texts full_name, address, issuer.
Version 2 (`compact`, what a snapshot stores now): the same fields in about a third of the
bytes: flags and dates packed, the card code as its 5 leading characters and its number, and
the texts that repeat across people (issuers, facility codes, the commune/district/province
end of addresses) as numbers into the snapshot's string table (`Strings`). Enumerations are
stored as their index in the tuples below, in DESIGN order.
"""

from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass

from lookup.schema import ADDRESS_UNITS, GENDERS, MANAGED_BY, REGIONS, STATUSES
from lookup.store.strings import Strings, read_varint, varint

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
    "compact",
    "decode",
    "encode",
    "key_to_bhxh",
    "key_to_cccd",
    "split_address",
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


# -- version 2 ---------------------------------------------------------------------------------
COMPACT = 2
CARD_HEAD = 5  # the card code's group, level and province; its last 10 digits are its number
LOCALITY_PARTS = 3  # at most: commune, district, province go to the string table


def split_address(address: str | None) -> tuple[str, str | None]:
    """Split an address at ", " into what is the person's own (house, lane, street: stored in
    the record) and its locality (in the string table): the last part (the province) and the
    administrative units just before it (lookup.schema.ADDRESS_UNITS), at most LOCALITY_PARTS
    in all: a house, lane or street would make the table grow with the population instead of
    with the map. An address of one part is all the person's own."""
    if not address:
        return "", None
    parts = address.split(", ")
    if len(parts) < 2:
        return address, None
    tail = 1
    while tail < min(LOCALITY_PARTS, len(parts) - 1) and parts[-tail - 1].startswith(ADDRESS_UNITS):
        tail += 1
    return ", ".join(parts[:-tail]), ", ".join(parts[-tail:])


def compact(record: Record, strings: Strings) -> bytes:
    """Encode a record as version 2, adding its repeated texts to `strings` (DESIGN 4)."""
    prev = record.prev_card_no
    renumbered = prev is not None and prev[CARD_HEAD:] != record.card_no[CARD_HEAD:]
    flags = (
        GENDERS.index(record.gender)
        | MANAGED_BY.index(record.managed_by) << 2
        | REGIONS.index(record.region_code) << 4
        | (prev is not None) << 6
        | renumbered << 7
    )
    more = (
        STATUSES.index(record.status)
        | (record.five_year_date is not None) << 3
        | (record.prev_valid_to is not None) << 4
    )
    out = bytearray((COMPACT, flags, more))
    for day in (record.dob, record.valid_from, record.valid_to):
        out += _date24(day)
    for optional in (record.five_year_date, record.prev_valid_to):
        if optional is not None:
            out += _date24(optional)
    out += _card(record.card_no, True)
    if prev is not None:
        out += _card(prev, renumbered)
    name = record.full_name.encode("utf-8")
    own, locality = split_address(record.address)
    own_bytes = own.encode("utf-8")
    out += varint(len(name)) + name + varint(len(own_bytes)) + own_bytes
    for text in (locality, record.facility_code, record.issuer):
        out += varint(strings.id(text.encode("utf-8") if text is not None else None))
    return bytes(out)


def _card(code: str, with_number: bool) -> bytes:
    """Return the code's first 5 characters; with_number, then its 10 digits packed two a byte
    (the first in the high half: packed decimal, read without a division)."""
    head = code[:CARD_HEAD].encode("ascii")
    if not with_number:
        return head
    digits = code[CARD_HEAD:]
    return head + bytes(int(digits[i]) << 4 | int(digits[i + 1]) for i in range(0, 10, 2))


def _card_digits(packed: bytes) -> str:
    digits = "".join(f"{b >> 4:x}{b & 15:x}" for b in packed)
    if not digits.isdigit():
        raise ValueError("record: a card number that is not 10 digits")
    return digits


def _date24(packed: int) -> bytes:
    """Pack a yyyymmdd date in 3 bytes: year << 9 | month << 5 | day."""
    y, m, d = packed // 10000, packed // 100 % 100, packed % 100
    return (y << 9 | m << 5 | d).to_bytes(3, "little")


def _undate24(data: bytes) -> int:
    v = int.from_bytes(data, "little")
    return (v >> 9) * 10000 + (v >> 5 & 15) * 100 + (v & 31)


def _decode_compact(buf: bytes, strings: Strings) -> Record:
    if len(buf) < 3:
        raise ValueError(f"record: {len(buf)} bytes")
    flags, more = buf[1], buf[2]
    if more >> 5 or flags & 0xC0 == 0x80:
        raise ValueError("record: unknown flags")
    at = 3

    def take(n: int) -> bytes:
        nonlocal at
        if at + n > len(buf):
            raise ValueError("record: a field runs past the end")
        at += n
        return bytes(buf[at - n : at])

    dob, valid_from, valid_to = (_undate24(take(3)) for _ in range(3))
    five_year = _undate24(take(3)) if more & 8 else None
    prev_valid_to = _undate24(take(3)) if more & 16 else None

    def card(with_number: bool, number: str) -> str:
        head = take(CARD_HEAD).decode("ascii")
        return head + (_card_digits(take(5)) if with_number else number)

    card_no = card(True, "")
    prev_card_no = card(bool(flags & 128), card_no[CARD_HEAD:]) if flags & 64 else None

    def text() -> str:
        nonlocal at
        size, at = read_varint(buf, at)
        return take(size).decode("utf-8")

    full_name, own = text(), text()
    numbers = []
    for _ in range(3):
        number, at = read_varint(buf, at)
        numbers.append(number)
    if at != len(buf):
        raise ValueError(f"record: {len(buf)} bytes; its fields end at {at}")
    locality, facility, issuer = (strings.text(n) for n in numbers)
    if facility is None:
        raise ValueError("record: no facility")
    address = f"{own}, {locality}" if locality is not None else own or None
    return Record(
        version=COMPACT,
        gender=_name(GENDERS, flags & 3, "gender"),
        status=_name(STATUSES, more & 7, "status"),
        managed_by=_name(MANAGED_BY, flags >> 2 & 3, "managed_by"),
        region_code=_name(REGIONS, flags >> 4 & 3, "region") if flags >> 4 & 3 else None,
        dob=dob,
        valid_from=valid_from,
        valid_to=valid_to,
        five_year_date=five_year,
        prev_valid_to=prev_valid_to,
        card_no=card_no,
        facility_code=facility,
        prev_card_no=prev_card_no,
        full_name=full_name,
        address=address,
        issuer=issuer,
    )


def _name(names: tuple[str | None, ...], code: int, what: str) -> str:
    """Return the name stored as `code` (code 0 of GENDERS and REGIONS names nothing)."""
    if code >= len(names) or names[code] is None:
        raise ValueError(f"record: unknown {what} code {code}")
    return names[code]  # type: ignore[return-value]


def decode(buf: bytes, strings: Strings | None = None) -> Record:
    """Decode a stored record of version 1, or of version 2 with its snapshot's `strings`;
    raise ValueError when it is neither."""
    if buf[:1] == bytes((COMPACT,)):
        return _decode_compact(buf, strings or Strings())
    if len(buf) < HEADER_SIZE:
        raise ValueError(f"record: {len(buf)} bytes; the header alone has {HEADER_SIZE}")
    h = _Header._make(HEADER.unpack_from(buf))
    if h.version != VERSION:
        raise ValueError(f"record: format version {h.version}; this reader knows 1 and 2")
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
