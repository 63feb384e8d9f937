"""Write a synthetic national extract, population extract and delta (SPEC.md 2, `lookup synth`).

Real data is personal and never available, so tests, demos and benchmarks all stand on this
generator. `synthesize()` streams rows to disk in chunks; memory stays flat at any size except
for the handful of rows a delta modifies.

Reproducibility: everything is drawn from `random.Random` instances derived from the seed, one
per output (extract, invalid rows, population, delta). The extract depends only on the seed,
`as_of`, `rows` and `invalid_rate`: asking for a population file or a delta never changes it.
Codes are unique by construction (keyed permutations of per-prefix counters, see
`synth_people.Serials`), so no set of issued codes is kept.
"""

from __future__ import annotations

import bisect
import csv
import datetime
import gzip
import io
import os
import random
import time
import unicodedata
from collections import Counter
from functools import lru_cache

from lookup import synth_data as data
from lookup.synth_people import (
    ADDRESS, BHXH, CARD, CCCD, COLUMNS, DOB, F_ODD_NAME, FACILITY, FIVE_YEAR, FLAG_NAMES, GENDER,
    ISSUER, MANAGED, MANAGED_BY, MINISTRY_ISSUER, NAME, PREV_CARD, PREV_VALID_TO, REGION, STATUS,
    VALID_FROM, VALID_TO, Block, Calendar, Person, PersonMaker, World, calendar_for, draw_u32,
    quote,
)  # fmt: skip

__all__ = ("synthesize", "today_in_vietnam", "COLUMNS", "DELTA_COLUMNS", "POPULATION_COLUMNS")

DELTA_COLUMNS = ("op",) + COLUMNS  # SPEC.md 1.2: op first
POPULATION_COLUMNS = ("cccd", "full_name", "dob", "gender")  # SPEC.md 1.3
VIETNAM = datetime.timezone(datetime.timedelta(hours=7))  # no daylight saving
BLOCK = 4096  # people drawn together; part of what a seed means: changing it changes files
UNINSURED = 0.07  # DOMAIN.md 6: ~93% of the population is insured

# Delta mix (per 100 changes): most changes touch people already insured.
DELTA_EXISTING = {"renewed": 30, "facility": 12, "reduced": 10, "revoked": 3, "name": 6,
                  "new_card": 6, "delete": 12}  # fmt: skip
DELTA_NEW = {"newborn": 13, "new_worker": 8}
NEXT_GROUP = {"HS": "SV", "SV": "DN", "GD": "DN", "DN": "GD", "HC": "DN", "CH": "DN", "HN": "CN",
              "CN": "GD", "DT": "GD", "BT": "GD", "NN": "DN", "XK": "DN"}  # fmt: skip

# Population differences (SPEC.md 4) and their weights among mismatched records.
MISMATCH_KINDS = {"name_diacritics": 25, "name_typo": 15, "name_swap": 10, "dob_changed": 20,
                  "gender": 20}  # fmt: skip


def today_in_vietnam() -> datetime.date:
    """Return today's date in Vietnam (UTC+7), whatever the server's zone (DOMAIN.md 3)."""
    return datetime.datetime.now(VIETNAM).date()


@lru_cache(maxsize=4)
def _world(seed: int) -> World:
    return World(seed)


