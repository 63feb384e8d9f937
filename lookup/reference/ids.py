"""Person identifiers and facility codes (docs/DESIGN.md 2, DOMAIN.md 1): the readable reference.

A lookup key is a 12-digit CCCD, a 10-digit social insurance number or a 15-character card code.
Hospitals paste them with spaces and in lower case, so whitespace is dropped and ASCII letters
are upper-cased before anything is checked; nothing else is forgiven (a full-width or
Arabic-Indic digit is not a digit here).
"""

from __future__ import annotations

import re

from lookup.errors import IdError

__all__ = ("parse_facility", "parse_id")

# DESIGN 2 step 1: the characters a paste may carry that are not part of the id.
_DROPPED = frozenset(" \t\r\n")
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_FACILITY = re.compile(r"[0-9]{2}[0-9A-Z]{3}")


def _normalise(text: str) -> list[tuple[int, str]]:
    """Drop whitespace and upper-case ASCII letters, keeping each character's 1-based position."""
    kept = []
    for position, char in enumerate(text, start=1):
        if char in _DROPPED:
            continue
        if "a" <= char <= "z":
            char = char.upper()
        kept.append((position, char))
    return kept


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def _check_characters(kept: list[tuple[int, str]]) -> None:
    """Raise for the first non-ASCII character, then for the first other stray one (steps 3-4)."""
    for position, char in kept:
        if ord(char) > 0x7F:
            raise IdError(f"id: non-ASCII character {_code_point(char)} at position {position}")
    for position, char in kept:
        if char not in _ALNUM:
            shown = f"'{char}'" if 0x21 <= ord(char) <= 0x7E else _code_point(char)
            raise IdError(f"id: unexpected character {shown} at position {position}")


def _check_card_code(code: str) -> None:
    """Raise unless a 15-character code has the shape of DOMAIN 1 (step 6)."""
    if not (code[0].isalpha() and code[1].isalpha()):
        raise IdError("id: card code must start with 2 letters (beneficiary group)")
    if code[2] not in "12345":
        raise IdError("id: card code character 3 (benefit level) must be 1-5")
    if not code[3:].isdigit():
        raise IdError("id: card code characters 4-15 must be digits")


def parse_id(text: str) -> tuple[str, str]:
    """Classify a pasted person identifier as (kind, normalised id) or raise IdError."""
    kept = _normalise(text)
    if not kept:
        raise IdError("id: empty")
    _check_characters(kept)
    # Only ASCII 0-9A-Z is left, so str.isdigit/isalpha below mean ASCII digits/letters.
    normalised = "".join(char for _, char in kept)
    if normalised.isdigit():
        if len(normalised) == 12:
            return "cccd", normalised
        if len(normalised) == 10:
            return "bhxh_code", normalised
        raise IdError(f"id: {len(normalised)} digits; a CCCD has 12, a social insurance number 10")
    if len(normalised) == 15:
        _check_card_code(normalised)
        return "card_no", normalised
    raise IdError(
        f"id: {len(normalised)} characters; expected a 12-digit CCCD, a 10-digit social "
        "insurance number or a 15-character card code"
    )


def parse_facility(text: str) -> str:
    """Normalise a facility code (2 digits, then 3 digits or capital letters) or raise IdError."""
    normalised = "".join(char for _, char in _normalise(text))
    if not _FACILITY.fullmatch(normalised):
        raise IdError("facility: must be 5 characters, 2 digits then 3 digits or capital letters")
    return normalised
