"""People for `lookup synth`: one extract row per draw, shaped like the country.

`World` turns the tables of `synth_data` and `synth_places` into flat lookup lists once per seed;
`PersonMaker.make` draws one person at a time from them. The common path of `make` is written
inline on purpose: at national scale (10 million rows) every function call and datetime object
per row costs seconds, so dates are integer day ordinals with precomputed ISO strings, weighted
draws are `table[getrandbits(16)]`, and rare cases (children's cards, partial birth dates,
previous cards, data-quality cases) go to helpers.

Rows come out CSV-encoded field by field: `",".join(row)` is the CSV line as the csv module
writes it (QUOTE_MINIMAL). Only the address ever needs quotes, so it is stored quoted; the
texts of the tables are checked at load time to hold no comma, quote or line break.
"""

from __future__ import annotations

import datetime
import math
import random
import sys
import unicodedata
from array import array
from functools import lru_cache
from typing import NamedTuple

from lookup import synth_data as data
from lookup.synth_places import HAMLET_WORDS, PROVINCES, RURAL_COMMUNES, URBAN_WARDS, region_of

__all__ = ("COLUMNS", "World", "Calendar", "PersonMaker", "Person", "quote", "unquote")

# SPEC.md 1.1, in the order the generator writes them.
COLUMNS = (
    "cccd", "bhxh_code", "card_no", "full_name", "dob", "gender", "address", "facility_code",
    "valid_from", "valid_to", "five_year_date", "region_code", "status", "managed_by",
    "prev_card_no", "prev_valid_to", "issuer",
)  # fmt: skip
(CCCD, BHXH, CARD, NAME, DOB, GENDER, ADDRESS, FACILITY, VALID_FROM, VALID_TO, FIVE_YEAR,
 REGION, STATUS, MANAGED_BY, PREV_CARD, PREV_VALID_TO, ISSUER) = range(len(COLUMNS))  # fmt: skip

BITS = 16  # weighted tables have 2**16 slots: shares down to 1/65536 keep their weight

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
ISLAND_WEIGHT = 0.03  # an island ward holds few people next to a mainland one
# Groups whose card usually runs the calendar year (the state or an employer pays yearly);
# the rest mostly buy 12 months from the day they pay (households, students, some workers).
CALENDAR_SHARE = {"GD": 0.3, "DN": 0.55, "HC": 0.7, "CH": 0.6, "NN": 0.5, "SV": 0.5, "XK": 0.4}
LONG_CARD_GROUPS = frozenset({"HT", "CC", "CB", "BT", "TS", "QN", "CA", "CY", "CK"})
AREA_GROUPS = {"DT": 0.6, "HN": 0.25}  # share with area code K1/K2 (DOMAIN.md 1, maKV)
MANAGED = {"QN": "defence", "CY": "defence", "CA": "police"}
MINISTRY_ISSUER = {"defence": "BHXH Bộ Quốc phòng", "police": "BHXH Bộ Công an"}
CN_LEVEL_2_FROM = datetime.date(2026, 1, 1).toordinal()  # DOMAIN.md 2

# Flags: what a drawn row is, for the summary and the other files.
F_EXPIRED, F_NOT_YET_VALID, F_YEAR_ONLY, F_YEAR_MONTH, F_CCCD_MISMATCH, F_ODD_NAME = (
    1, 2, 4, 8, 16, 32)  # fmt: skip
FLAG_NAMES = {F_EXPIRED: "expired", F_NOT_YET_VALID: "not_yet_valid", F_YEAR_ONLY: "year_only",
              F_YEAR_MONTH: "year_month", F_CCCD_MISMATCH: "cccd_mismatch",
              F_ODD_NAME: "odd_name"}  # fmt: skip


class Person(NamedTuple):
    """One drawn person: the CSV-encoded row and what the other files need to know."""

    row: list[str]
    group: str
    flags: int  # F_* bits
    sex: int  # 0 male, 1 female (the name's sex, also when gender is 3)
    name_parts: tuple[str, str, str]  # (surname, middle, given) in NFC; ("", "", name) if other
    province: int  # index of the residence province in PROVINCES
    dob_ord: int