def synthesize(out: str, rows: int, *, seed: int = 0, as_of: datetime.date | None = None,
               population: str | None = None, mismatch_rate: float = 0.0,
               delta: str | None = None, changes: int = 0,
               invalid_rate: float = 0.0) -> dict:  # fmt: skip
    """Write a synthetic extract of `rows` people to `out`; optionally a population and delta.

    `as_of` (default today in Vietnam) is the day card windows are laid around. A `.gz` name
    writes gzip. Returns a summary: counts by group, status, managed_by and the edge cases.
    """
    if rows < 0 or changes < 0:
        raise ValueError("synth: rows and changes must be 0 or more")
    for name, rate in (("mismatch_rate", mismatch_rate), ("invalid_rate", invalid_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"synth: {name} must be between 0 and 1, not {rate}")
    started = time.perf_counter()
    as_of = as_of or today_in_vietnam()
    world, cal = _world(seed), calendar_for(as_of)
    maker = PersonMaker(world, cal, random.Random(f"{seed}:extract"), "extract")
    breaker = _Breaker(random.Random(f"{seed}:invalid"), invalid_rate, cal)
    plan = _DeltaPlan(world, cal, seed, rows, changes) if delta else None
    pop = None
    if population:
        pop_maker = PersonMaker(world, cal, random.Random(f"{seed}:population"), "population")
        pop = _Population(pop_maker, mismatch_rate)
    stats = _Stats()
    extract = _CsvFile(out, COLUMNS)
    files = [extract]
    try:
        pop_file = _CsvFile(population, POPULATION_COLUMNS) if pop and population else None
        if pop_file:
            files.append(pop_file)
        _generate(rows, maker, stats, breaker, plan, pop, extract, pop_file)
        summary = stats.summary(rows)
        summary.update(out=out, as_of=as_of.isoformat(), seed=seed, **breaker.summary())
        if pop and pop_file:
            summary.update(population=pop_file.rows, population_out=population,
                           **pop.summary())  # fmt: skip
        if plan and delta:
            delta_file = _CsvFile(delta, DELTA_COLUMNS)
            files.append(delta_file)
            summary.update(plan.write(delta_file, breaker.broken | breaker.dup_sources))
            summary["delta_out"] = delta
        for f in files:
            f.close()
    except BaseException:
        for f in files:
            f.abort()
        raise
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def _generate(rows, maker, stats, breaker, plan, pop, extract, pop_file) -> None:
    """Stream `rows` people into the extract (and population) file, a block at a time."""
    for start in range(0, rows, BLOCK):
        block = maker.block(min(BLOCK, rows - start))
        stats.add(block)
        lines = block.lines()
        if pop is not None:
            pop.add(block, pop_file)
        if plan is not None:
            plan.keep(start, block)
        if breaker.rate:
            breaker.apply(start, block, lines)
        extract.write_lines(lines)


class _CsvFile:
    """One output CSV: written to a temporary name, renamed into place when complete."""

    def __init__(self, path: str, header: tuple[str, ...]) -> None:
        self.path = path
        self.tmp = f"{path}.tmp{os.getpid()}"
        self.raw = open(self.tmp, "wb")
        binary = self.raw
        self.gz = None
        if path.endswith(".gz"):
            # mtime=0 and no file name in the header: the same rows give the same bytes.
            self.gz = binary = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw,
                                             compresslevel=6, mtime=0)  # fmt: skip
        # surrogateescape lets deliberately broken rows carry bytes that are not UTF-8.
        self.text = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape",
                                     newline="")  # fmt: skip
        csv.writer(self.text, lineterminator="\n").writerow(header)
        self.rows = 0

    def write_lines(self, lines: list[str]) -> None:
        """Write CSV lines (without line ends).

        Lines are joined from CSV-encoded fields (synth_people.quote), the same bytes the csv
        module writes at a fraction of its cost (it reads each character twice)."""
        if lines:
            self.text.write("\n".join(lines))
            self.text.write("\n")
            self.rows += len(lines)

    def write_rows(self, rows: list[list[str]]) -> None:
        """Write rows of plain values."""
        self.write_lines([",".join(map(quote, row)) for row in rows])

    def close(self) -> None:
        """Finish the file and move it into place."""
        self.text.close()  # closes the gzip stream too, which leaves self.raw open
        self.raw.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Drop a file that will not be finished."""
        for stream in (self.text, self.raw):
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - already failing; the first error is the one
                pass
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


class _Stats:
    """Count what was generated, for the summary (people as generated, before breaking)."""

    def __init__(self) -> None:
        self.groups: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.managed: Counter[str] = Counter()
        self.regions: Counter[str] = Counter()
        self.flags: Counter[int] = Counter()
        self.replaced = 0
        self.five_year = 0

    def add(self, block: Block) -> None:
        """Count one block."""
        columns = block.columns
        self.groups.update(block.group)
        self.statuses.update(columns[STATUS])
        self.managed.update(columns[MANAGED_BY])
        self.regions.update(columns[REGION])
        self.flags.update(block.flags)
        self.replaced += block.n - columns[PREV_CARD].count("")
        self.five_year += block.n - columns[FIVE_YEAR].count("")

    def summary(self, rows: int) -> dict:
        """Return the counts as the summary's fields."""
        flags = {name: sum(n for bits, n in self.flags.items() if bits & bit)
                 for bit, name in FLAG_NAMES.items()}  # fmt: skip
        self.regions.pop("", None)
        return {
            "rows": rows,
            "groups": dict(self.groups.most_common()),
            "statuses": dict(self.statuses.most_common()),
            "managed_by": dict(self.managed.most_common()),
            "region_codes": dict(sorted(self.regions.items())),
            "replaced": self.replaced,
            "five_year": self.five_year,
            "year_only_dob": flags["year_only"],
            "year_month_dob": flags["year_month"],
            "expired": flags["expired"],
            "not_yet_valid": flags["not_yet_valid"],
            "cccd_mismatch": flags["cccd_mismatch"],
            "odd_names": flags["odd_name"],
        }


