"""The world behind `lookup synth`: lookup tables, calendar and unique serials for one seed.

`World` turns the tables of `tables` into flat lists once per seed, so that drawing a value
is `table[random 16 bits]`, each place (`Place`) written both ways, before and on the 2025 map,
with the facilities of the registry (lookup.synth.facilities) its people register with;
`Calendar` holds every date the generator writes as a precomputed
ISO string indexed by day ordinal; `Serials` hands out unique code serials without remembering
the codes already issued.

Rows are CSV-encoded field by field (`quote`): `",".join(row)` is the CSV line as the csv module
writes it (QUOTE_MINIMAL). Only addresses ever need quotes; the texts of the tables are checked
at load time to hold no comma, quote or line break, and to be NFC.
"""

from __future__ import annotations

import datetime
import random
import sys
import unicodedata
from array import array
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple, TypeVar

from lookup.schema import COLUMNS  # SPEC.md 1.1, in the spec's order
from lookup.synth import tables as data
from lookup.synth.facilities import District, Registry
from lookup.synth.map2025 import CITIES, NEW_CODE, NEW_NAME
from lookup.synth.tables import (
    HAMLET_WORDS,
    PROVINCES,
    RURAL_COMMUNES,
    URBAN_WARDS,
    Province,
    region_of,
)

__all__ = (
    "BITS",
    "COLUMNS",
    "P32",
    "Calendar",
    "Place",
    "PlaceRow",
    "Serials",
    "World",
    "calendar_for",
    "draw_u16",
    "draw_u32",
    "quote",
    "unquote",
    "weighted_table",
)

(
    CCCD,
    BHXH,
    CARD,
    NAME,
    DOB,
    GENDER,
    ADDRESS,
    FACILITY,
    VALID_FROM,
    VALID_TO,
    FIVE_YEAR,
    REGION,
    STATUS,
    MANAGED_BY,
    PREV_CARD,
    PREV_VALID_TO,
    ISSUER,
) = range(len(COLUMNS))

_T = TypeVar("_T")

BITS = 16  # weighted tables have 2**16 slots: shares down to 1/65536 keep their weight
ISLAND_WEIGHT = 0.03  # an island ward holds few people next to a mainland one


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


def weighted_table(pairs: Sequence[tuple[_T, float]], bits: int = BITS) -> list[_T]:
    """Spread values over 2**bits slots by weight, so a draw is `table[getrandbits(bits)]`."""
    total = sum(w for _, w in pairs)
    slots = 1 << bits
    table: list[_T] = []
    cum = 0.0
    for value, weight in pairs:
        cum += weight
        end = round(cum / total * slots)
        table.extend([value] * (end - len(table)))
    return table


