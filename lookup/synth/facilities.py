"""The synthetic facility registry (SPEC.md 1.4) whose codes the synthetic cards carry.

About 12,851 codes (DOMAIN.md 6) over the provinces in proportion to population: commune
health stations (primary, codes with a letter such as `01C51`, DOMAIN.md 1) and private
clinics, district medical centres and hospitals (basic), the provinces' own hospitals
(provincial) and a few real central hospitals (central). A facility stands in one of the 63
provinces; where that province's code closed on 2025-07-01 (lookup.synth.map2025) it was given
a code of its new province, and the registry keeps both: cards issued before carry the old
code, cards issued since the new one. Such a facility is two codes of the 12,851.

Everything is drawn from the seed alone (`random.Random(f"{seed}:facilities")`), so the cards of
an extract name the same registry whether or not it is written. Officers (`draw_officers`)
are drawn only when the file is written, from a stream of their own.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from lookup.synth import facility_names as names
from lookup.synth.map2025 import NEW_CODE, NEW_PROVINCES
from lookup.synth.tables import Province, region_of

if TYPE_CHECKING:
    from lookup.synth.world import World

__all__ = (
    "LEVELS",
    "REGISTRY_COLUMNS",
    "TOTAL_CODES",
    "District",
    "Facility",
    "Registry",
    "draw_officers",
    "registry_rows",
)

LEVELS = ("central", "provincial", "basic", "primary")  # SPEC.md 1.4
REGISTRY_COLUMNS = ("facility_code", "name", "province", "level", "officer_cccd", "officer_name")
TOTAL_CODES = 12_851  # DOMAIN.md 6: facilities contracted with the fund
# Shares of a province's facilities, central hospitals aside (guesses shaped on the ~1,400
# hospitals, ~700 district centres and ~10,000 commune stations the ministry counts).
PROVINCIAL_SHARE = 0.035
BASIC_SHARE = 0.11
CLINIC_SHARE = 0.08  # of the primary level; the rest are commune stations
# Who a place's people register with (share of the 256 slots of its table): their own commune
# station, another station or the centre of their district, a private facility, a provincial
# hospital, and in the few provinces that have one, a central hospital. The first two are the
# unit's own half, the rest its district's (Registry.place_tables).
REGISTERED_AT = {
    "own_station": 0.35,
    "district_station": 0.15,
    "district_centre": 0.27,
    "private": 0.09,
    "provincial": 0.12,
    "central": 0.02,
}
SLOT_BITS = 8  # a place's facility table has 2**8 slots: `table[u16 >> 8]`
RURAL_COMMUNES_PER_WARD = 3  # stations of a rural district to one of a town (see _stations)
HIGHLAND_NAMES = 0.25  # share of highland commune names where a minority naming style lives
STATION_LETTERS = "ABCDEGHKLMNPQRSTUVXY"  # letter codes of stations: no I or O (read as 1, 0)


class District(NamedTuple):
    """A district of the place tables, with its communes and wards resolved."""

    name: str  # "Huyện Lục Nam", "Quận 1"
    units: tuple[str, ...]  # "Xã Tân Tiến", "Phường Dịch Vọng", "Phường 1"
    island: bool
    urban: bool


class Facility(NamedTuple):
    """One facility: its code before and since 2025-07-01 (equal where the province kept it)."""

    old_code: str
    code: str
    name: str
    level: str
    province: int  # index in PROVINCES of the (old) province it stands in


class Registry:
    """Draw every province's facilities, their codes, and who registers with them.

    `place_tables[p][d][u]` is the 256-slot table of facility codes (as before 2025-07-01) the
    people of unit u of district d of province p register with; `current` turns such a code
    into the one cards carry since.
    """

    def __init__(
        self, seed: int, provinces: Sequence[Province], districts: Sequence[list[District]]
    ) -> None:
        rng = random.Random(f"{seed}:facilities")
        self.facilities: list[Facility] = []
        self.by_province: list[list[Facility]] = []
        self.place_tables: list[list[list[list[str]]]] = []
        counts = _level_counts(provinces, districts)
        drawn = [
            _ProvinceFacilities(rng, pr, districts[p], counts[p]) for p, pr in enumerate(provinces)
        ]
        # Codes: each 2-digit prefix deals out its suffixes once, so no two facilities meet.
        # The old codes first; then the facilities of closed codes get one of the new province.
        pools: dict[str, _CodePool] = {}

        def pool(prefix: str) -> _CodePool:
            if prefix not in pools:
                pools[prefix] = _CodePool(rng, prefix)
            return pools[prefix]

        old_codes = [
            [pool(pr.cccd[1:]).take(f.kind) for f in d.all]
            for pr, d in zip(provinces, drawn, strict=True)
        ]
        for p, (pr, d) in enumerate(zip(provinces, drawn, strict=True)):
            new_prefix = NEW_CODE[pr.cccd[1:]]
            kept = new_prefix == pr.cccd[1:]
            mine = [
                Facility(old, old if kept else pool(new_prefix).take(f.kind), f.name, f.level, p)
                for old, f in zip(old_codes[p], d.all, strict=True)
            ]
            self.by_province.append(mine)
            self.facilities.extend(mine)
            code_of = {id(f): facility.old_code for f, facility in zip(d.all, mine, strict=True)}
            self.place_tables.append(d.place_tables(code_of))
        self.current = {f.old_code: f.code for f in self.facilities}
        self.former = {f.code: f.old_code for f in self.facilities}

    def codes(self) -> int:
        """Return how many codes the registry lists (a re-coded facility counts twice)."""
        return len(self.facilities) + sum(f.code != f.old_code for f in self.facilities)


class _Draft(NamedTuple):
    """A facility before its code: what kind of code it takes, its name and level."""

    kind: str  # "station" (a letter code) or "numbered"
    name: str
    level: str


class _Counts(NamedTuple):
    central: int
    provincial: int
    basic: int
    clinics: int
    stations: int


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainders), in whole numbers."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _level_counts(
    provinces: Sequence[Province], districts: Sequence[list[District]]
) -> list[_Counts]:
    """Count each province's facilities by level so that all of them make TOTAL_CODES codes.

    A facility whose province code closed is two codes, so such provinces get half the
    facilities their population would: codes, not facilities, follow the population.
    """
    twice = [1 if pr.cccd[1:] in NEW_PROVINCES else 2 for pr in provinces]
    central = [len(names.CENTRAL.get(pr.cccd, ())) for pr in provinces]
    weights = [pr.population / t for pr, t in zip(provinces, twice, strict=True)]
    central_codes = sum(c * t for c, t in zip(central, twice, strict=True))
    population = sum(pr.population for pr in provinces)
    rest = round((TOTAL_CODES - central_codes) * sum(weights) / population)
    counts = []
    for p, n in enumerate(_apportion(rest, weights)):
        units = sum(len(d.units) for d in districts[p])
        provincial = max(3, round(n * PROVINCIAL_SHARE))
        basic = max(len(districts[p]), round(n * BASIC_SHARE))
        clinics = round((n - provincial - basic) * CLINIC_SHARE)
        stations = max(units, n - provincial - basic - clinics)
        counts.append(_Counts(central[p], provincial, basic, clinics, stations))
    # Round to the exact total with stations of provinces that kept their code (one code each).
    left = TOTAL_CODES - sum(
        (c.central + c.provincial + c.basic + c.clinics + c.stations) * t
        for c, t in zip(counts, twice, strict=True)
    )
    kept = sorted((p for p in range(len(provinces)) if twice[p] == 1), key=lambda p: -weights[p])
    for k in range(abs(left)):
        p = kept[k % len(kept)]
        counts[p] = counts[p]._replace(stations=counts[p].stations + (1 if left > 0 else -1))
    return counts


class _CodePool:
    """The codes of one 2-digit prefix, dealt out at random and never twice.

    Drawn by rejection: the fullest prefix uses about half of its codes, so a draw rarely
    takes more than two tries, and no list of every code is made and shuffled.
    """

    def __init__(self, rng: random.Random, prefix: str) -> None:
        self.rng, self.prefix = rng, prefix
        self.taken: set[str] = set()

    def take(self, kind: str) -> str:
        """Return an unused code of this kind (a hospital's digits or a station's letter)."""
        rnd, taken = self.rng.random, self.taken
        for _ in range(10_000):
            if kind == "station":
                n = int(rnd() * len(STATION_LETTERS) * 100)
                code = f"{self.prefix}{STATION_LETTERS[n // 100]}{n % 100:02d}"
            else:
                code = f"{self.prefix}{1 + int(rnd() * 999):03d}"
            if code not in taken:
                taken.add(code)
                return code
        raise ValueError(f"synth: the {kind} facility codes of {self.prefix} are used up")


class _ProvinceFacilities:
    """Name one province's facilities and lay out who registers with which."""

    def __init__(
        self,
        rng: random.Random,
        province: Province,
        districts: list[District],
        counts: _Counts,
    ) -> None:
        self.rng, self.districts = rng, districts
        label = f"{province.kind} {province.name}"
        communes = _Communes(rng, province, districts)
        self.central = [
            _Draft("numbered", n, "central") for n in names.CENTRAL.get(province.cccd, ())
        ]
        self.provincial = [
            _Draft("numbered", n, "provincial")
            for n in itertools.islice(
                _provincial_names(province, label, districts, communes), counts.provincial
            )
        ]
        # Every district has its medical centre; then district hospitals, private hospitals
        # and the regional polyclinics of large communes.
        self.centres = [
            _Draft("numbered", f"Trung tâm Y tế {_lower_kind(d.name)}", "basic") for d in districts
        ]
        others = itertools.islice(
            _basic_names(rng, districts, communes), counts.basic - len(self.centres)
        )
        self.basic_others = [_Draft("numbered", n, "basic") for n in others]
        self.clinics = [
            _Draft("numbered", n, "primary")
            for n in itertools.islice(_clinic_names(rng, communes), counts.clinics)
        ]
        self.stations = self._stations(communes, counts.stations)
        self.all = [
            *self.central,
            *self.provincial,
            *self.centres,
            *self.basic_others,
            *self.clinics,
            *(s for district in self.stations for s in district.values()),
        ]

    def _stations(self, communes: _Communes, count: int) -> list[dict[str, _Draft]]:
        """Return each district's stations by unit: the listed units first, then more."""
        stations: list[dict[str, _Draft]] = [{} for _ in self.districts]
        taken: set[str] = set()

        def add(d: int, unit: str) -> None:
            name = f"Trạm Y tế {_lower_kind(unit)}"
            if name in taken:  # "Phường 1" of two districts
                name = f"{name} {self.districts[d].name}"
            taken.add(name)
            stations[d][unit] = _Draft("station", name, "primary")

        for d, district in enumerate(self.districts):
            for unit in district.units:
                add(d, unit)
        # More stations, round the districts: communes the place tables do not list (their
        # names are new to the province, so they need no check). A rural district has about
        # three times the communes of a town's wards (~1,700 wards of ~10,600 before 2025).
        turns = [
            d
            for d, district in enumerate(self.districts)
            for _ in range(RURAL_COMMUNES_PER_WARD if not district.urban else 1)
        ]
        start = self.rng.randrange(len(turns))
        for k in range(count - len(taken)):
            d = turns[(start + k) % len(turns)]
            kind, name = ("Phường", "phường") if self.districts[d].urban else ("Xã", "xã")
            commune = communes.next()
            draft = _Draft("station", f"Trạm Y tế {name} {commune}", "primary")
            stations[d][f"{kind} {commune}"] = draft
        return stations

    def place_tables(self, code_of: dict[int, str]) -> list[list[list[str]]]:
        """Return the 256-slot facility table of every unit of every district (REGISTERED_AT).

        The district's share (its centre, private facilities, the province's hospitals) fills
        the first half of the slots, the same for all its units; the unit's own station and
        its neighbours the second half.
        """
        rng, share = self.rng, REGISTERED_AT
        private = [*self.basic_others, *self.clinics]
        # The general hospital takes half the provincial share, and the central share where
        # the province has no central hospital.
        central = share["central"] if self.central else 0.0
        general, *others = self.provincial
        tables = []
        for d, stations in enumerate(self.stations):
            pairs = [(self.centres[d], share["district_centre"])]
            pairs += _spread(rng, private, share["private"], 6)
            pairs.append((general, share["provincial"] / 2 + share["central"] - central))
            pairs += _spread(rng, others, share["provincial"] / 2, 5)
            pairs += _spread(rng, self.central, central, 3)
            common = _slots([(code_of[id(f)], weight) for f, weight in pairs], SLOT_BITS - 1)
            per_unit = []
            for unit in self.districts[d].units:
                own = stations[unit]
                neighbours = [s for s in stations.values() if s is not own]
                pairs = [(own, share["own_station"])]
                pairs += _spread(rng, neighbours, share["district_station"], 8)
                mine = _slots([(code_of[id(f)], weight) for f, weight in pairs], SLOT_BITS - 1)
                per_unit.append(common + mine)
            tables.append(per_unit)
        return tables