# -- deliberately invalid rows (DESIGN.md 5) -------------------------------------------------
class _Breaker:
    """Break one DESIGN.md 5 rule in a share of rows, so builds meet realistic rejects."""

    KINDS = (
        "extra_field", "bad_utf8", "cccd_missing", "cccd_length", "cccd_not_digits",
        "bhxh_length", "card_pattern", "card_tail", "name_missing", "name_too_long",
        "name_control", "dob_format", "dob_not_real", "gender", "address_too_long",
        "facility", "valid_from_format", "valid_to_before", "five_year_not_real", "region",
        "status", "managed_by", "prev_same", "prev_valid_to_alone", "issuer_control",
        "dup_cccd", "dup_bhxh",
    )  # fmt: skip

    def __init__(self, rng: random.Random, rate: float, cal: Calendar) -> None:
        self.rng, self.rate, self.cal = rng, rate, cal
        self.kinds: dict[str, int] = {}
        self.broken: set[int] = set()
        self.dup_sources: set[int] = set()  # clean rows another row shares a code with
        # The latest clean row before the one being broken: (index, cccd, bhxh_code).
        self.source: tuple[int, str, str] | None = None
        self.last_clean: tuple[int, str, str] | None = None  # of the blocks before
        self.line = io.StringIO()
        self.writer = csv.writer(self.line, lineterminator="\n")

    def apply(self, start: int, block: Block, lines: list[str]) -> None:
        """Break each row of a block (first row `start`) with probability `rate`, in `lines`."""
        rng, n = self.rng, block.n
        threshold = int(self.rate * 2**32)
        chosen = [i for i, u in enumerate(draw_u32(rng, n)) if u < threshold]
        broken = set(chosen)
        cccds, bhxhs = block.columns[CCCD], block.columns[BHXH]

        def clean_before(i: int) -> tuple[int, str, str] | None:
            while i >= 0 and i in broken:
                i -= 1
            return (start + i, cccds[i], bhxhs[i]) if i >= 0 else self.last_clean

        for i in chosen:
            self.source = clean_before(i - 1)
            raw = block.row(i)
            kind = rng.choice(self.KINDS)
            while not getattr(self, f"_{kind}")(raw):
                kind = rng.choice(self.KINDS)
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            self.broken.add(start + i)
            # Anything may be in a broken row now: let the csv module encode it.
            self.line.seek(0)
            self.line.truncate()
            self.writer.writerow(raw)
            lines[i] = self.line.getvalue()[:-1]
        self.last_clean = clean_before(n - 1)

    def summary(self) -> dict:
        """Return the invalid-row counts for the summary."""
        return {
            "invalid": len(self.broken),
            "invalid_kinds": dict(sorted(self.kinds.items())),
            # A shared code rejects the earlier row too (DESIGN.md 5, across rows).
            "rejects_expected": len(self.broken) + len(self.dup_sources),
        }

    def _date(self, text: str) -> int:
        return datetime.date.fromisoformat(text).toordinal()

    # Each returns False when it cannot apply to this row (another kind is drawn).
    def _extra_field(self, row):
        row.append("")  # an unquoted comma in the source system: 18 fields, 17 in the header
        return True

    def _bad_utf8(self, row):
        # A Latin-1 byte (0xE1, "á") where UTF-8 was expected; written as that raw byte.
        k = self.rng.randrange(len(row[NAME]))
        row[NAME] = row[NAME][:k] + "\udce1" + row[NAME][k + 1 :]
        return True

    def _cccd_missing(self, row):
        row[CCCD] = ""
        return True

    def _cccd_length(self, row):
        row[CCCD] = row[CCCD][1:] if self.rng.random() < 0.5 else row[CCCD] + "7"
        return True

    def _cccd_not_digits(self, row):
        # A letter O for a zero, or an Arabic-Indic digit pasted from another system.
        bad = "O" if self.rng.random() < 0.5 else "\u0663"
        row[CCCD] = row[CCCD][:5] + bad + row[CCCD][6:]
        return True

    def _bhxh_length(self, row):
        row[BHXH] = row[BHXH][:9]
        return True

    def _card_pattern(self, row):
        card = row[CARD]
        row[CARD] = card[:2].lower() + card[2:] if self.rng.random() < 0.5 else (
            card[:2] + "6" + card[3:])  # fmt: skip
        return True

    def _card_tail(self, row):
        card = row[CARD]
        row[CARD] = card[:-1] + str((int(card[-1]) + 1) % 10)
        return True

    def _name_missing(self, row):
        row[NAME] = "" if self.rng.random() < 0.5 else "   "
        return True

    def _name_too_long(self, row):
        name = row[NAME]
        while len(name) <= 100:
            name = f"{name} {row[NAME]}"
        row[NAME] = name
        return True

    def _name_control(self, row):
        row[NAME] = row[NAME].replace(" ", " \x08", 1)
        return " " in row[NAME]

    def _dob_format(self, row):
        dob = row[DOB]
        if len(dob) != 10:
            return False
        row[DOB] = f"{dob[8:10]}/{dob[5:7]}/{dob[:4]}"  # dd/mm/yyyy, as the gateway writes it
        return True

    def _dob_not_real(self, row):
        row[DOB] = row[DOB][:4] + ("-02-30" if self.rng.random() < 0.5 else "-13-01")
        return True

    def _gender(self, row):
        row[GENDER] = self.rng.choice(("0", "M", "Nam", "nữ"))
        return True

    def _address_too_long(self, row):
        if not row[ADDRESS]:
            return False
        while len(row[ADDRESS]) <= 200:
            row[ADDRESS] = f"{row[ADDRESS]}, {row[ADDRESS]}"
        return True

    def _facility(self, row):
        fac = row[FACILITY]
        row[FACILITY] = fac.lower() if not fac.isdigit() else fac[:4]
        return True

    def _valid_from_format(self, row):
        d = row[VALID_FROM]
        row[VALID_FROM] = f"{d[8:10]}/{d[5:7]}/{d[:4]}"
        return True

    def _valid_to_before(self, row):
        vf = self._date(row[VALID_FROM])
        row[VALID_TO] = self.cal.iso[vf - 1 - self.rng.randrange(300) - Calendar.FIRST]
        return True

    def _five_year_not_real(self, row):
        row[FIVE_YEAR] = "2023-02-29"
        return True

    def _region(self, row):
        row[REGION] = self.rng.choice(("K4", "k1", "KV1"))
        return True

    def _status(self, row):
        row[STATUS] = self.rng.choice(("suspended", "ACTIVE", "đang hoạt động"))
        return True

    def _managed_by(self, row):
        row[MANAGED_BY] = self.rng.choice(("army", "BQP", "ministry"))
        return True

    def _prev_same(self, row):
        row[PREV_CARD] = row[CARD]
        row[PREV_VALID_TO] = row[PREV_VALID_TO] or row[VALID_FROM]
        return True

    def _prev_valid_to_alone(self, row):
        row[PREV_CARD] = ""
        row[PREV_VALID_TO] = row[VALID_FROM]
        return True

    def _issuer_control(self, row):
        row[ISSUER] = row[ISSUER] + "\x7f"
        return True

    def _dup_cccd(self, row):
        if self.source is None:
            return False
        i, cccd, _ = self.source
        row[CCCD] = cccd
        self.dup_sources.add(i)
        return True

    def _dup_bhxh(self, row):
        if self.source is None:
            return False
        i, _, bhxh = self.source
        row[BHXH] = bhxh
        row[CARD] = row[CARD][:5] + bhxh  # still a well-formed card of this row
        if row[PREV_CARD]:
            row[PREV_CARD] = row[PREV_CARD][:5] + bhxh
        self.dup_sources.add(i)
        return True


