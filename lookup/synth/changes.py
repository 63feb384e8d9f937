"""The delta of `lookup synth` (SPEC.md 1.2), and the name helpers the register shares.

It is drawn from the same people as the extract, with its own random stream, so asking for it
never changes the extract.
"""

from __future__ import annotations

import bisect
import datetime
import random
import unicodedata
from typing import Any

from lookup.synth import tables as data
from lookup.synth.map2025 import MAP_2025
from lookup.synth.output import OutFile
from lookup.synth.people import MANAGED, MINISTRY_ISSUER, Block, Person, PersonMaker
from lookup.synth.world import (
    ADDRESS,
    BHXH,
    CARD,
    CCCD,
    COLUMNS,
    FACILITY,
    FIVE_YEAR,
    ISSUER,
    MANAGED_BY,
    NAME,
    PREV_CARD,
    PREV_VALID_TO,
    STATUS,
    VALID_FROM,
    VALID_TO,
    Calendar,
    World,
)

__all__ = ("DeltaPlan", "clean_name", "keep_candidates", "strip_tone_marks")

# Delta mix (per 100 changes): most changes touch people already insured.
DELTA_EXISTING = {
    "renewed": 30,
    "facility": 12,
    "reduced": 10,
    "revoked": 3,
    "name": 6,
    "new_card": 6,
    "delete": 12,
}
DELTA_NEW = {"newborn": 13, "new_worker": 8}
NEW_MAP_FROM = MAP_2025.isoformat()  # a card issued since is written on the 2025 map
NEXT_GROUP = {
    "HS": "SV",
    "SV": "DN",
    "GD": "DN",
    "DN": "GD",
    "HC": "DN",
    "CH": "DN",
    "HN": "CN",
    "CN": "GD",
    "DT": "GD",
    "BT": "GD",
    "NN": "DN",
    "XK": "DN",
}


def strip_tone_marks(text: str) -> str:
    """Drop Vietnamese diacritics: "Nguyễn Đức" -> "Nguyen Duc"."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D")


def clean_name(name: str) -> str:
    """Normalise a name as DESIGN.md 5 does: NFC, whitespace runs to one space."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def keep_candidates(candidates: list[int], start: int, block: Block) -> dict[int, Person]:
    """Return the candidates among a block's people (the first is row `start`), as generated."""
    lo = bisect.bisect_left(candidates, start)
    hi = bisect.bisect_left(candidates, start + block.n)
    return {i: block.person(i - start) for i in candidates[lo:hi]}


