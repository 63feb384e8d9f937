"""The population register of `lookup synth` (SPEC.md 1.3) and the errors of the insured records.

The register is the authoritative side (DOMAIN.md 6): its names, birth dates and sex are those on
the chip ID card, so they agree with the CCCD. The insured extract is where the errors are:
`InsuredErrors` spoils some extract rows as they are drawn, in the kinds DOMAIN.md 6 lists and
the shares of `ERROR_KINDS`, and keeps what each row said before; `Register` writes every
person's record as it truly is. A reconcile of the two then finds the insured side's errors, and
its corrections make the store right.

Shares, per 100 spoiled insured records (the rate is `--mismatch-rate`, 2% by default):

| kind | share | what the extract holds | reconcile finds |
|---|---|---|---|
| tone marks lost | 25 | `Nguyen Van An` | `full_name_diacritics` |
| typo | 15 | a letter dropped, doubled or swapped | `full_name` |
| wrong sex | 15 | the other sex | `gender` |
| day and month swapped | 12 | `1985-12-04` for `1985-04-12` | `dob` |
| year only | 10 | `1985` for `1985-04-12` | `dob_precision` |
| other tone placement | 10 | `Hoà` for `Hòa` | nothing: the same name |
| `Đ` typed `D` | 8 | `Dang` for `Đặng`, other marks kept | `full_name_diacritics` |
| another given name | 5 | `Nguyễn Văn Bình` for `Nguyễn Văn An` | `full_name` |

A row that cannot take the kind drawn (no tone mark to lose, no `Đ`, a partial date) takes
another. Besides: people whose CCCD disagrees with their own sex or birth year on purpose (the
build's data-quality flags) are recorded in the register as their CCCD says; 0.3% of the insured
are absent from the register (emigrated, or an id mistyped in the insurance record); 0.2% of the
insured have died (a `death_date` before the as-of date); and ~7% of the register is not insured.
"""

from __future__ import annotations

import datetime
import random
import unicodedata
from typing import Any

from lookup.schema import PROVINCES
from lookup.synth.changes import clean_name, strip_tone_marks
from lookup.synth.output import OutFile
from lookup.synth.people import F_CCCD_MISMATCH, Block, PersonMaker, where
from lookup.synth.world import CCCD, DOB, GENDER, NAME, quote

__all__ = ("ERROR_KINDS", "InsuredErrors", "Register")

ERROR_KINDS = {
    "tone_marks_lost": 25,
    "typo": 15,
    "wrong_sex": 15,
    "day_month_swapped": 12,
    "year_only": 10,
    "tone_placement": 10,
    "d_for_dj": 8,
    "given_name": 5,
}
Spoiled = tuple[str, str, str]  # (name, dob, gender) as the extract then holds them
UNINSURED = 0.07  # DOMAIN.md 6: ~93% of the population is insured
ABSENT = 0.003  # insured people the register lacks
DECEASED = 0.002  # insured people the register knows have died
# Old-style tone placement (on the first vowel of oa, oe, uy) and the new style (on the second).
_OLD_TO_NEW = {
    "òa": "oà",
    "óa": "oá",
    "ỏa": "oả",
    "õa": "oã",
    "ọa": "oạ",
    "òe": "oè",
    "óe": "oé",
    "ỏe": "oẻ",
    "õe": "oẽ",
    "ọe": "oẹ",
    "ùy": "uỳ",
    "úy": "uý",
    "ủy": "uỷ",
    "ũy": "uỹ",
    "ụy": "uỵ",
}
_NEW_TO_OLD = {new: old for old, new in _OLD_TO_NEW.items()}
# DOMAIN.md 1: the CCCD's 4th digit is century and sex (even male, odd female).
_CENTURY = {0: 1900, 1: 2000, 2: 2100, 3: 2200, 4: 1800}


