"""People for `lookup synth`: drawn in blocks, column by column, shaped like the country.

`PersonMaker.block(n)` draws n people at once. Each step fills some columns for the whole block
with list comprehensions over bulk random draws (one `getrandbits` call per column), then fixes
up the few people a rare case applies to (children's cards, partial birth dates, previous cards,
data-quality cases). At national scale (10 million rows) a function call or a datetime object
per person costs seconds, so dates are integer day ordinals and draws are table lookups.
"""

from __future__ import annotations

import datetime
import math
import random
import unicodedata
from array import array
from typing import NamedTuple

from lookup.synth import tables as data
from lookup.synth.map2025 import MAP_2025
from lookup.synth.world import (
    ADDRESS,
    BHXH,
    BITS,
    CARD,
    CCCD,
    COLUMNS,
    DOB,
    FACILITY,
    FIVE_YEAR,
    GENDER,
    ISSUER,
    MANAGED_BY,
    NAME,
    P32,
    PREV_CARD,
    PREV_VALID_TO,
    REGION,
    STATUS,
    VALID_FROM,
    VALID_TO,
    Calendar,
    PlaceRow,
    Serials,
    World,
    draw_u16,
    draw_u32,
    unquote,
)

__all__ = ("FLAG_NAMES", "MANAGED", "MINISTRY_ISSUER", "Block", "Person", "PersonMaker", "where")

# Shares (DOMAIN.md and the brief): windows, statuses, replacements and data-quality cases.
EXPIRED = 0.027  # plus TE cards of children past their limit: ~3% in all
NOT_YET_VALID = 0.005
REVOKED = 0.003
REDUCED = 0.015
PREVIOUS_CARD = 0.04
FIVE_YEARS = 0.40  # of adults
CCCD_MISMATCH = 0.001
ODD_SPELLING = 0.002  # NFD or doubled spaces, as real exports have
UNKNOWN_GENDER = 0.0003
MINORITY_NAME = 0.04  # in provinces with a minority naming style; ~0.5% nationally
TWO_SYLLABLE_NAME = 0.005
NO_ADDRESS = 0.01
# Groups whose card usually runs the calendar year (the state or an employer pays yearly);
# the rest mostly buy 12 months from the day they pay (households, students, some workers).
CALENDAR_SHARE = {"GD": 0.3, "DN": 0.55, "HC": 0.7, "CH": 0.6, "NN": 0.5, "SV": 0.5, "XK": 0.4}
LONG_CARD_GROUPS = frozenset({"HT", "CC", "CB", "BT", "TS", "QN", "CA", "CY", "CK"})
AREA_GROUPS = {"DT": 0.6, "HN": 0.25}  # share with area code K1/K2 (DOMAIN.md 1, maKV)
MANAGED = {"QN": "defence", "CY": "defence", "CA": "police"}
MINISTRY_ISSUER = {"defence": "BHXH Bộ Quốc phòng", "police": "BHXH Bộ Công an"}
CN_LEVEL_2_FROM = datetime.date(2026, 1, 1).toordinal()  # DOMAIN.md 2
NEW_MAP_FROM = MAP_2025.toordinal()  # cards issued since are written on the 2025 map
# Sex ratio of children (born since ~2008): about 112 boys per 100 girls at birth (GSO).
CHILD_MALE = 112 / 212
CHILD_AGES = 18

# Flags: what a drawn row is, for the summary and the other files.
F_EXPIRED = 1  # valid_to before as_of
F_NOT_YET_VALID = 2  # valid_from after as_of
F_YEAR_ONLY = 4  # dob YYYY
F_YEAR_MONTH = 8  # dob YYYY-MM
F_CCCD_MISMATCH = 16  # the CCCD disagrees with the person on purpose (DESIGN.md 5 quality)
F_ODD_NAME = 32  # name in NFD or with doubled spaces
FLAG_NAMES = {
    F_EXPIRED: "expired",
    F_NOT_YET_VALID: "not_yet_valid",
    F_YEAR_ONLY: "year_only",
    F_YEAR_MONTH: "year_month",
    F_CCCD_MISMATCH: "cccd_mismatch",
    F_ODD_NAME: "odd_name",
}