def quote(text: str) -> str:
    """Encode one CSV field as the csv module does (QUOTE_MINIMAL, lineterminator "\\n")."""
    if "," in text or '"' in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def unquote(field: str) -> str:
    """Decode a field `quote` encoded."""
    if field.startswith('"'):
        return field[1:-1].replace('""', '"')
    return field


def weighted_table(pairs: list[tuple[object, float]], bits: int = BITS) -> list:
    """Spread values over 2**bits slots by weight, so a draw is `table[getrandbits(bits)]`."""
    total = sum(w for _, w in pairs)
    slots = 1 << bits
    table: list = []
    cum = 0.0
    for value, weight in pairs:
        cum += weight
        end = round(cum / total * slots)
        table.extend([value] * (end - len(table)))
    return table


class Serials:
    """Issue unique serials per prefix: a keyed bijection of a per-prefix counter.

    serial = mix((start + step * n) * MULT + offset(prefix)) mod 10**digits, where MULT is
    invertible and `mix` a one-round table shuffle of the two halves: distinct counters give
    distinct serials, so uniqueness needs no set of issued codes. Each output (extract, delta
    newcomers, uninsured people) counts in its own slice of the range, so adding a delta or a
    population file never changes the extract and their codes never collide with it.
    """

    SLICES = {"extract": (0, 1, 0.6), "delta": (0.6, 1, 0.3), "population": (-1, -1, 0.1)}

    def __init__(self, world: World, digits: int, space: str) -> None:
        self.size = 10**digits
        start, self.step, share = self.SLICES[space]
        self.start = int(start * self.size) if start >= 0 else -1
        self.limit = int(share * self.size)
        self.half = 10 ** (digits // 2)
        self.shifted = [t * self.half for t in world.mix_tables[digits]]
        self.mult, self.salt = world.mult[digits], world.salt
        self.counts: dict[int, int] = {}
        self.offsets: dict[int, int] = {}  # per-key start, so prefixes do not start alike

    def codes(self, keys: list[int], prefixes: dict[int, str]) -> list[str]:
        """Return one new code per key: prefixes[key], then its next serial (all digits)."""
        counts, limit, get = self.counts, self.limit, self.counts.get
        ns = []
        for k in keys:
            c = get(k, 0)
            if c >= limit:
                raise ValueError(f"synth: more than {limit:,} codes share the prefix {k}")
            counts[k] = c + 1
            ns.append(c)
        size, offset = self.size, self.offsets
        for k in set(keys) - offset.keys():
            # (start + step * n) * mult + offset(k), with the constant part folded in.
            offset[k] = (self.start * self.mult + k * 2654435761 + self.salt) % size
        mult, get_offset = self.step * self.mult % size, offset.get
        xs = [(c * mult + get_offset(k)) % size for k, c in zip(keys, ns)]
        # The mixing round: the upper half plus a table value of the lower half.
        half, shifted = self.half, self.shifted
        return [prefixes[k] + str(size + (x + shifted[x % half]) % size)[1:]
                for k, x in zip(keys, xs)]  # fmt: skip


class Calendar:
    """Dates as integer ordinals around `as_of`, with their ISO strings precomputed."""

    FIRST = datetime.date(1880, 1, 1).toordinal()

    def __init__(self, as_of: datetime.date) -> None:
        self.as_of = as_of
        self.today = as_of.toordinal()
        last = datetime.date(as_of.year + 9, 12, 31).toordinal()
        days = [datetime.date.fromordinal(o) for o in range(self.FIRST, last + 1)]
        # iso[o - FIRST] is the YYYY-MM-DD of ordinal o; year[...] its year.
        self.iso = [d.isoformat() for d in days]
        self.year = [d.year for d in days]
        self.jan1 = datetime.date(as_of.year, 1, 1).toordinal()
        self.dec31 = datetime.date(as_of.year, 12, 31).toordinal()
        self.next_dec31 = datetime.date(as_of.year + 1, 12, 31).toordinal()
        self._te_limits: dict[int, int] = {}

    def date(self, ordinal: int) -> str:
        """Return the YYYY-MM-DD of an ordinal."""
        return self.iso[ordinal - self.FIRST]

    def te_limit(self, dob: int) -> int:
        """Return the last day of a TE card (DESIGN.md 6, rule 6) for a full birth date."""
        limit = self._te_limits.get(dob)
        if limit is None:
            limit = self._te_limits[dob] = self._te_limit(dob)
        return limit

    def _te_limit(self, dob: int) -> int:
        born = datetime.date.fromordinal(dob)
        year = born.year + 6
        day = born.day
        if born.month == 2 and day == 29:
            day = 28  # that month has no such day: its last day (DESIGN.md 6)
        month_72 = datetime.date(year, born.month, day).toordinal() - 1
        return max(month_72, datetime.date(year, 9, 30).toordinal())


@lru_cache(maxsize=4)
def calendar_for(as_of: datetime.date) -> Calendar:
    """Return the (cached) calendar of one as_of date."""
    return Calendar(as_of)


class World:
    """Flat lookup tables for one seed: provinces, places, facilities, names, groups."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"{seed}:world")
        provinces = self.provinces = PROVINCES
        self.province_table = weighted_table([(i, p.population) for i, p in enumerate(provinces)])
        self.code2 = [p.cccd[1:] for p in provinces]  # card and facility province digits
        self.code_int = [int(p.cccd) for p in provinces]
        self.by_code2 = {p.cccd[1:]: i for i, p in enumerate(provinces)}
        self.hardship = [p.hardship for p in provinces]
        self.minority = [p.minority for p in provinces]
        # Digits 1-3 of a CCCD are where the birth was registered: migrants were born elsewhere.
        self.born_elsewhere = [0.35 if p.magnet else 0.06 for p in provinces]
        self.facilities = [self._facilities(rng, p.cccd[1:]) for p in provinces]
        # Big hospitals take most registrations: slot i of 256 holds facility int(f(i) * n).
        self.facility_tables = [[fs[int((i / 256) ** 2 * len(fs))] for i in range(256)]
                                for fs in self.facilities]  # fmt: skip
        self.places = [weighted_table(self._places(rng, p), 12) for p in provinces]
        self.province_issuer = [f"BHXH {p.kind} {p.name}" for p in provinces]
        self.surnames = weighted_table(data.SURNAMES)
        # middles[sex * 2 + born_1985_or_later]; givens[sex]; sex 0 male, 1 female.
        self.middles = [weighted_table(data.MIDDLE[(s, era)])
                        for s in "mf" for era in ("old", "new")]  # fmt: skip
        self.givens = [weighted_table(data.GIVEN[s]) for s in "mf"]
        self.given_lists = [[n for n, _ in data.GIVEN[s]] for s in "mf"]
        self.age_table = weighted_table([(age, data.AGE_WEIGHTS[age // 5]) for age in range(100)])
        bands = data.AGE_BANDS
        band_index = [max(i for i, b in enumerate(bands) if b <= age) for age in range(100)]
        # group_tables[band * 3 + hardship]
        self.group_tables = [weighted_table(data.parse_weighted(mix))
                             for band in bands for mix in data.GROUPS_BY_BAND[band]]  # fmt: skip
        self.group_base = [3 * band_index[age] for age in range(100)]
        self.card_prefix = {g: f"{g}{level}" for g, level in data.GROUP_LEVEL.items()}
        # Serials (see Serials): invertible multipliers and half-tables per digit count.
        self.mult = {6: 1 + 10 * rng.randrange(1, 10**5), 8: 1 + 10 * rng.randrange(1, 10**7)}
        self.mix_tables = {d: [rng.randrange(10 ** (d // 2)) for _ in range(10 ** (d // 2))]
                           for d in (6, 8)}  # fmt: skip
        self.salt = rng.randrange(1 << 30)
        self._check_texts()

    def _check_texts(self) -> None:
        """Refuse table texts that would need CSV quoting (rows are joined without the csv module)."""
        texts = [n for n, _ in data.SURNAMES] + self.province_issuer
        texts += [n for table in (*data.MIDDLE.values(), *data.GIVEN.values()) for n, _ in table]
        for spec in data.MINORITY.values():
            texts += spec["surnames"] + spec["given_m"] + spec["given_f"] + spec["m"] + spec["f"]
        bad = [t for t in texts if quote(t) != t or unicodedata.normalize("NFC", t) != t]
        if bad:
            raise ValueError(f"synth: table texts need CSV quoting or are not NFC: {bad[:5]}")

    @staticmethod
    def _facilities(rng: random.Random, code2: str) -> list[str]:
        """Invent a province's facilities: hospitals (3 digits) first, then commune stations."""
        hospitals = [f"{code2}{n:03d}" for n in rng.sample(range(1, 999), 14)]
        stations = [f"{code2}C{n:02d}" for n in rng.sample(range(1, 99), 8)]
        return hospitals + stations

    @staticmethod
    def _places(rng: random.Random, p) -> list[tuple[tuple, float]]:
        """List weighted places: ((", ward, district, province" quoted tail, island,
        district issuer, street prefixes), weight)."""
        region = region_of(p.cccd)
        suffix = "Thành phố Hồ Chí Minh" if p.cccd == "079" else p.name
        hamlet_key = p.minority or region
        if hamlet_key == "N" and p.hardship == 2:
            hamlet_key = "Nh"
        hamlets = HAMLET_WORDS[hamlet_key]
        rural = [f"{rng.choice(hamlets)} {1 + n % 15}" for n in range(128)]
        urban = [_house_number(rng, region) for _ in range(128)]
        places = []
        for district, wards, island in p.districts:
            is_urban = not district.startswith("Huyện")
            if not wards:
                pool = (URBAN_WARDS if is_urban else RURAL_COMMUNES)[region].split(", ")
                wards = tuple(rng.sample(pool, 4))
            kind, name = _split_district(district)
            issuer = f"BHXH {kind.lower()} {name}"
            for ward in wards:
                unit = ward if ward.startswith("Phường ") else (
                    f"Phường {ward}" if is_urban else f"Xã {ward}")  # fmt: skip
                tail = f', {unit}, {district}, {suffix}"'  # closes the quoted address
                prefixes = ['"' + s for s in (urban if is_urban else rural)]
                places.append(((tail, island, issuer, prefixes),
                               ISLAND_WEIGHT if island else 1.0))  # fmt: skip
        return places


def _split_district(district: str) -> tuple[str, str]:
    """Split "Thành phố Vinh" into ("Thành phố", "Vinh")."""
    for kind in ("Thành phố", "Thị xã", "Quận", "Huyện"):
        if district.startswith(kind + " "):
            return kind, district[len(kind) + 1 :]
    raise ValueError(f"synth: unknown district kind in {district!r}")


def _house_number(rng: random.Random, region: str) -> str:
    """Return the street part of an urban address in the region's usual style."""
    n = 1 + int(rng.random() ** 2 * 400)
    u = rng.random()
    if u < 0.2:
        return f"Tổ {rng.randint(1, 40)}"
    if region == "S" and u < 0.45:
        return f"Số {n}/{rng.randint(1, 99)}"  # a hẻm (alley) number, southern style
    if region == "N" and u < 0.45:
        return f"Số {rng.randint(1, 60)}, Ngõ {n}"
    return f"Số {n}"


P32 = 1 << 32  # random draws in bulk are 32-bit integers: u < share * P32 happens with `share`
BIG_ENDIAN = sys.byteorder == "big"


def draw_u16(rng: random.Random, n: int) -> array:
    """Return n random 16-bit integers from one call of the generator (the same on any CPU)."""
    a = array("H", rng.getrandbits(16 * n).to_bytes(2 * n, "little"))
    if BIG_ENDIAN:
        a.byteswap()
    return a


def draw_u32(rng: random.Random, n: int) -> array:
    """Return n random 32-bit integers from one call of the generator (the same on any CPU)."""
    a = array("I", rng.getrandbits(32 * n).to_bytes(4 * n, "little"))
    if BIG_ENDIAN:
        a.byteswap()
    return a


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
        self.surname: list[str] = []
        self.middle: list[str] = []
        self.given: list[str] = []
        self.province: list[int] = []
        self.age: list[int] = []
        self.dob_ord: list[int] = []
        self.year: list[int] = []
        self.te_limit: dict[int, int] = {}  # person -> last day of the TE card (DOMAIN.md 3)
        self.valid_from: list[int] = []
        self.place: list[tuple] = []

    def lines(self) -> list[str]:
        """Return the CSV lines (without line ends)."""
        return list(map(",".join, zip(*self.columns)))

    def row(self, i: int) -> list[str]:
        """Return person i's extract row as plain (decoded) values."""
        return [unquote(column[i]) for column in self.columns]

    def person(self, i: int) -> Person:
        """Return person i as a Person (with a plain row)."""
        parts = (self.surname[i], self.middle[i], self.given[i])
        return Person(self.row(i), self.group[i], self.flags[i], self.sex[i], parts,
                      self.province[i], self.dob_ord[i])  # fmt: skip


class PersonMaker:
    """Draw people in blocks with one `random.Random`, codes from one slice of the serials.

    Each step fills some columns for the whole block with list comprehensions over bulk
    random draws, then fixes up the few people a rare case applies to.
    """

    def __init__(self, world: World, cal: Calendar, rng: random.Random, space: str) -> None:
        self.w, self.cal, self.rng = world, cal, rng
        self.cccd_serials = Serials(world, 6, space)  # CCCD digits 7-12 per 6-digit prefix
        self.bhxh_serials = Serials(world, 8, space)  # BHXH digits 3-10 per province
        self.cccd_prefixes: dict[int, str] = {}  # CCCD digits 1-6 by prefix key
        self.bhxh_prefixes = dict(enumerate(world.code2))  # BHXH digits 1-2 by province
        # DOMAIN.md 1: digit 4 (century and sex, male) and digits 5-6 of a CCCD, by birth year.
        self.year_key = {y: ((y // 100 - 19) * 2 % 10) * 100 + y % 100 for y in range(1880, 2300)}
        male = {g: data.MALE_SHARE_BY_GROUP.get(g) for g in data.GROUP_LEVEL}
        self.male_threshold = {g: (_t(m or 0.5), _t(m or 0.44)) for g, m in male.items()}
        self.calendar_threshold = {g: _t(CALENDAR_SHARE.get(g, 0.95)) for g in data.GROUP_LEVEL}
        self.area_threshold = {g: _t(AREA_GROUPS.get(g, 0.0)) for g in data.GROUP_LEVEL}
        self.hardship_area = [_t(0.01 * h) for h in world.hardship]
        self.born_elsewhere = [_t(share) for share in world.born_elsewhere]

    # -- bulk random draws -------------------------------------------------------------
    def u16(self, n: int) -> array:
        """Return n random 16-bit integers."""
        return draw_u16(self.rng, n)

    def u32(self, n: int) -> array:
        """Return n random 32-bit integers."""
        return draw_u32(self.rng, n)

    def where(self, n: int, share: float) -> list[int]:
        """Return the people (of n) a case with probability `share` happens to.

        Draws the gaps between them (geometric), so a rare case costs per case, not per person.
        """
        if share <= 0.0:
            return []
        if share >= 1.0:
            return list(range(n))
        rnd, log, q = self.rng.random, math.log, math.log1p(-share)
        chosen, i = [], -1
        while True:
            i += 1 + int(log(1.0 - rnd()) / q)
            if i >= n:
                return chosen
            chosen.append(i)

    # -- the block ---------------------------------------------------------------------
    def block(self, n: int, *, ages: list[int] | None = None, dobs: list[int] | None = None,
              group: str | None = None) -> Block:  # fmt: skip
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

    def make(self, *, age: int | None = None, dob_ord: int | None = None,
             group: str | None = None) -> Person:  # fmt: skip
        """Draw one person (see `block`)."""
        b = self.block(1, ages=None if age is None else [age],
                       dobs=None if dob_ord is None else [dob_ord], group=group)  # fmt: skip
        return b.person(0)

    def _people(self, b: Block, ages, dobs, group) -> None:
        """Draw where people live, their ages, birth days, groups (DOMAIN.md 2) and sex."""
        w, cal, n = self.w, self.cal, b.n
        today, first = cal.today, Calendar.FIRST
        b.province = prov = list(map(w.province_table.__getitem__, self.u16(n)))
        if dobs is None:
            if ages is None:
                ages = list(map(w.age_table.__getitem__, self.u16(n)))
            dobs = [today - int((a + u / P32) * 365.2425) for a, u in zip(ages, self.u32(n))]
        else:
            ages = [(today - d) * 100 // 36525 for d in dobs]
        b.age, b.dob_ord = ages, dobs
        b.year = [cal.year[d - first] for d in dobs]
        if group is None:
            tables, base, hardship = w.group_tables, w.group_base, w.hardship
            b.group = [tables[base[a] + hardship[p]][r]
                       for a, p, r in zip(ages, prov, self.u16(n))]  # fmt: skip
        else:
            b.group = [group] * n
        children = [i for i, a in enumerate(ages) if a <= 6] if group != "TE" else range(n)
        for i in children:
            b.te_limit[i] = te = cal.te_limit(dobs[i])
            if group is None:
                b.group[i] = self._child_group(te, w.hardship[prov[i]])
        # Armed forces are mostly men; women outlive men.
        male = self.male_threshold
        b.sex = [0 if u < male[g][a >= 60] else 1 for g, a, u in zip(b.group, ages, self.u32(n))]

    def _child_group(self, te_limit: int, hardship: int) -> str:
        """Draw the group of a child of 0-6: TE until the TE limit (DOMAIN.md 3), then school."""
        if te_limit >= self.cal.today:
            return "TE"
        if self.rng.random() < 0.2:
            return "TE"  # past the TE limit, no school card yet: the TE card has expired
        return self.w.group_tables[3 + hardship][self.rng.getrandbits(BITS)]  # the 6-17 band

    def _names(self, b: Block) -> None:
        """Draw names (surname, middle, given; minority patterns) and the gender column."""
        w, n, rng = self.w, b.n, self.rng
        sexes = b.sex
        b.surname = list(map(w.surnames.__getitem__, self.u16(n)))
        middles, givens = w.middles, w.givens
        # Parents born since 1985 chose newer middle names (synth_data.MIDDLE).
        b.middle = [middles[s * 2 + (y >= 1985)][r]
                    for s, y, r in zip(sexes, b.year, self.u16(n))]  # fmt: skip
        b.given = [givens[s][r] for s, r in zip(sexes, self.u16(n))]
        for i in [i for i, (m, g) in enumerate(zip(b.middle, b.given)) if m.endswith(g)]:
            b.given[i] = givens[sexes[i]][rng.getrandbits(BITS)]  # nobody is "Minh Minh"
        for i in self.where(n, TWO_SYLLABLE_NAME):
            b.middle[i] = ""  # older records hold a few two-syllable names ("Trần Hùng")
        names = [f"{s} {m} {g}" if m else f"{s} {g}"
                 for s, m, g in zip(b.surname, b.middle, b.given)]  # fmt: skip
        minority = w.minority
        for i in self.where(n, MINORITY_NAME):
            style = minority[b.province[i]]
            if style:
                names[i] = self._minority_name(sexes[i], style)
                b.surname[i], b.middle[i], b.given[i] = "", "", names[i]
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
            S=rng.choice(spec["surnames"]), G=rng.choice(spec[f"given_{key}"]))

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
        born = [p if u >= elsewhere[p] else table[r]
                for p, u, r in zip(prov, self.u32(n), self.u16(n))]  # fmt: skip
        code, year_key = w.code_int, self.year_key
        keys = [code[p] * 1000 + year_key[y] + s * 100 for p, y, s in zip(born, b.year, b.sex)]
        for i in self.where(n, CCCD_MISMATCH):
            keys[i] = self._mismatched_cccd_prefix(keys[i])
            b.flags[i] |= F_CCCD_MISMATCH
        prefixes = self.cccd_prefixes
        for k in set(keys) - prefixes.keys():
            prefixes[k] = str(10**6 + k)[1:]
        b.columns[CCCD] = self.cccd_serials.codes(keys, prefixes)
        # The social insurance number keeps the province where it was first issued.
        t = _t(0.9)
        first_in = [p if u < t else table[r] for p, u, r in zip(prov, self.u32(n), self.u16(n))]
        b.columns[BHXH] = self.bhxh_serials.codes(first_in, self.bhxh_prefixes)

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
        calendar = [u < threshold[g] for g, u in zip(groups, self.u32(n))]
        vf = [jan1 if c else today - (u * 365 >> 32) for c, u in zip(calendar, self.u32(n))]
        vt = [cal.dec31 if c else v + 364 for c, v in zip(calendar, vf)]
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
        """Compose card codes (DOMAIN.md 1) and draw facility, address and issuer."""
        w, n, prov = self.w, b.n, b.province
        cp = w.card_prefix
        # DOMAIN.md 2: CN cards starting 2026-01-01 or later are level 2.
        prefixes = [cp[g] if g != "CN" or v < CN_LEVEL_2_FROM else "CN2"
                    for g, v in zip(b.group, b.valid_from)]  # fmt: skip
        code2 = w.code2
        b.columns[CARD] = [c + code2[p] + h for c, p, h in zip(prefixes, prov, b.columns[BHXH])]
        tables = w.facility_tables
        b.columns[FACILITY] = [tables[p][r >> 8] for p, r in zip(prov, self.u16(n))]
        places = w.places
        b.place = [places[p][r >> 4] for p, r in zip(prov, self.u16(n))]
        address = [place[3][r >> 9] + place[0] for place, r in zip(b.place, self.u16(n))]
        for i in self.where(n, NO_ADDRESS):
            address[i] = ""
        b.columns[ADDRESS] = address
        managed = b.columns[MANAGED_BY] = [MANAGED.get(g, "vss") for g in b.group]
        district, province_issuer = _t(0.55), w.province_issuer
        issuer = [place[2] if u < district else province_issuer[p]
                  for place, u, p in zip(b.place, self.u32(n), prov)]  # fmt: skip
        for i in [i for i, m in enumerate(managed) if m != "vss"]:
            issuer[i] = MINISTRY_ISSUER[managed[i]]
        b.columns[ISSUER] = issuer

    def _extras(self, b: Block) -> None:
        """Draw five-year dates, statuses, area codes and previous cards."""
        cal, n, rnd = self.cal, b.n, self.rng.random
        iso, today, first = cal.iso, cal.today, Calendar.FIRST
        adult = _t(FIVE_YEARS)
        five = [iso[today - (f * 3650 >> 32) - first] if a >= 18 and u < adult else ""
                for a, u, f in zip(b.age, self.u32(n), self.u32(n))]  # fmt: skip
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
        region = [("K1", "K2")[v >> 31] if u < (group_share[g] or hardship_share[p]) else ""
                  for g, p, u, v in zip(b.group, b.province, self.u32(n), self.u32(n))]  # fmt: skip
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
        prev = w.card_prefix[prev_group] + w.code2[prev_p] + bhxh
        if prev[:5] == card[:5]:  # same group, level and province: then it was elsewhere
            prev_p = (p + 1 + rng.randrange(len(w.provinces) - 1)) % len(w.provinces)
            prev = w.card_prefix[prev_group] + w.code2[prev_p] + bhxh
        u = rng.random()
        if u < 0.05:
            prev_to = ""  # unknown end: answers 003 (DESIGN.md 6)
        elif u < 0.7:
            prev_to = cal.date(b.valid_from[i] - 1)  # ended the day before the new card began
        else:
            prev_to = cal.date(cal.today + int(rng.random() * 200))  # still running: 004
        b.columns[PREV_CARD][i] = prev
        b.columns[PREV_VALID_TO][i] = prev_to