class InsuredErrors:
    """Spoil some insured records of each block (its own random stream, so the extract does not
    depend on whether a register is written); remember what each spoiled row said."""

    def __init__(self, rng: random.Random, maker: PersonMaker, rate: float) -> None:
        self.rng, self.maker, self.rate = rng, maker, rate
        self.kinds: dict[str, int] = {}

    def apply(self, block: Block) -> dict[int, tuple[str, str, str]]:
        """Spoil rows of the block in place; return row -> its (name, dob, gender) before."""
        truth: dict[int, tuple[str, str, str]] = {}
        if not self.rate:
            return truth
        columns = block.columns
        names, dobs, genders = columns[NAME], columns[DOB], columns[GENDER]
        weights = list(ERROR_KINDS.values())
        for i in where(self.rng, block.n, self.rate):
            before = (names[i], dobs[i], genders[i])
            for _ in range(8):
                kind = self.rng.choices(list(ERROR_KINDS), weights=weights)[0]
                spoiled = getattr(self, f"_{kind}")(
                    _unquoted(names[i]), dobs[i], genders[i], block, i
                )
                if spoiled is not None:
                    names[i], dobs[i], genders[i] = quote(spoiled[0]), spoiled[1], spoiled[2]
                    truth[i] = before
                    self.kinds[kind] = self.kinds.get(kind, 0) + 1
                    break
        return truth

    # Each kind returns the spoiled (name, dob, gender), or None when the row cannot take it.
    def _tone_marks_lost(self, name: str, dob: str, gender: str, *_: Any) -> Spoiled | None:
        bare = strip_tone_marks(name)
        return None if bare == name else (bare, dob, gender)

    def _d_for_dj(self, name: str, dob: str, gender: str, *_: Any) -> Spoiled | None:
        nfc = unicodedata.normalize("NFC", name)
        typed = nfc.replace("Đ", "D").replace("đ", "d")
        return None if typed == nfc else (typed, dob, gender)

    def _tone_placement(self, name: str, dob: str, gender: str, *_: Any) -> Spoiled | None:
        nfc = unicodedata.normalize("NFC", name)
        for pair, other in (*_OLD_TO_NEW.items(), *_NEW_TO_OLD.items()):
            if pair in nfc:
                return nfc.replace(pair, other, 1), dob, gender
        return None

    def _typo(self, name: str, dob: str, gender: str, *_: Any) -> Spoiled | None:
        rng = self.rng
        for _attempt in range(10):
            k = rng.randrange(1, len(name))
            op = rng.randrange(3)
            if op == 0:
                typo = name[:k] + name[k + 1 :]  # a letter dropped
            elif op == 1:
                typo = name[:k] + name[k] + name[k:]  # a letter doubled
            else:
                typo = name[: k - 1] + name[k] + name[k - 1] + name[k + 1 :]  # two swapped
            # A real typo: the letters differ, not only the tone marks or the spacing.
            if strip_tone_marks(clean_name(typo)).casefold() != strip_tone_marks(name).casefold():
                return typo, dob, gender
        return None

    def _given_name(self, name: str, dob: str, gender: str, block: Block, i: int) -> Spoiled | None:
        surname, forename = block.surname[i], block.forename[i]
        if not surname:
            return None  # minority pattern: no separate given name
        middle, _, given = forename.rpartition(" ")
        other = self.rng.choice(self.maker.w.given_lists[block.sex[i]])
        if other == given:
            return None
        return " ".join(part for part in (surname, middle, other) if part), dob, gender

    def _wrong_sex(self, name: str, dob: str, gender: str, *_: Any) -> Spoiled | None:
        return (name, dob, "2") if gender == "1" else (name, dob, "1") if gender == "2" else None

    def _day_month_swapped(self, name: str, dob: str, gender: str, *_: Any) -> Spoiled | None:
        if len(dob) != 10 or int(dob[8:]) > 12 or dob[5:7] == dob[8:]:
            return None
        return name, f"{dob[:5]}{dob[8:]}-{dob[5:7]}", gender

    def _year_only(self, name: str, dob: str, gender: str, *_: Any) -> Spoiled | None:
        return None if len(dob) == 4 else (name, dob[:4], gender)


class Register:
    """Write the register's record of every drawn person, as the person truly is."""

    def __init__(self, maker: PersonMaker, rng: random.Random, as_of: datetime.date) -> None:
        self.maker, self.rng, self.as_of = maker, rng, as_of
        self.counts = {"not_insured": 0, "absent": 0, "deceased": 0, "cccd_says_otherwise": 0}

    def add(self, block: Block, truth: dict[int, tuple[str, str, str]], out: OutFile) -> None:
        """Write the records of a block's people (truth: the rows InsuredErrors spoiled)."""
        rng, columns = self.rng, block.columns
        absent = set(where(rng, block.n, ABSENT))
        deceased = set(where(rng, block.n, DECEASED))
        records: list[list[str]] = []
        for i in range(block.n):
            name, dob, gender = truth.get(i) or (
                columns[NAME][i],
                columns[DOB][i],
                columns[GENDER][i],
            )
            cccd = columns[CCCD][i]
            said = _as_the_cccd_says(cccd, dob, gender)
            if said is None or i in absent:  # no province code: the insurer mistyped the id
                self.counts["absent"] += 1
                continue
            if said != (dob, gender) and block.flags[i] & F_CCCD_MISMATCH:
                self.counts["cccd_says_otherwise"] += 1
            dob, gender = said
            death = ""
            if i in deceased:
                death = (self.as_of - datetime.timedelta(days=rng.randint(1, 365))).isoformat()
                self.counts["deceased"] += 1
            records.append([cccd, quote(clean_name(_unquoted(name))), dob, gender, death])
        # DOMAIN.md 6: ~7% of people are not insured; they sit between the insured.
        places = self.maker.where(len(records), UNINSURED / (1 - UNINSURED))
        if places:
            others = self.maker.block(len(places)).columns
            for k, i in enumerate(reversed(places)):
                j = len(places) - 1 - k
                cccd, dob = others[CCCD][j], others[DOB][j]
                said = _as_the_cccd_says(cccd, dob, others[GENDER][j])
                dob, gender = said if said is not None else (dob, others[GENDER][j])
                name = quote(clean_name(_unquoted(others[NAME][j])))
                records.insert(i, [cccd, name, dob, gender, ""])
            self.counts["not_insured"] += len(places)
        out.write_lines(list(map(",".join, records)))

    def summary(self) -> dict[str, Any]:
        """Return the register's counts for the summary."""
        return {f"population_{name}": count for name, count in self.counts.items()}


def _unquoted(value: str) -> str:
    return value[1:-1].replace('""', '"') if value.startswith('"') else value


def _as_the_cccd_says(cccd: str, dob: str, gender: str) -> tuple[str, str] | None:
    """Return (dob, gender) as the chip card has them: agreeing with the CCCD's century, sex and
    birth year (a register always knows the sex); None when its province part is no code."""
    if cccd[:3] not in PROVINCES:
        return None
    digit = int(cccd[3])
    year = _CENTURY.get(digit // 2, 1900) + int(cccd[4:6])
    sex = "1" if digit % 2 == 0 else "2"
    gender = sex
    if int(dob[:4]) != year:
        rest = dob[4:]
        if rest[-6:] == "-02-29":  # a day the CCCD's year may not have
            rest = "-02"
        dob = f"{year:04d}{rest}"
    return dob, gender