# -- population extract (SPEC.md 1.3) --------------------------------------------------------
def strip_tone_marks(text: str) -> str:
    """Drop Vietnamese diacritics: "Nguyễn Đức" -> "Nguyen Duc"."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D")


def clean_name(name: str) -> str:
    """Normalise a name as DESIGN.md 5 does: NFC, whitespace runs to one space."""
    return " ".join(unicodedata.normalize("NFC", name).split())


class _Population:
    """Write the population record of every generated person, some deliberately different."""

    def __init__(self, maker: PersonMaker, mismatch_rate: float) -> None:
        self.maker, self.rng, self.rate = maker, maker.rng, mismatch_rate
        self.kinds: dict[str, int] = {}
        self.uninsured = 0
        self.mismatched = 0
        self.uninsured_odds = UNINSURED / (1 - UNINSURED)

    def add(self, block: Block, out: _CsvFile) -> None:
        """Write the records of a block's people, and now and then someone not insured."""
        maker, columns = self.maker, block.columns
        records = [list(r) for r in zip(columns[CCCD], columns[NAME], columns[DOB],
                                        columns[GENDER])]  # fmt: skip
        for i, flags in enumerate(block.flags):
            if flags & F_ODD_NAME:
                records[i][1] = clean_name(records[i][1])  # the register holds clean text
        if self.rate:
            for i in maker.where(block.n, self.rate):
                kind = self._differ(records[i], block.person(i))
                records[i][1] = quote(records[i][1])
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
                self.mismatched += 1
        # DOMAIN.md 6: ~7% of people are not insured; they sit between the insured.
        places = maker.where(block.n, self.uninsured_odds)
        if places:
            others = maker.block(len(places))
            oc = others.columns
            names = [clean_name(name) for name in oc[NAME]]
            uninsured = list(zip(oc[CCCD], names, oc[DOB], oc[GENDER]))
            for k, i in enumerate(reversed(places)):
                records.insert(i, list(uninsured[len(places) - 1 - k]))
            self.uninsured += len(places)
        out.write_lines(list(map(",".join, records)))

    def summary(self) -> dict:
        """Return the population counts for the summary."""
        return {"population_not_insured": self.uninsured,
                "population_mismatched": self.mismatched,
                "population_mismatch_kinds": dict(sorted(self.kinds.items()))}  # fmt: skip

    def _differ(self, record: list[str], person: Person) -> str:
        """Make the record differ from the extract in one controlled way; return the kind."""
        rng = self.rng
        if len(record[2]) < 10 and rng.random() < 0.5:
            record[2] = self._full_date(record[2])
            return "dob_full"
        kinds = list(MISMATCH_KINDS)
        while True:
            kind = rng.choices(kinds, weights=list(MISMATCH_KINDS.values()))[0]
            changed = getattr(self, f"_{kind}")(record, person)
            if changed is not None:
                record[:] = changed
                return kind

    def _full_date(self, dob: str) -> str:
        """Give a full date inside a partial one ("1948" -> "1948-06-17")."""
        year = int(dob[:4])
        first = datetime.date(year, int(dob[5:7]) if len(dob) > 4 else 1, 1).toordinal()
        last = datetime.date(year, 12, 31) if len(dob) == 4 else (
            datetime.date(year + (dob[5:7] == "12"), int(dob[5:7]) % 12 + 1, 1)
            - datetime.timedelta(days=1))  # fmt: skip
        return datetime.date.fromordinal(self.rng.randint(first, last.toordinal())).isoformat()

    def _name_diacritics(self, record, person):
        bare = strip_tone_marks(record[1])
        return None if bare == record[1] else [record[0], bare, record[2], record[3]]

    def _name_typo(self, record, person):
        rng, name = self.rng, record[1]
        for _ in range(10):
            k = rng.randrange(1, len(name))
            op = rng.randrange(3)
            if op == 0:
                typo = name[:k] + name[k + 1 :]  # a letter dropped
            elif op == 1:
                typo = name[:k] + name[k] + name[k:]  # a letter doubled
            else:
                typo = name[: k - 1] + name[k] + name[k - 1] + name[k + 1 :]  # two swapped
            # A real typo: the letters differ, not only the tone marks or the spacing.
            if strip_tone_marks(clean_name(typo)).casefold() != strip_tone_marks(
                    name).casefold():  # fmt: skip
                return [record[0], typo, record[2], record[3]]
        return None

    def _name_swap(self, record, person):
        surname, middle, given = person.name_parts
        if not surname:
            return None  # minority pattern: no separate given name
        givens = self.maker.w.given_lists[person.sex]
        other = self.rng.choice(givens)
        if other == given:
            return None
        name = " ".join(part for part in (surname, middle, other) if part)
        return [record[0], name, record[2], record[3]]

    def _dob_changed(self, record, person):
        rng, dob = self.rng, record[2]
        if len(dob) == 4:
            new = str(int(dob) + rng.choice((-1, 1)))
        elif len(dob) == 7:
            new = f"{dob[:5]}{(int(dob[5:7]) + rng.randrange(1, 12) - 1) % 12 + 1:02d}"
        elif int(dob[8:]) <= 12 and dob[5:7] != dob[8:]:
            new = f"{dob[:5]}{dob[8:]}-{dob[5:7]}"  # day and month swapped
        else:
            d = datetime.date.fromisoformat(dob) + datetime.timedelta(
                days=rng.choice((-1, 1)) * rng.randint(1, 40))  # fmt: skip
            new = d.isoformat()
        return [record[0], record[1], new, record[3]]

    def _gender(self, record, person):
        g = record[3]
        new = {"1": "2", "2": "1", "3": "1"}[g] if self.rng.random() < 0.9 or g == "3" else "3"
        return [record[0], record[1], record[2], new]