def _spread(
    rng: random.Random, facilities: Sequence[_Draft], share: float, most: int
) -> list[tuple[_Draft, float]]:
    """Share `share` equally among up to `most` facilities drawn at random."""
    chosen = rng.sample(list(facilities), min(most, len(facilities)))
    return [(f, share / len(chosen)) for f in chosen]


def _slots(pairs: list[tuple[str, float]], bits: int) -> list[str]:
    """Spread weighted codes over 2**bits slots (as world.weighted_table does)."""
    total, slots = sum(w for _, w in pairs), 1 << bits
    table: list[str] = []
    cum = 0.0
    for value, weight in pairs:
        cum += weight
        table.extend([value] * (round(cum / total * slots) - len(table)))
    return table


def _lower_kind(unit: str) -> str:
    """Write a unit's kind in lower case inside a name: "Xã Tân Tiến" -> "xã Tân Tiến".

    A numbered ward keeps its capital ("Phường 1", "Quận 3"), as such names are written.
    """
    kind, _, rest = unit.partition(" ")
    for long_kind in ("Thành phố", "Thị xã", "Thị trấn"):
        if unit.startswith(long_kind + " "):
            kind, rest = long_kind, unit[len(long_kind) + 1 :]
    if rest[:1].isdigit():
        return unit
    return f"{kind[0].lower()}{kind[1:]} {rest}"


