"""Write a synthetic national extract, population extract and delta (SPEC.md 2, `lookup synth`).

Real data is personal and never available, so tests, demos and benchmarks all stand on this
generator. `synthesize()` streams rows to disk in chunks; memory stays flat at any size except
for the handful of rows a delta modifies.

Reproducibility: everything is drawn from `random.Random` instances derived from the seed, one
per output (extract, invalid rows, population, delta) and shard of rows. The extract depends
only on the seed, `as_of`, `rows`, `invalid_rate` and `mismatch_rate` (the insured records it
spoils, lookup.synth.register): asking for a population file or a delta never changes it, nor
does the number of processes. Codes are unique by construction (keyed permutations of
per-prefix counters, see `world.Serials`): no set of issued codes is kept. The facility
registry (`--facilities`) is drawn from the seed alone, and the cards name its codes whether or
not it is written.

Modules: `tables` (names, groups, places, weights), `map2025` (the 34-province map),
`facilities` and `facility_names` (the facility registry), `world` (lookup lists, calendar,
serials), `people` (drawing people), `invalid` (broken rows), `register` (the population
register and the insured records' errors), `changes` (the delta), `output` (the files).
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lookup.clock import today_in_vietnam
from lookup.schema import DELTA_COLUMNS, POPULATION_COLUMNS, POPULATION_OPTIONAL
from lookup.synth.changes import DeltaPlan, keep_candidates
from lookup.synth.facilities import REGISTRY_COLUMNS, registry_rows
from lookup.synth.invalid import Breaker
from lookup.synth.output import JoinedFile, OutFile, part_name
from lookup.synth.people import FLAG_NAMES, Block, Person, PersonMaker
from lookup.synth.register import InsuredErrors, Register
from lookup.synth.world import (
    COLUMNS,
    FIVE_YEAR,
    MANAGED_BY,
    PREV_CARD,
    REGION,
    STATUS,
    Serials,
    World,
    calendar_for,
)

__all__ = (
    "COLUMNS",
    "DELTA_COLUMNS",
    "POPULATION_COLUMNS",
    "synthesize",
    "today_in_vietnam",
    "write_registry",
)

# Both are part of what a seed means: changing one changes the files.
BLOCK = 4096  # people drawn together, column by column
SHARD_ROWS = 262_144  # rows per shard, the unit of parallel work (at most MAX_SHARDS of them)


@lru_cache(maxsize=4)
def _world(seed: int) -> World:
    return World(seed)


def synthesize(
    out: str,
    rows: int,
    *,
    seed: int = 0,
    as_of: datetime.date | None = None,
    population: str | None = None,
    mismatch_rate: float = 0.0,
    delta: str | None = None,
    changes: int = 0,
    invalid_rate: float = 0.0,
    workers: int | None = None,
    facilities: str | None = None,
) -> dict[str, Any]:
    """Write a synthetic extract of `rows` people to `out`; optionally a population, a delta
    and the facility registry (SPEC.md 1.4) whose codes the cards carry.

    `as_of` (default today in Vietnam) is the day card windows are laid around. A `.gz` name
    writes gzip. Rows are drawn in shards of SHARD_ROWS, on up to `workers` processes (default:
    one per CPU); the files do not depend on `workers`. Returns a summary: counts by group,
    status, managed_by and the edge cases.
    """
    if rows < 0 or changes < 0:
        raise ValueError("synth: rows and changes must be 0 or more")
    for name, rate in (("mismatch_rate", mismatch_rate), ("invalid_rate", invalid_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"synth: {name} must be between 0 and 1, not {rate}")
    shard_rows = SHARD_ROWS
    if rows > shard_rows * Serials.MAX_SHARDS:
        raise ValueError(f"synth: at most {shard_rows * Serials.MAX_SHARDS:,} rows")
    started = time.perf_counter()
    as_of = as_of or today_in_vietnam()
    world, cal = _world(seed), calendar_for(as_of)
    plan = DeltaPlan(world, cal, seed, rows, changes) if delta else None
    shards = [
        _Shard(
            index=k,
            first=first,
            rows=min(shard_rows, rows - first),
            seed=seed,
            as_of=as_of,
            invalid_rate=invalid_rate,
            mismatch_rate=mismatch_rate,
            candidates=plan.candidates_between(first, first + shard_rows) if plan else [],
            extract_part=part_name(out, k),
            population_part=part_name(population, k) if population else None,
        )
        for k, first in enumerate(range(0, max(rows, 1), shard_rows))
    ]
    outputs: list[JoinedFile] = []
    totals = _Totals()
    try:
        outputs.append(JoinedFile(out, COLUMNS))
        if population:
            outputs.append(JoinedFile(population, POPULATION_COLUMNS + POPULATION_OPTIONAL))
        for result in _run(shards, workers):
            totals.add(result)
            for joined, part in zip(outputs, result["parts"], strict=False):
                joined.append(part)
        summary = {**totals.summary(rows), "out": out, "as_of": as_of.isoformat(), "seed": seed}
        if population:
            summary.update(population=outputs[1].rows, population_out=population)
        if plan and delta:
            delta_file = OutFile(delta, DELTA_COLUMNS)
            try:
                summary.update(plan.write(delta_file, totals.kept), delta_out=delta)
            except BaseException:
                delta_file.abort()
                raise
            delta_file.close()
        if facilities:
            summary.update(write_registry(facilities, seed), facilities_out=facilities)
        for joined in outputs:
            joined.close()
    except BaseException:
        for joined in outputs:
            joined.abort()
        for shard in shards:
            for part in (shard.extract_part, shard.population_part):
                if part and os.path.exists(part):
                    os.unlink(part)
        raise
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def write_registry(path: str, seed: int) -> dict[str, int]:
    """Write the facility registry of a seed; return its counts for the summary."""
    rows = registry_rows(_world(seed), seed)
    registry = OutFile(path, REGISTRY_COLUMNS)
    try:
        registry.write_rows(rows)
    except BaseException:
        registry.abort()
        raise
    registry.close()
    return {
        "facilities": len({row[0] for row in rows}),
        "facility_officers": sum(1 for row in rows if row[4]),
    }


@dataclass(frozen=True)
class _Shard:
    """One shard of rows: drawn from its own random streams and serial slices, so shards can
    run in any order or process and still give the same files."""

    index: int
    first: int  # row number (0-based) of the shard's first row
    rows: int
    seed: int
    as_of: datetime.date
    invalid_rate: float
    mismatch_rate: float
    candidates: list[int]  # rows the delta may change
    extract_part: str
    population_part: str | None


def _run(shards: list[_Shard], workers: int | None) -> Iterator[dict[str, Any]]:
    """Yield the shards' results in order, drawn here or in a pool of processes."""
    workers = min(workers or _cpus(), len(shards))
    if workers <= 1:
        yield from map(_draw_shard, shards)
        return
    # spawn: a forked child would inherit the parent's threads and locks half-held.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        try:
            yield from pool.map(_draw_shard, shards)
        except BaseException:
            # Let running shards finish (their parts are then deleted), start no more.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _cpus() -> int:
    """Return the CPUs this process may use (a container's share, where the OS says)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _draw_shard(shard: _Shard) -> dict[str, Any]:
    """Draw one shard into its part files; return its counts and the delta's candidates."""
    world, cal = _world(shard.seed), calendar_for(shard.as_of)

    def rng(stream: str) -> random.Random:
        return random.Random(f"{shard.seed}:{stream}:{shard.index}")

    maker = PersonMaker(world, cal, rng("extract"), "extract", shard.index)
    errors = InsuredErrors(rng("insured-errors"), maker, shard.mismatch_rate)
    breaker = Breaker(rng("invalid"), shard.invalid_rate, cal)
    stats = _Stats()
    kept: dict[int, Person] = {}
    files = [OutFile(shard.extract_part)]
    register = None
    if shard.population_part:
        files.append(OutFile(shard.population_part))
        pop_maker = PersonMaker(world, cal, rng("population"), "population", shard.index)
        register = Register(pop_maker, rng("register"), shard.as_of)
    try:
        end = shard.first + shard.rows
        for start in range(shard.first, end, BLOCK):
            block = maker.block(min(BLOCK, end - start))
            truth = errors.apply(block)
            stats.add(block)
            lines = block.lines()
            if register is not None:
                register.add(block, truth, files[1])
            if shard.candidates:
                kept.update(keep_candidates(shard.candidates, start, block))
            if breaker.rate:
                breaker.apply(start, block, lines)
            files[0].write_lines(lines)
        for f in files:
            f.close()
    except BaseException:
        for f in files:
            f.abort()
        raise
    rejected = breaker.broken | breaker.dup_sources
    return {
        "parts": [(f.path, f.rows) for f in files],
        "stats": stats,
        "invalid": breaker.summary(),
        "insured_errors": dict(errors.kinds),
        "population": register.summary() if register else {},
        "kept": {i: p for i, p in kept.items() if i not in rejected},
    }


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
        self.new_map = 0

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
        self.new_map += block.new_map

    def merge(self, other: _Stats) -> None:
        """Add another shard's counts."""
        self.groups.update(other.groups)
        self.statuses.update(other.statuses)
        self.managed.update(other.managed)
        self.regions.update(other.regions)
        self.flags.update(other.flags)
        self.replaced += other.replaced
        self.five_year += other.five_year
        self.new_map += other.new_map

    def summary(self, rows: int) -> dict[str, Any]:
        """Return the counts as the summary's fields."""
        flags = {
            name: sum(n for bits, n in self.flags.items() if bits & bit)
            for bit, name in FLAG_NAMES.items()
        }
        self.regions.pop("", None)
        return {
            "rows": rows,
            "groups": dict(self.groups.most_common()),
            "statuses": dict(self.statuses.most_common()),
            "managed_by": dict(self.managed.most_common()),
            "region_codes": dict(sorted(self.regions.items())),
            "replaced": self.replaced,
            "five_year": self.five_year,
            "new_map_cards": self.new_map,  # issued since 2025-07-01 (lookup.synth.map2025)
            "year_only_dob": flags["year_only"],
            "year_month_dob": flags["year_month"],
            "expired": flags["expired"],
            "not_yet_valid": flags["not_yet_valid"],
            "cccd_mismatch": flags["cccd_mismatch"],
            "odd_names": flags["odd_name"],
        }