class Serials:
    """Issue unique serials per prefix: a keyed bijection of a per-prefix counter.

    serial = mix((start + n) * MULT + offset(prefix)) mod 10**digits, where MULT is invertible
    and `mix` a one-round table shuffle of the two halves: distinct counters give distinct
    serials, so uniqueness needs no set of issued codes. Each output (extract, delta newcomers,
    facility officers, uninsured people) counts in its own slice of the range, and each shard of
    a parallel run in its own piece of that slice: adding a delta or a population file never
    changes the extract, and no two codes meet.
    """

    # space -> (first, share) of the range; the extract and population slices are cut into
    # MAX_SHARDS pieces, one per shard of rows (see synth.SHARD_ROWS).
    SLICES = {
        "extract": (0.0, 0.6),
        "delta": (0.6, 0.29),  # its start, so its codes, are as before officers had a slice
        "officers": (0.89, 0.01),  # facility staff (lookup.synth.facilities)
        "population": (0.9, 0.1),
    }
    MAX_SHARDS = 512

    def __init__(self, world: World, digits: int, space: str, shard: int | None = None) -> None:
        self.size = 10**digits
        first, share = self.SLICES[space]
        self.limit = int(share * self.size)
        self.start = int(first * self.size)
        if shard is not None:
            if not 0 <= shard < self.MAX_SHARDS:
                raise ValueError(f"synth: at most {self.MAX_SHARDS} shards of rows")
            self.limit //= self.MAX_SHARDS
            self.start += shard * self.limit
        self.half = half = 10 ** (digits // 2)
        self.mult = world.mult[digits]
        self.base = self.start * self.mult % self.size
        # offset(key) = high[key // 1000] + low[key % 1000]: small tables stay in the cache.
        self.high, self.low, self.table = world.serial_tables[digits]
        self.digits = [str(half + i)[1:] for i in range(half)]  # zero-padded halves
        self.counts: dict[int, int] = {}

    def codes(self, keys: list[int], prefixes: list[str]) -> list[str]:
        """Return one new code per key (< 100000): its prefix, then the key's next serial."""
        counts, limit, get = self.counts, self.limit, self.counts.get
        ns = []
        for k in keys:
            c = get(k, 0)
            if c >= limit:
                raise ValueError(f"synth: more than {limit:,} codes share the prefix {k}")
            counts[k] = c + 1
            ns.append(c)
        size, mult, base, high, low = self.size, self.mult, self.base, self.high, self.low
        xs = [
            (c * mult + base + high[k // 1000] + low[k % 1000]) % size
            for k, c in zip(keys, ns, strict=True)
        ]
        # The mixing round: the upper half plus a table value of the lower half.
        half, table, digits = self.half, self.table, self.digits
        return [
            p + digits[(x // half + table[x % half]) % half] + digits[x % half]
            for p, x in zip(prefixes, xs, strict=True)
        ]


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


# A Place as a plain tuple, in the same order: what the draw loops read.
PlaceRow = tuple[str, bool, str, list[str], list[str], int]


class Place(NamedTuple):
    """A commune or ward people live in, as one era writes it (see World.places)."""

    tail: str  # ", ward, district, province" or on the 2025 map ", ward, province", quoted
    island: bool  # residents may carry area code K3
    issuer: str  # the insurance office below the province's (district, or "cơ sở" since 2025)
    streets: list[str]  # street parts of addresses, each opening the quoted address
    facilities: list[str]  # 256 slots: the codes its people register with, in this era
    number: int  # its index in the province's list, the same in both eras

    def row(self) -> PlaceRow:
        """Return the place as a plain tuple."""
        return (self.tail, self.island, self.issuer, self.streets, self.facilities, self.number)


class World:
    """Flat lookup tables for one seed: provinces, places, facilities, names, groups.

    Lists indexed by `pi` hold province p's value at pi = p before the 2025 map and at
    pi = p + n on it (n = 63; DOMAIN.md 1 and 6, lookup.synth.map2025): a card issued since
    2025-07-01 writes the new province code and an address without district.
    """

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"{seed}:world")
        provinces = self.provinces = PROVINCES
        n = self.n = len(provinces)
        self.province_table = weighted_table([(i, p.population) for i, p in enumerate(provinces)])
        self.code_int = [int(p.cccd) for p in provinces]
        self.by_code2 = {p.cccd[1:]: i for i, p in enumerate(provinces)}
        # The old province whose code its new province took (the seat): a baby registered
        # since 2025-07-01 has that code in its CCCD and social insurance number.
        self.seat = [self.by_code2[NEW_CODE[p.cccd[1:]]] for p in provinces]
        # Card and facility province digits, by pi.
        self.code2 = [p.cccd[1:] for p in provinces] + [NEW_CODE[p.cccd[1:]] for p in provinces]
        self.hardship = [p.hardship for p in provinces]
        self.minority = [p.minority for p in provinces]
        # Digits 1-3 of a CCCD are where the birth was registered: migrants were born elsewhere.
        self.born_elsewhere = [0.35 if p.magnet else 0.06 for p in provinces]
        self.districts = [self._districts(rng, p) for p in provinces]
        self.registry = Registry(seed, provinces, self.districts)
        # The codes of each province's facilities, by pi (a delta moves people among them).
        self.facility_codes = [[f.old_code for f in fs] for fs in self.registry.by_province]
        self.facility_codes += [[f.code for f in fs] for fs in self.registry.by_province]
        self.province_issuer = [f"BHXH {p.kind} {p.name}" for p in provinces]
        self.province_issuer += [_new_province_issuer(NEW_CODE[p.cccd[1:]]) for p in provinces]
        # place_lists[pi]: a province's places in one era; places[pi]: the same as plain tuples
        # (a NamedTuple's items are slower to read in the draw loops) weighted over 2**12
        # slots. Big places weigh as much as small ones (no census by commune here).
        self.place_lists: list[list[Place]] = [[] for _ in range(2 * n)]
        for p in range(n):
            self.place_lists[p], self.place_lists[p + n] = self._places(rng, p)
        self.places = [
            weighted_table(
                [(place.row(), ISLAND_WEIGHT if place.island else 1.0) for place in pl], 12
            )
            for pl in self.place_lists
        ]
        self.surnames = weighted_table(data.SURNAMES)
        # forenames[sex * 2 + born_1985_or_later]: "middle given", drawn together (sex 0 male,
        # 1 female); nobody is "Minh Minh". Parents born since 1985 chose newer middle names.
        self.forenames = [
            weighted_table(
                [
                    (f"{middle} {given}", mw * gw)
                    for middle, mw in data.MIDDLE[(sex, era)]
                    for given, gw in data.GIVEN[sex]
                    if not middle.endswith(given)
                ]
            )
            for sex in "mf"
            for era in ("old", "new")
        ]
        self.given_lists = [[n for n, _ in data.GIVEN[s]] for s in "mf"]
        self.age_table = weighted_table([(age, data.AGE_WEIGHTS[age // 5]) for age in range(100)])
        bands = data.AGE_BANDS
        band_index = [max(i for i, b in enumerate(bands) if b <= age) for age in range(100)]
        # group_tables[band * 3 + hardship]
        self.group_tables = [
            weighted_table(data.parse_weighted(mix))
            for band in bands
            for mix in data.GROUPS_BY_BAND[band]
        ]
        self.group_base = [3 * band_index[age] for age in range(100)]
        self.card_prefix = {g: f"{g}{level}" for g, level in data.GROUP_LEVEL.items()}
        # Serials (see Serials): invertible multipliers, key offsets and mixing tables.
        self.mult = {6: 1 + 10 * rng.randrange(1, 10**5), 8: 1 + 10 * rng.randrange(1, 10**7)}
        self.serial_tables = {
            d: (
                [rng.randrange(10**d) for _ in range(100)],
                [rng.randrange(10**d) for _ in range(1000)],
                [rng.randrange(10 ** (d // 2)) for _ in range(10 ** (d // 2))],
            )
            for d in (6, 8)
        }
        self._check_texts()

    def _check_texts(self) -> None:
        """Refuse table texts that need CSV quoting (rows are joined without the csv module)."""
        texts = [n for n, _ in data.SURNAMES] + self.province_issuer
        texts += [place.issuer for places in self.place_lists for place in places]
        texts += [n for table in (*data.MIDDLE.values(), *data.GIVEN.values()) for n, _ in table]
        for spec in data.MINORITY.values():
            texts += spec["surnames"] + spec["given_m"] + spec["given_f"] + spec["m"] + spec["f"]
        bad = [t for t in texts if quote(t) != t or unicodedata.normalize("NFC", t) != t]
        if bad:
            raise ValueError(f"synth: table texts need CSV quoting or are not NFC: {bad[:5]}")

    @staticmethod
    def _districts(rng: random.Random, p: Province) -> list[District]:
        """Resolve a province's districts: wards and communes named in `tables`, else four
        of the region's common names."""
        region = region_of(p.cccd)
        districts = []
        for district, wards, island in p.districts:
            urban = not district.startswith("Huyện")
            if not wards:
                pool = (URBAN_WARDS if urban else RURAL_COMMUNES)[region].split(", ")
                wards = tuple(rng.sample(pool, 4))
            units = tuple(
                ward
                if ward.startswith("Phường ")
                else (f"Phường {ward}" if urban else f"Xã {ward}")
                for ward in wards
            )
            districts.append(District(district, units, island, urban))
        return districts

    def _places(self, rng: random.Random, p: int) -> tuple[list[Place], list[Place]]:
        """Return a province's places as written before the 2025 map and on it."""
        province, registry = self.provinces[p], self.registry
        region = region_of(province.cccd)
        suffix = "Thành phố Hồ Chí Minh" if province.cccd == "079" else province.name
        new_suffix = _new_address_suffix(NEW_CODE[province.cccd[1:]])
        hamlet_key = province.minority or region
        if hamlet_key == "N" and province.hardship == 2:
            hamlet_key = "Nh"
        hamlets = HAMLET_WORDS[hamlet_key]
        rural = ['"' + f"{rng.choice(hamlets)} {1 + n % 15}" for n in range(128)]
        urban = ['"' + _house_number(rng, region) for _ in range(128)]
        old: list[Place] = []
        new: list[Place] = []
        for d, district in enumerate(self.districts[p]):
            kind, name = _split_district(district.name)
            issuer = f"BHXH {kind.lower()} {name}"
            # The district offices became "cơ sở" offices of the province (2025).
            new_issuer = f"BHXH cơ sở {district.name if name.isdigit() else name}"
            streets = urban if district.urban else rural
            for u, unit in enumerate(district.units):
                table = registry.place_tables[p][d][u]
                # The tails close the quoted address the street part opened.
                tail = f', {unit}, {district.name}, {suffix}"'
                # DOMAIN.md 6: no district since 2025; an island district is a special zone.
                new_unit = f"Đặc khu {name}" if district.island else unit
                new_tail = f', {new_unit}, {new_suffix}"'
                current = list(map(registry.current.__getitem__, table))
                number = len(old)
                old.append(Place(tail, district.island, issuer, streets, table, number))
                new.append(Place(new_tail, district.island, new_issuer, streets, current, number))
        return old, new


def _new_province_issuer(code2: str) -> str:
    """Name the insurance office of a province of the 2025 map ("BHXH tỉnh Phú Thọ")."""
    return f"BHXH {'thành phố' if code2 in CITIES else 'tỉnh'} {NEW_NAME[code2]}"


def _new_address_suffix(code2: str) -> str:
    """Write a province of the 2025 map at the end of an address."""
    if code2 in ("79", "46"):  # "Hồ Chí Minh" alone is a person; "Huế" the old city
        return f"Thành phố {NEW_NAME[code2]}"
    return NEW_NAME[code2]


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


def draw_u16(rng: random.Random, n: int) -> array[int]:
    """Return n random 16-bit integers from one call of the generator (the same on any CPU)."""
    a = array("H", rng.getrandbits(16 * n).to_bytes(2 * n, "little"))
    if BIG_ENDIAN:
        a.byteswap()
    return a


def draw_u32(rng: random.Random, n: int) -> array[int]:
    """Return n random 32-bit integers from one call of the generator (the same on any CPU)."""
    a = array("I", rng.getrandbits(32 * n).to_bytes(4 * n, "little"))
    if BIG_ENDIAN:
        a.byteswap()
    return a