class Person(NamedTuple):
    """One drawn person: the plain extract row and what the other files need to know."""

    row: list[str]
    group: str
    flags: int  # F_* bits
    sex: int  # 0 male, 1 female (the name's sex, also when gender is 3)
    name_parts: tuple[str, str, str]  # (surname, middle, given) in NFC; ("", "", name) if other
    province: int  # index of the residence province in PROVINCES
    dob_ord: int
    place: int  # the residence's number in its province (Place.number)


def _t(share: float) -> int:
    """Return the 32-bit threshold of a probability."""
    return int(share * P32)


class Block:
    """People drawn together, column by column: every list is indexed by person.

    `columns` are the 17 extract columns in COLUMNS order, CSV-encoded (see `quote`); the rest
    describe each person for the summary and the other files.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.columns: list[list[str]] = [[""] * n for _ in COLUMNS]
        self.flags = [0] * n
        self.group: list[str] = []
        self.sex: list[int] = []
        self.surname: list[str] = []  # "" for a name in a minority pattern
        self.forename: list[str] = []  # middle and given names ("Văn Hùng"), or the whole name
        self.province: list[int] = []
        self.age: list[int] = []
        self.dob_ord: list[int] = []
        self.year: list[int] = []
        self.te_limit: dict[int, int] = {}  # person -> last day of the TE card (DOMAIN.md 3)
        self.valid_from: list[int] = []
        # The card's province in its era: p, or p + 63 when issued on the 2025 map (World).
        self.pi: list[int] = []
        self.new_map = 0  # cards issued on the 2025 map
        self.place: list[PlaceRow] = []  # World.places: (tail, island, issuer, ..., number)

    def lines(self) -> list[str]:
        """Return the CSV lines (without line ends)."""
        return list(map(",".join, zip(*self.columns, strict=True)))

    def row(self, i: int) -> list[str]:
        """Return person i's extract row as plain (decoded) values."""
        return [unquote(column[i]) for column in self.columns]

    def person(self, i: int) -> Person:
        """Return person i as a Person (with a plain row)."""
        surname, forename = self.surname[i], self.forename[i]
        middle, _, given = forename.rpartition(" ") if surname else ("", "", forename)
        parts = (surname, middle, given)
        return Person(
            self.row(i),
            self.group[i],
            self.flags[i],
            self.sex[i],
            parts,
            self.province[i],
            self.dob_ord[i],
            self.place[i][5],
        )


def where(rng: random.Random, n: int, share: float) -> list[int]:
    """Return the people (of n) a case with probability `share` happens to.

    Draws the gaps between them (geometric), so a rare case costs per case, not per person.
    """
    if share <= 0.0:
        return []
    if share >= 1.0:
        return list(range(n))
    rnd, log, q = rng.random, math.log, math.log1p(-share)
    chosen: list[int] = []
    i = -1
    while True:
        i += 1 + int(log(1.0 - rnd()) / q)
        if i >= n:
            return chosen
        chosen.append(i)