class DeltaPlan:
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

    def candidates_between(self, first: int, end: int) -> list[int]:
        """Return the candidates among rows first..end-1 (sorted)."""
        lo = bisect.bisect_left(self.candidates, first)
        return self.candidates[lo : bisect.bisect_left(self.candidates, end)]

    def write(self, out: OutFile, kept: dict[int, Person]) -> dict[str, Any]:
        """Write the delta: changes to kept people, deletions, then newcomers.

        `kept` holds the candidates as generated, less those a build rejects (broken rows and
        the clean rows they share a code with): the delta leaves those people alone.
        """
        rng = self.rng
        targets = [kept[i] for i in self.order if i in kept][: self.n_existing]
        kinds_existing = list(DELTA_EXISTING)
        weights = list(DELTA_EXISTING.values())
        rows: list[list[str]] = []
        kinds: dict[str, int] = {}
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
        return {
            "delta": len(rows),
            "delta_ops": {"upsert": len(rows) - deletes, "delete": deletes},
            "delta_kinds": dict(sorted(kinds.items())),
        }

    def _change(self, kind: str, person: Person) -> tuple[str, list[str]]:
        """Apply one kind of change to a copy of the person's row; return (kind, delta row)."""
        row, cal, rng = list(person.row), self.cal, self.rng
        iso, first, today = cal.iso, Calendar.FIRST, cal.today
        if kind == "delete":
            return kind, ["delete", row[CCCD]] + [""] * (len(COLUMNS) - 1)
        if kind in ("renewed", "new_card") and person.group == "TE":
            kind = "facility"  # a child's card runs to the TE limit: nothing to renew
        if kind == "revoked" and row[STATUS] == "revoked":
            kind = "facility"  # an upsert always changes something
        if kind == "renewed":
            vt = datetime.date.fromisoformat(row[VALID_TO]).toordinal()
            if vt < today:  # lapsed: a new twelve months from about now
                vf = today - rng.randrange(15)
                was = row[VALID_FROM] >= NEW_MAP_FROM
                row[VALID_FROM], row[VALID_TO] = iso[vf - first], iso[vf + 364 - first]
                self._restate(row, person, was)
            else:
                row[VALID_TO] = iso[vt + 365 - first]
            row[STATUS] = "active"
        elif kind == "facility":  # another facility of the province, in the card's era
            era = row[VALID_FROM] >= NEW_MAP_FROM
            pool = self.w.facility_codes[person.province + self.w.n * era]
            row[FACILITY] = rng.choice([f for f in pool if f != row[FACILITY]])
        elif kind == "reduced":
            row[STATUS] = rng.choice([s for s in data.REDUCED_STATUSES if s != row[STATUS]])
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

    @staticmethod
    def _next_group(group: str, age: int) -> str:
        """Return another group someone of this age plausibly moves to from `group`."""
        if age < 18:
            new = "HS"  # a school card (or, for a pupil, one the household buys)
        elif age >= 60:
            # Retired workers get a pension; others social protection or a poor-household card.
            new = "HT" if group in ("DN", "HC", "CH") else "BT" if age >= 75 else "HN"
        else:
            new = NEXT_GROUP.get(group, "GD")
        if new == group:
            new = "GD" if group != "GD" else "HN"
        return new

    def _new_card(self, row: list[str], person: Person) -> None:
        """Move the person to a new group's card; the old card becomes prev_card_no."""
        cal, today = self.cal, self.cal.today
        group = self._next_group(person.group, (today - person.dob_ord) // 365)
        level = data.GROUP_LEVEL[group]
        if group == "CN" and today >= datetime.date(2026, 1, 1).toordinal():
            level = 2
        old = row[CARD]
        row[CARD] = f"{group}{level}{old[3:5]}{row[BHXH]}"
        row[PREV_CARD], row[PREV_VALID_TO] = old, cal.iso[today - 1 - Calendar.FIRST]
        was = row[VALID_FROM] >= NEW_MAP_FROM
        row[VALID_FROM], row[VALID_TO] = (
            cal.iso[today - Calendar.FIRST],
            cal.iso[today + 364 - Calendar.FIRST],
        )
        self._restate(row, person, was)
        row[STATUS] = "active"
        row[MANAGED_BY] = MANAGED.get(group, "vss")
        if row[MANAGED_BY] != "vss":
            row[ISSUER] = MINISTRY_ISSUER[row[MANAGED_BY]]
        elif row[ISSUER] in MINISTRY_ISSUER.values():
            era = row[VALID_FROM] >= NEW_MAP_FROM
            row[ISSUER] = self.w.province_issuer[person.province + self.w.n * era]

    def _restate(self, row: list[str], person: Person, was_new_map: bool) -> None:
        """Write a card issued anew in the map of its new valid_from (DOMAIN.md 6): the card and
        facility codes' province, the address (no district since 2025-07-01) and the issuer."""
        w = self.w
        era = row[VALID_FROM] >= NEW_MAP_FROM
        if era == was_new_map:
            return
        new, old = person.province + w.n * era, person.province + w.n * was_new_map
        row[CARD] = row[CARD][:3] + w.code2[new] + row[CARD][5:]
        codes = w.registry.current if era else w.registry.former
        row[FACILITY] = codes.get(row[FACILITY], row[FACILITY])
        place, before = w.place_lists[new][person.place], w.place_lists[old][person.place]
        tail = before.tail[:-1]  # the tails close the quoted address: plain text here
        if row[ADDRESS].endswith(tail):
            row[ADDRESS] = row[ADDRESS][: -len(tail)] + place.tail[:-1]
        if row[ISSUER] == before.issuer:
            row[ISSUER] = place.issuer
        elif row[ISSUER] == w.province_issuer[old]:
            row[ISSUER] = w.province_issuer[new]

    def _newcomer(self, kind: str, maker: PersonMaker) -> list[str]:
        """Draw someone not in the extract: a newborn with a TE card or a new worker."""
        rng, cal = self.rng, self.cal
        if kind == "newborn":
            row = maker.make(dob_ord=cal.today - rng.randrange(45), group="TE").row
        else:
            person = maker.make(age=rng.randint(18, 35), group="DN")
            row = person.row
            vf = cal.today - rng.randrange(15)
            was = row[VALID_FROM] >= NEW_MAP_FROM
            row[VALID_FROM] = cal.iso[vf - Calendar.FIRST]
            row[VALID_TO] = cal.iso[vf + 364 - Calendar.FIRST]
            self._restate(row, person, was)
        row[STATUS] = "active"
        row[FIVE_YEAR] = row[PREV_CARD] = row[PREV_VALID_TO] = ""
        return row
