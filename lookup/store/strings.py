"""A snapshot's string table (docs/DESIGN.md 4): the texts that repeat across people (issuers,
facility codes, the commune/district/province end of addresses), stored once under `meta`
`b"strings"` and numbered from 1 in the records (0: none).

Stored as each text's UTF-8 length (a LEB128 varint) then its bytes. The build adds texts as it
writes records (`id`); a delta reads the table, adds its own and writes it back, so the numbers
the records hold keep their meaning.
"""

from __future__ import annotations

__all__ = ("STRINGS_KEY", "Strings", "read_varint", "varint")

STRINGS_KEY = b"strings"


class Strings:
    """Texts as UTF-8 bytes, numbered from 1 in the order they were added."""

    def __init__(self, texts: list[bytes] | tuple[bytes, ...] = ()) -> None:
        self.texts = list(texts)
        self.ids = {text: n for n, text in enumerate(self.texts, start=1)}

    def id(self, text: bytes | None) -> int:
        """Return the text's number, adding it when new; 0 for None."""
        if text is None:
            return 0
        number = self.ids.get(text)
        if number is None:
            self.texts.append(text)
            number = self.ids[text] = len(self.texts)
        return number

    def text(self, number: int) -> str | None:
        """Return text `number` (None for 0); ValueError past the end of the table."""
        if number == 0:
            return None
        if number > len(self.texts):
            raise ValueError(f"record: string {number}; the table has {len(self.texts)}")
        return self.texts[number - 1].decode("utf-8")

    def to_bytes(self) -> bytes:
        return b"".join(varint(len(text)) + text for text in self.texts)

    @classmethod
    def from_bytes(cls, blob: bytes | None) -> Strings:
        """Read a stored table (None: a snapshot without one, format 1); ValueError when it is
        not one: a text that runs past the end or is not UTF-8."""
        texts, at, blob = [], 0, blob or b""
        while at < len(blob):
            size, at = read_varint(blob, at)
            if at + size > len(blob):
                raise ValueError("string table: a text runs past its end")
            text = bytes(blob[at : at + size])
            text.decode("utf-8")  # UnicodeDecodeError is a ValueError
            texts.append(text)
            at += size
        return cls(texts)


def varint(n: int) -> bytes:
    """Encode n >= 0 as LEB128: 7 bits a byte, the high bit set on all but the last."""
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(buf: bytes, at: int) -> tuple[int, int]:
    """Read a varint at buf[at]; return it and where it ends. At most 4 bytes (28 bits)."""
    n = shift = 0
    while True:
        if at >= len(buf) or shift > 21:
            raise ValueError("record: a number runs past the end")
        byte = buf[at]
        at += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, at
        shift += 7
