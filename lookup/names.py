"""How the gateway compares people's names: a holder's `hoTen` (060/061) and an officer's
`hoTenCb` (055, DOMAIN.md 4); two spellings of one name give one key.

Names compare after Unicode NFC, case folding and collapsing spaces (SPEC.md 3.1), and also
across the two standard tone placements of `oa`, `oe`, `uy` (`Hòa`/`Hoà`, `Khỏe`/`Khoẻ`,
`Thúy`/`Thuý`) and the apostrophe forms (`'`, `’`): a desk officer types their name the way their
keyboard does, not the way the registry file was typed.

The registry stores this key, not the name as written, so `FOLD_VERSION` goes with it: a key made
by other rules is refolded when the registry is loaded.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ("FOLD_VERSION", "bare_name", "fold_name", "normalise_text")

FOLD_VERSION = 1

# Tone marks as combining characters (NFD): grave, acute, tilde, hook above, dot below.
_TONE = "[\u0300\u0301\u0303\u0309\u0323]"
# A tone on the first vowel of `oa`, `oe` or `uy` whose second vowel carries no mark of its own
# (`hoặc` keeps its tone on the ă): the old style, moved to the second vowel (the new style).
_OLD_STYLE = re.compile(f"(o)({_TONE})([ae])(?![\u0300-\u036f])|(u)({_TONE})(y)(?![\u0300-\u036f])")
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u0060\u00b4\u2032", "'"))


def normalise_text(value: str) -> str:
    """Apply NFC and collapse whitespace runs to one space, ends stripped (DESIGN.md 5)."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def _new_style(match: re.Match[str]) -> str:
    first, tone, second = match.group(1, 2, 3) if match[1] else match.group(4, 5, 6)
    return first + second + tone


def fold_name(name: str) -> str:
    """Return the comparison key of a person's name."""
    # NFC before case folding and NFD after: folding may decompose (U+0130), and the tone
    # placement is simplest to see with the marks apart.
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFC", name).casefold())
    text = _OLD_STYLE.sub(_new_style, text.translate(_APOSTROPHES))
    return " ".join(unicodedata.normalize("NFC", text).split())


def bare_name(name: str) -> str:
    """Return the name without any mark, `Đ` read as `D`: what is left when diacritics are lost
    (the first letter that tells 061 from 060)."""
    decomposed = unicodedata.normalize("NFD", name.casefold().translate(_APOSTROPHES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("đ", "d").split())