class _Totals:
    """Add up the shards' results."""

    def __init__(self) -> None:
        self.stats = _Stats()
        self.counts: Counter[str] = Counter()
        self.invalid_kinds: Counter[str] = Counter()
        self.error_kinds: Counter[str] = Counter()
        self.population: Counter[str] | None = None
        self.kept: dict[int, Person] = {}

    def add(self, result: dict[str, Any]) -> None:
        """Add one shard's result."""
        self.stats.merge(result["stats"])
        invalid, pop = result["invalid"], result["population"]
        self.counts.update(invalid=invalid["invalid"], rejects=invalid["rejects_expected"])
        self.invalid_kinds.update(invalid["invalid_kinds"])
        self.error_kinds.update(result["insured_errors"])
        if pop:
            self.population = (self.population or Counter()) + Counter(pop)
        self.kept.update(result["kept"])

    def summary(self, rows: int) -> dict[str, Any]:
        """Return the summary's counts."""
        summary = self.stats.summary(rows)
        summary.update(
            invalid=self.counts["invalid"],
            invalid_kinds=dict(sorted(self.invalid_kinds.items())),
            # A shared code rejects the earlier row too (DESIGN.md 5, across rows).
            rejects_expected=self.counts["rejects"],
        )
        # The insured records spoiled on purpose (lookup.synth.register), by kind.
        summary.update(
            insured_errors=sum(self.error_kinds.values()),
            insured_error_kinds=dict(sorted(self.error_kinds.items())),
        )
        if self.population is not None:
            summary.update(sorted(self.population.items()))
        return summary