def _short(district: str) -> str:
    """Return a district's name without its kind: "Huyện Lục Nam" -> "Lục Nam"."""
    for kind in ("Thành phố", "Thị xã", "Quận", "Huyện"):
        if district.startswith(kind + " "):
            return district[len(kind) + 1 :]
    return district


def _provincial_names(
    province: Province, label: str, districts: list[District], communes: _Communes
) -> Iterator[str]:
    """Yield the names of a province's own hospitals, most usual first."""
    city = names.CITY_HOSPITALS.get(province.cccd)
    if city:
        yield from city
    else:
        yield from (f"Bệnh viện {s} {label}" for s in names.SPECIALTIES)
    for d in districts:
        if not _short(d.name)[:1].isdigit():
            yield f"Bệnh viện Đa khoa khu vực {_short(d.name)}"
    while True:
        yield f"Bệnh viện Đa khoa khu vực {communes.next()}"


def _basic_names(
    rng: random.Random, districts: list[District], communes: _Communes
) -> Iterator[str]:
    """Yield basic-level names after the district centres: district hospitals, then private
    hospitals and regional polyclinics."""
    for d in rng.sample(districts, (len(districts) + 1) // 2):
        yield f"Bệnh viện Đa khoa {_lower_kind(d.name)}"
    brands = rng.sample(names.BRANDS, len(names.BRANDS))
    for n in itertools.count():
        if n < len(brands) and rng.random() < 0.5:
            yield f"Bệnh viện Đa khoa {brands[n]}"
        else:
            yield f"Phòng khám Đa khoa khu vực {communes.next()}"


def _clinic_names(rng: random.Random, communes: _Communes) -> Iterator[str]:
    """Yield private clinics' names (primary level since the 2023 law on medical care)."""
    kinds = ("Phòng khám Đa khoa", "Phòng khám Bác sĩ gia đình", "Phòng khám Nội tổng hợp")
    combos = [f"{kind} {brand}" for kind in kinds for brand in names.BRANDS]
    yield from rng.sample(combos, len(combos))
    while True:
        yield f"Phòng khám Đa khoa {communes.next()}"


class _Communes:
    """Deal out commune names not used yet in one province: pairs of the region's common
    syllables (or highland ones, where minorities live), drawn at random; with an "A", "B"...
    once the pairs run short, as southern communes have them ("Vĩnh Lộc A")."""

    def __init__(self, rng: random.Random, province: Province, districts: list[District]) -> None:
        self.rng = rng
        region, style = region_of(province.cccd), province.minority
        self.common = (names.COMMUNE_FIRST[region], names.COMMUNE_SECOND[region])
        self.highland = None
        if style in names.HIGHLAND_FIRST:
            self.highland = (names.HIGHLAND_FIRST[style], names.HIGHLAND_SECOND[style])
        self.used = {unit.split(" ", 1)[1] for d in districts for unit in d.units}

    def next(self) -> str:
        """Return a commune name no facility of the province has used yet."""
        rnd = self.rng.random
        for tries in range(100_000):
            first, second = self.common
            if self.highland and rnd() < HIGHLAND_NAMES:
                first, second = self.highland
            a, b = first[int(rnd() * len(first))], second[int(rnd() * len(second))]
            name = f"{a} {b}" if tries < 200 else f"{a} {b} {'ABCDEFGH'[tries % 8]}"
            if a != b and name not in self.used:
                self.used.add(name)
                return name
        raise ValueError("synth: out of commune names")


# -- officers ----------------------------------------------------------------------------------
OFFICER_SHARE = {"central": 1.0, "provincial": 1.0, "basic": 0.6, "primary": 0.2}
OFFICERS_AT_MOST = {"central": 5, "provincial": 4, "basic": 3, "primary": 2}
OFFICER_BIRTH_YEARS = (1965, 2001)  # staff of working age whatever the as_of date
OFFICER_BORN_HERE = 0.85  # the rest were born (CCCD digits 1-3) in another province


def draw_officers(world: World, seed: int) -> dict[str, list[tuple[str, str]]]:
    """Draw the officers some facilities register (DOMAIN.md 4, 054/055): code -> (cccd, name).

    They are listed under the facility's current code, the one it logs in with (`01832_BV`).
    CCCDs follow DOMAIN.md 1 (birth province, century and sex, birth year) and come from a
    serial slice of their own, so no insured person holds one.
    """
    from lookup.synth.world import Serials  # world imports this module

    rng = random.Random(f"{seed}:officers")
    serials = Serials(world, 6, "officers")
    officers: dict[str, list[tuple[str, str]]] = {}
    first, last = OFFICER_BIRTH_YEARS
    for f in world.registry.facilities:
        if rng.random() >= OFFICER_SHARE[f.level]:
            continue
        staff = []
        for _ in range(rng.randint(1, OFFICERS_AT_MOST[f.level])):
            sex, year = rng.getrandbits(1), rng.randint(first, last)
            born = f.province
            if rng.random() >= OFFICER_BORN_HERE:
                born = world.province_table[rng.getrandbits(16)]
            key = world.code_int[born] * 1000 + (year // 100 - 19) * 200 + sex * 100 + year % 100
            (cccd,) = serials.codes([key], [f"{key:06d}"])
            surname = world.surnames[rng.getrandbits(16)]
            forename = world.forenames[sex * 2 + (year >= 1985)][rng.getrandbits(16)]
            staff.append((cccd, f"{surname} {forename}"))
        officers[f.code] = staff
    return officers


def registry_rows(world: World, seed: int) -> list[list[str]]:
    """Return the registry's rows (SPEC.md 1.4) in code order, one per officer where a
    facility has them; a re-coded facility's former code is listed without officers."""
    officers = draw_officers(world, seed)
    rows = []
    for f in world.registry.facilities:
        staff = officers.get(f.code) or [("", "")]
        rows += [[f.code, f.name, f.code[:2], f.level, *person] for person in staff]
        if f.old_code != f.code:
            rows.append([f.old_code, f.name, f.old_code[:2], f.level, "", ""])
    rows.sort(key=lambda row: row[0])  # stable: a facility's officers stay in drawn order
    return rows