# -- delta (SPEC.md 1.2) ---------------------------------------------------------------------
class _DeltaPlan:
    """Pick the people a delta changes before the extract is drawn; write it afterwards."""

    def __init__(self, world: World, cal: Calendar, seed: int, rows: int, changes: int) -> None:
        self.w, self.cal = world, cal
        self.rng = random.Random(f"{seed}:delta")
        self.changes = changes
        total = sum(DELTA_EXISTING.values()) + sum(DELTA_NEW.values())
        self.n_existing = min(rows, round(changes * sum(DELTA_EXISTING.values()) / total))
        # A few spare candidates stand in for rows that end up deliberately invalid.
        spare = min(rows, self.n_existing + self.n_existing // 10 + 16)
        self.order = self.rng.sample(range(rows), spare)
        self.candidates = sorted(self.order)
        self.kept: dict[int, Person] = {}

    def keep(self, start: int, block: Block) -> None:
        """Remember the candidates among a block's people (first one `start`), as generated."""
        lo = bisect.bisect_left(self.candidates, start)
        hi = bisect.bisect_left(self.candidates, start + block.n)
        for i in self.candidates[lo:hi]:
            self.kept[i] = block.person(i - start)

    def write(self, out: _CsvFile, rejected: set[int]) -> dict:
        """Write the delta: changes to kept people, deletions, then newcomers.

        `rejected` are the extract rows a build rejects (broken rows and the clean rows they
        share a code with): the delta leaves those people alone.
        """
        rng = self.rng
        targets = [self.kept[i] for i in self.order if i in self.kept and i not in rejected]
        targets = targets[: self.n_existing]
        kinds_existing = list(DELTA_EXISTING)
        weights = list(DELTA_EXISTING.values())
        rows, kinds = [], {}
        for person in targets:
            kind = rng.choices(kinds_existing, weights=weights)[0]
            kind, row = self._change(kind, person)
            rows.append(row)
            kinds[kind] = kinds.get(kind, 0) + 1
        maker = PersonMaker(self.w, self.cal, rng, "delta")
        for _ in range(self.changes - len(rows)):
            kind = rng.choices(list(DELTA_NEW), weights=list(DELTA_NEW.values()))[0]
            rows.append(["upsert", *self._newcomer(kind, maker)])
            kinds[kind] = kinds.get(kind, 0) + 1
        rng.shuffle(rows)
        out.write_rows(rows)
        deletes = sum(1 for r in rows if r[0] == "delete")
        return {"delta": len(rows), "delta_ops": {"upsert": len(rows) - deletes,
                                                  "delete": deletes},
                "delta_kinds": dict(sorted(kinds.items()))}  # fmt: skip

    def _change(self, kind: str, person: Person) -> tuple[str, list[str]]:
        """Apply one kind of change to a copy of the person's row; return (kind, delta row)."""
        row, cal, rng = list(person.row), self.cal, self.rng
        iso, first, today = cal.iso, Calendar.FIRST, cal.today
        if kind == "delete":
            return kind, ["delete", row[CCCD]] + [""] * (len(COLUMNS) - 1)
        if kind in ("renewed", "new_card") and person.group == "TE":
            kind = "facility"  # a child's card runs to the TE limit: nothing to renew
        if kind == "renewed":
            vt = datetime.date.fromisoformat(row[VALID_TO]).toordinal()
            if vt < today:  # lapsed: a new twelve months from about now
                vf = today - rng.randrange(15)
                row[VALID_FROM], row[VALID_TO] = iso[vf - first], iso[vf + 364 - first]
            else:
                row[VALID_TO] = iso[vt + 365 - first]
            row[STATUS] = "active"
        elif kind == "facility":
            pool = self.w.facilities[self.w.by_code2.get(row[FACILITY][:2], person.province)]
            row[FACILITY] = rng.choice([f for f in pool if f != row[FACILITY]])
        elif kind == "reduced":
            row[STATUS] = rng.choice(data.REDUCED_STATUSES)
        elif kind == "revoked":
            row[STATUS] = "revoked"
        elif kind == "name":
            row[NAME] = self._corrected_name(person)
        elif kind == "new_card":
            self._new_card(row, person)
        return kind, ["upsert", *row]

    def _corrected_name(self, person: Person) -> str:
        """Return the name as corrected by the population register (a different given name)."""
        surname, middle, given = person.name_parts
        if not surname:
            return clean_name(person.row[NAME]) + " " + self.rng.choice(("A", "B"))
        others = [g for g in self.w.given_lists[person.sex] if g != given]
        return " ".join(p for p in (surname, middle, self.rng.choice(others)) if p)

    def _new_card(self, row: list[str], person: Person) -> None:
        """Move the person to a new group's card; the old card becomes prev_card_no."""
        cal, today = self.cal, self.cal.today
        age = (today - person.dob_ord) // 365
        group = "HT" if age >= 60 and person.group in ("DN", "HC", "CH") else NEXT_GROUP.get(
            person.group, "GD" if person.group != "GD" else "DN")  # fmt: skip
        level = data.GROUP_LEVEL[group]
        if group == "CN" and today >= datetime.date(2026, 1, 1).toordinal():
            level = 2
        old = row[CARD]
        row[CARD] = f"{group}{level}{old[3:5]}{row[BHXH]}"
        row[PREV_CARD], row[PREV_VALID_TO] = old, cal.iso[today - 1 - Calendar.FIRST]
        row[VALID_FROM], row[VALID_TO] = (cal.iso[today - Calendar.FIRST],
                                          cal.iso[today + 364 - Calendar.FIRST])  # fmt: skip
        row[STATUS] = "active"
        row[MANAGED_BY] = MANAGED.get(group, "vss")
        if row[MANAGED_BY] != "vss":
            row[ISSUER] = MINISTRY_ISSUER[row[MANAGED_BY]]
        elif row[ISSUER] in MINISTRY_ISSUER.values():
            row[ISSUER] = self.w.province_issuer[person.province]

    def _newcomer(self, kind: str, maker: PersonMaker) -> list[str]:
        """Draw someone not in the extract: a newborn with a TE card or a new worker."""
        rng, cal = self.rng, self.cal
        if kind == "newborn":
            row = maker.make(dob_ord=cal.today - rng.randrange(45), group="TE").row
        else:
            row = maker.make(age=rng.randint(18, 35), group="DN").row
            vf = cal.today - rng.randrange(15)
            row[VALID_FROM] = cal.iso[vf - Calendar.FIRST]
            row[VALID_TO] = cal.iso[vf + 364 - Calendar.FIRST]
        row[STATUS] = "active"
        row[FIVE_YEAR] = row[PREV_CARD] = row[PREV_VALID_TO] = ""
        return row