class PersonMaker:
    """Draw people in blocks with one `random.Random`, codes from one slice of the serials.

    Each step fills some columns for the whole block with list comprehensions over bulk
    random draws, then fixes up the few people a rare case applies to.
    """

    def __init__(
        self, world: World, cal: Calendar, rng: random.Random, space: str, shard: int | None = None
    ) -> None:
        self.w, self.cal, self.rng = world, cal, rng
        # CCCD digits 7-12 per 6-digit prefix; BHXH digits 3-10 per province.
        self.cccd_serials = Serials(world, 6, space, shard)
        self.bhxh_serials = Serials(world, 8, space, shard)
        self.three_digits = [str(1000 + i)[1:] for i in range(1000)]
        # DOMAIN.md 1: digit 4 (century and sex, male) and digits 5-6 of a CCCD, by birth year.
        self.year_key = {y: ((y // 100 - 19) * 2 % 10) * 100 + y % 100 for y in range(1880, 2300)}
        male = {g: data.MALE_SHARE_BY_GROUP.get(g) for g in data.GROUP_LEVEL}
        # male_threshold[group][age]: children, adults, and from 60 (women outlive men).
        # Groups far from one half (armed forces) keep their share at every age.
        self.male_threshold = {
            g: [_t(m or CHILD_MALE)] * CHILD_AGES
            + [_t(m or 0.5)] * (60 - CHILD_AGES)
            + [_t(m or 0.44)] * 100
            for g, m in male.items()
        }
        self.calendar_threshold = {g: _t(CALENDAR_SHARE.get(g, 0.95)) for g in data.GROUP_LEVEL}
        self.area_threshold = {g: _t(AREA_GROUPS.get(g, 0.0)) for g in data.GROUP_LEVEL}
        self.hardship_area = [_t(0.01 * h) for h in world.hardship]
        self.born_elsewhere = [_t(share) for share in world.born_elsewhere]

    # -- bulk random draws -------------------------------------------------------------
    def u16(self, n: int) -> array[int]:
        """Return n random 16-bit integers."""
        return draw_u16(self.rng, n)

    def u32(self, n: int) -> array[int]:
        """Return n random 32-bit integers."""
        return draw_u32(self.rng, n)

    def where(self, n: int, share: float) -> list[int]:
        """Return the people (of n) a case with probability `share` happens to."""
        return where(self.rng, n, share)

    # -- the block ---------------------------------------------------------------------
    def block(
        self,
        n: int,
        *,
        ages: list[int] | None = None,
        dobs: list[int] | None = None,
        group: str | None = None,
    ) -> Block:
        """Draw n people and their current cards; `ages`, `dobs` or `group` force those."""
        b = Block(n)
        self._people(b, ages, dobs, group)
        self._names(b)
        self._birth_dates(b)
        self._ids(b)
        self._windows(b)
        self._cards(b)
        self._extras(b)
        return b

    def make(
        self, *, age: int | None = None, dob_ord: int | None = None, group: str | None = None
    ) -> Person:
        """Draw one person (see `block`)."""
        b = self.block(
            1,
            ages=None if age is None else [age],
            dobs=None if dob_ord is None else [dob_ord],
            group=group,
        )
        return b.person(0)

    def _people(
        self, b: Block, ages: list[int] | None, dobs: list[int] | None, group: str | None
    ) -> None:
        """Draw where people live, their ages, birth days, groups (DOMAIN.md 2) and sex."""
        w, cal, n = self.w, self.cal, b.n
        today, first = cal.today, Calendar.FIRST
        b.province = prov = list(map(w.province_table.__getitem__, self.u16(n)))
        if dobs is None:
            if ages is None:
                ages = list(map(w.age_table.__getitem__, self.u16(n)))
            dobs = [
                today - int((a + u / P32) * 365.2425)
                for a, u in zip(ages, self.u32(n), strict=True)
            ]
        else:
            ages = [(today - d) * 100 // 36525 for d in dobs]
        b.age, b.dob_ord = ages, dobs
        b.year = [cal.year[d - first] for d in dobs]
        if group is None:
            tables, base, hardship = w.group_tables, w.group_base, w.hardship
            b.group = [
                tables[base[a] + hardship[p]][r]
                for a, p, r in zip(ages, prov, self.u16(n), strict=True)
            ]
        else:
            b.group = [group] * n
        children = [i for i, a in enumerate(ages) if a <= 6] if group != "TE" else range(n)
        for i in children:
            b.te_limit[i] = te = cal.te_limit(dobs[i])
            if group is None:
                b.group[i] = self._child_group(te, w.hardship[prov[i]])
        # Armed forces are mostly men; women outlive men; more boys are born than girls.
        male = self.male_threshold
        b.sex = [
            0 if u < male[g][a] else 1 for g, a, u in zip(b.group, ages, self.u32(n), strict=True)
        ]

    def _child_group(self, te_limit: int, hardship: int) -> str:
        """Draw the group of a child of 0-6: TE until the TE limit (DOMAIN.md 3), then school."""
        if te_limit >= self.cal.today:
            return "TE"
        if self.rng.random() < 0.2:
            return "TE"  # past the TE limit, no school card yet: the TE card has expired
        return self.w.group_tables[3 + hardship][self.rng.getrandbits(BITS)]  # the 6-17 band

    def _names(self, b: Block) -> None:
        """Draw names (surname, middle, given; minority patterns) and the gender column."""
        w, n = self.w, b.n
        sexes = b.sex
        b.surname = list(map(w.surnames.__getitem__, self.u16(n)))
        forenames = w.forenames
        b.forename = [
            forenames[s * 2 + (y >= 1985)][r]
            for s, y, r in zip(sexes, b.year, self.u16(n), strict=True)
        ]
        for i in self.where(n, TWO_SYLLABLE_NAME):
            b.forename[i] = b.forename[i].rpartition(" ")[2]  # a few, as older records hold
        names = [s + " " + f for s, f in zip(b.surname, b.forename, strict=True)]
        minority = w.minority
        for i in self.where(n, MINORITY_NAME):
            style = minority[b.province[i]]
            if style:
                names[i] = self._minority_name(sexes[i], style)
                b.surname[i], b.forename[i] = "", names[i]
        for i in self.where(n, ODD_SPELLING):
            names[i] = self._odd_spelling(names[i])
            b.flags[i] |= F_ODD_NAME
        b.columns[NAME] = names
        genders = [("1", "2")[s] for s in sexes]
        for i in self.where(n, UNKNOWN_GENDER):
            genders[i] = "3"
        b.columns[GENDER] = genders

    def _minority_name(self, sex: int, style: str) -> str:
        """Draw a name in an ethnic-minority pattern ("Lò Văn Pết", "H'Hen Niê")."""
        rng = self.rng
        spec = data.MINORITY[style]
        key = "mf"[sex]
        return rng.choice(spec[key]).format(
            S=rng.choice(spec["surnames"]), G=rng.choice(spec[f"given_{key}"])
        )

    def _odd_spelling(self, name: str) -> str:
        """Spell a name as some real exports do: decomposed (NFD) or with doubled spaces."""
        if self.rng.random() < 0.5 and unicodedata.normalize("NFD", name) != name:
            return unicodedata.normalize("NFD", name)
        return name.replace(" ", "  ", 1)

    def _birth_dates(self, b: Block) -> None:
        """Write birth dates; many older people have only the year, or year and month."""
        iso, first = self.cal.iso, Calendar.FIRST
        dobs = b.columns[DOB] = [iso[d - first] for d in b.dob_ord]
        rnd = self.rng.random
        for i, year in enumerate(b.year):
            if year < 1965:
                u = rnd()
                year_only, year_month = (0.25, 0.33) if year < 1950 else (0.03, 0.05)
                if u < year_only:
                    dobs[i] = dobs[i][:4]
                    b.flags[i] |= F_YEAR_ONLY
                elif u < year_month:
                    dobs[i] = dobs[i][:7]
                    b.flags[i] |= F_YEAR_MONTH

    def _ids(self, b: Block) -> None:
        """Draw CCCDs (DOMAIN.md 1: birth province, century/sex, birth year) and BHXH codes."""
        w, n = self.w, b.n
        table, prov = w.province_table, b.province
        # Digits 1-3 are where the birth was registered: migrants were born elsewhere.
        elsewhere = self.born_elsewhere
        born = [
            p if u >= elsewhere[p] else table[r]
            for p, u, r in zip(prov, self.u32(n), self.u16(n), strict=True)
        ]
        # A birth registered since 2025-07-01 takes the code of the new province (DOMAIN.md 1).
        seat, dobs = w.seat, b.dob_ord
        babies = [i for i in b.te_limit if dobs[i] >= NEW_MAP_FROM]
        for i in babies:
            born[i] = seat[born[i]]
        code, year_key = w.code_int, self.year_key
        # key: province code, century/sex digit, birth year digits (< 100000: see Serials.codes)
        keys = [
            code[p] * 1000 + year_key[y] + s * 100
            for p, y, s in zip(born, b.year, b.sex, strict=True)
        ]
        for i in self.where(n, CCCD_MISMATCH):
            keys[i] = self._mismatched_cccd_prefix(keys[i])
            b.flags[i] |= F_CCCD_MISMATCH
        three = self.three_digits
        prefixes = [three[k // 1000] + three[k % 1000] for k in keys]
        b.columns[CCCD] = self.cccd_serials.codes(keys, prefixes)
        # The social insurance number keeps the province where it was first issued.
        t = _t(0.9)
        first_in = [
            p if u < t else table[r] for p, u, r in zip(prov, self.u32(n), self.u16(n), strict=True)
        ]
        for i in babies:
            first_in[i] = seat[first_in[i]]
        b.columns[BHXH] = self.bhxh_serials.codes(first_in, [w.code2[p] for p in first_in])

    def _mismatched_cccd_prefix(self, key: int) -> int:
        """Spoil a CCCD prefix as data-quality cases do (DESIGN.md 5 flags 1, 2, 4)."""
        rng = self.rng
        code, digit, yy = key // 1000, key // 100 % 10, key % 100
        kind = rng.randrange(3)
        if kind == 0:
            digit ^= 1  # the other sex's digit
        elif kind == 1:
            yy = (yy + rng.choice((1, 99))) % 100  # birth year off by one
        else:
            code = rng.choice((3, 5, 99))  # not a province code
        return code * 1000 + digit * 100 + yy

    def _windows(self, b: Block) -> None:
        """Lay each card's validity window around as_of (DOMAIN.md 3)."""
        cal, n, rnd = self.cal, b.n, self.rng.random
        today, jan1 = cal.today, cal.jan1
        groups, flags = b.group, b.flags
        threshold = self.calendar_threshold
        # Most cards run the calendar year; the rest twelve months from the day paid for.
        calendar = [u < threshold[g] for g, u in zip(groups, self.u32(n), strict=True)]
        vf = [
            jan1 if c else today - (u * 365 >> 32)
            for c, u in zip(calendar, self.u32(n), strict=True)
        ]
        vt = [cal.dec31 if c else v + 364 for c, v in zip(calendar, vf, strict=True)]
        for i in self.where(n, 0.1):
            if calendar[i]:
                vf[i] = jan1 + int(rnd() * (today - jan1 + 1))  # joined during the year
        for i in self.where(n, 0.25):
            if calendar[i] and groups[i] in LONG_CARD_GROUPS:
                vt[i] = cal.next_dec31
        for i in self.where(n, 0.2):
            if not calendar[i] and groups[i] == "GD":
                vf[i] = today - int(rnd() * 183)
                vt[i] = vf[i] + 182  # six months bought
        expired = _t(EXPIRED)
        off = _t(EXPIRED + NOT_YET_VALID)
        for i, u in enumerate(self.u32(n)):
            if u >= off or groups[i] == "TE":
                continue
            if u < expired:
                vt[i] = today - 1 - int(rnd() * 365)
                vf[i] = vt[i] - 364
                flags[i] |= F_EXPIRED
            else:
                vf[i] = today + 1 + int(rnd() * 60)
                vt[i] = vf[i] + 364
                flags[i] |= F_NOT_YET_VALID
        # TE cards run from birth (or registration soon after) to the TE limit.
        for i, te in b.te_limit.items():
            if groups[i] == "TE":
                dob = b.dob_ord[i]
                vf[i] = dob if rnd() < 0.6 else min(dob + int(rnd() * 45), today)
                vt[i] = te
                if te < today:
                    flags[i] |= F_EXPIRED
        b.valid_from = vf
        iso, first = cal.iso, Calendar.FIRST
        b.columns[VALID_FROM] = [iso[v - first] for v in vf]
        b.columns[VALID_TO] = [iso[v - first] for v in vt]

    def _cards(self, b: Block) -> None:
        """Compose card codes (DOMAIN.md 1) and draw facility, address and issuer.

        A card issued since 2025-07-01 is written on the 2025 map (DOMAIN.md 6): the new
        province code in the card and facility codes, an address without district.
        """
        w, n, prov = self.w, b.n, b.province
        eras = w.n
        pi = b.pi = [
            p + eras if v >= NEW_MAP_FROM else p for p, v in zip(prov, b.valid_from, strict=True)
        ]
        b.new_map = sum(map(eras.__le__, pi))
        cp = w.card_prefix
        # DOMAIN.md 2: CN cards starting 2026-01-01 or later are level 2.
        prefixes = [
            cp[g] if g != "CN" or v < CN_LEVEL_2_FROM else "CN2"
            for g, v in zip(b.group, b.valid_from, strict=True)
        ]
        code2 = w.code2
        b.columns[CARD] = [
            c + code2[q] + h for c, q, h in zip(prefixes, pi, b.columns[BHXH], strict=True)
        ]
        places = w.places
        b.place = [places[q][r >> 4] for q, r in zip(pi, self.u16(n), strict=True)]
        # The facility the person registered with, near where they live (Place.facilities).
        b.columns[FACILITY] = [
            place[4][r >> 8] for place, r in zip(b.place, self.u16(n), strict=True)
        ]
        address = [
            place[3][r >> 9] + place[0] for place, r in zip(b.place, self.u16(n), strict=True)
        ]
        for i in self.where(n, NO_ADDRESS):
            address[i] = ""
        b.columns[ADDRESS] = address
        managed = b.columns[MANAGED_BY] = [MANAGED.get(g, "vss") for g in b.group]
        district, province_issuer = _t(0.55), w.province_issuer
        issuer = [
            place[2] if u < district else province_issuer[q]
            for place, u, q in zip(b.place, self.u32(n), pi, strict=True)
        ]
        for i in [i for i, m in enumerate(managed) if m != "vss"]:
            issuer[i] = MINISTRY_ISSUER[managed[i]]
        b.columns[ISSUER] = issuer

    def _extras(self, b: Block) -> None:
        """Draw five-year dates, statuses, area codes and previous cards."""
        cal, n, rnd = self.cal, b.n, self.rng.random
        iso, today, first = cal.iso, cal.today, Calendar.FIRST
        adult = _t(FIVE_YEARS)
        five = [
            iso[today - (f * 3650 >> 32) - first] if a >= 18 and u < adult else ""
            for a, u, f in zip(b.age, self.u32(n), self.u32(n), strict=True)
        ]
        for i in self.where(n, 0.07):
            if five[i]:  # some reach five years during the current card
                five[i] = iso[today + 1 + int(rnd() * 300) - first]
        b.columns[FIVE_YEAR] = five
        status = ["active"] * n
        for i in self.where(n, REVOKED + REDUCED):
            status[i] = self._cut_off_status()
        b.columns[STATUS] = status
        # maKV (DOMAIN.md 1): K1/K2 for minorities and the poor in hardship areas, K3 islands.
        group_share, hardship_share = self.area_threshold, self.hardship_area
        region = [
            ("K1", "K2")[v >> 31] if u < (group_share[g] or hardship_share[p]) else ""
            for g, p, u, v in zip(b.group, b.province, self.u32(n), self.u32(n), strict=True)
        ]
        for i in [i for i, place in enumerate(b.place) if place[1]]:
            if rnd() < 0.8:
                region[i] = "K3"
        b.columns[REGION] = region
        for i in self.where(n, PREVIOUS_CARD):
            self._previous_card(b, i)

    def _cut_off_status(self) -> str:
        """Draw revoked (DOMAIN.md 3: 110) or one of the five cut-off statuses (120-124)."""
        if self.rng.random() < REVOKED / (REVOKED + REDUCED):
            return "revoked"
        return self.rng.choice(data.REDUCED_STATUSES)

    def _previous_card(self, b: Block, i: int) -> None:
        """Add the card person i held before (same BHXH tail, other group/level/province)."""
        w, rng, cal = self.w, self.rng, self.cal
        group, p, card, bhxh = b.group[i], b.province[i], b.columns[CARD][i], b.columns[BHXH][i]
        prev_group = rng.choice(data.PREVIOUS_GROUPS.get(group, [group]))
        prev_p = p if rng.random() < 0.6 else w.province_table[rng.getrandbits(BITS)]
        # Issued about a year before the current card: on the 2025 map if that was since.
        era = w.n if b.valid_from[i] - 365 >= NEW_MAP_FROM else 0
        prev = w.card_prefix[prev_group] + w.code2[prev_p + era] + bhxh
        if prev[:5] == card[:5]:  # same group, level and province: then it was elsewhere
            others = [q for q in range(w.n) if w.code2[q + era] != card[3:5]]
            prev_p = others[rng.randrange(len(others))]
            prev = w.card_prefix[prev_group] + w.code2[prev_p + era] + bhxh
        u = rng.random()
        if u < 0.05:
            prev_to = ""  # unknown end: answers 003 (DESIGN.md 6)
        elif u < 0.7:
            prev_to = cal.date(b.valid_from[i] - 1)  # ended the day before the new card began
        else:
            prev_to = cal.date(cal.today + int(rng.random() * 200))  # still running: 004
        b.columns[PREV_CARD][i] = prev
        b.columns[PREV_VALID_TO][i] = prev_to
