"""Deliberately invalid extract rows for `lookup synth --invalid-rate` (DESIGN.md 5).

Builds must meet realistic rejects: each chosen row breaks one rule of DESIGN.md 5, from a bad
CCCD to a code shared with an earlier row. Broken rows are written by the csv module, since
anything may be in them now.
"""

from __future__ import annotations

import csv
import datetime
import io
import random
from typing import Any

from lookup.synth.people import Block
from lookup.synth.world import (
    ADDRESS,
    BHXH,
    CARD,
    CCCD,
    DOB,
    FACILITY,
    FIVE_YEAR,
    GENDER,
    ISSUER,
    MANAGED_BY,
    NAME,
    PREV_CARD,
    PREV_VALID_TO,
    REGION,
    STATUS,
    VALID_FROM,
    VALID_TO,
    Calendar,
    draw_u32,
)

__all__ = ("Breaker",)


class Breaker:
    """Break one DESIGN.md 5 rule in a share of rows, so builds meet realistic rejects."""

    KINDS = (
        "extra_field",
        "bad_utf8",
        "cccd_missing",
        "cccd_length",
        "cccd_not_digits",
        "bhxh_length",
        "card_pattern",
        "card_tail",
        "name_missing",
        "name_too_long",
        "name_control",
        "dob_format",
        "dob_not_real",
        "gender",
        "address_too_long",
        "facility",
        "valid_from_format",
        "valid_to_before",
        "five_year_not_real",
        "region",
        "status",
        "managed_by",
        "prev_same",
        "prev_valid_to_alone",
        "issuer_control",
        "dup_cccd",
        "dup_bhxh",
    )

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

    def summary(self) -> dict[str, Any]:
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
    def _extra_field(self, row: list[str]) -> bool:
        row.append("")  # an unquoted comma in the source system: 18 fields, 17 in the header
        return True

    def _bad_utf8(self, row: list[str]) -> bool:
        # A Latin-1 byte (0xE1, "á") where UTF-8 was expected; written as that raw byte.
        k = self.rng.randrange(len(row[NAME]))
        row[NAME] = row[NAME][:k] + "\udce1" + row[NAME][k + 1 :]
        return True

    def _cccd_missing(self, row: list[str]) -> bool:
        row[CCCD] = ""
        return True

    def _cccd_length(self, row: list[str]) -> bool:
        row[CCCD] = row[CCCD][1:] if self.rng.random() < 0.5 else row[CCCD] + "7"
        return True

    def _cccd_not_digits(self, row: list[str]) -> bool:
        # A letter O for a zero, or an Arabic-Indic digit pasted from another system.
        bad = "O" if self.rng.random() < 0.5 else "\u0663"
        row[CCCD] = row[CCCD][:5] + bad + row[CCCD][6:]
        return True

    def _bhxh_length(self, row: list[str]) -> bool:
        row[BHXH] = row[BHXH][:9]
        return True

    def _card_pattern(self, row: list[str]) -> bool:
        card = row[CARD]
        row[CARD] = (
            card[:2].lower() + card[2:] if self.rng.random() < 0.5 else (card[:2] + "6" + card[3:])
        )
        return True

    def _card_tail(self, row: list[str]) -> bool:
        card = row[CARD]
        row[CARD] = card[:-1] + str((int(card[-1]) + 1) % 10)
        return True

    def _name_missing(self, row: list[str]) -> bool:
        row[NAME] = "" if self.rng.random() < 0.5 else "   "
        return True

    def _name_too_long(self, row: list[str]) -> bool:
        name = row[NAME]
        while len(name) <= 100:
            name = f"{name} {row[NAME]}"
        row[NAME] = name
        return True

    def _name_control(self, row: list[str]) -> bool:
        row[NAME] = row[NAME].replace(" ", " \x08", 1)
        return " " in row[NAME]

    def _dob_format(self, row: list[str]) -> bool:
        dob = row[DOB]
        if len(dob) != 10:
            return False
        row[DOB] = f"{dob[8:10]}/{dob[5:7]}/{dob[:4]}"  # dd/mm/yyyy, as the gateway writes it
        return True

    def _dob_not_real(self, row: list[str]) -> bool:
        row[DOB] = row[DOB][:4] + ("-02-30" if self.rng.random() < 0.5 else "-13-01")
        return True

    def _gender(self, row: list[str]) -> bool:
        row[GENDER] = self.rng.choice(("0", "M", "Nam", "nữ"))
        return True

    def _address_too_long(self, row: list[str]) -> bool:
        if not row[ADDRESS]:
            return False
        while len(row[ADDRESS]) <= 200:
            row[ADDRESS] = f"{row[ADDRESS]}, {row[ADDRESS]}"
        return True

    def _facility(self, row: list[str]) -> bool:
        fac = row[FACILITY]
        row[FACILITY] = fac.lower() if not fac.isdigit() else fac[:4]
        return True

    def _valid_from_format(self, row: list[str]) -> bool:
        d = row[VALID_FROM]
        row[VALID_FROM] = f"{d[8:10]}/{d[5:7]}/{d[:4]}"
        return True

    def _valid_to_before(self, row: list[str]) -> bool:
        vf = self._date(row[VALID_FROM])
        row[VALID_TO] = self.cal.iso[vf - 1 - self.rng.randrange(300) - Calendar.FIRST]
        return True

    def _five_year_not_real(self, row: list[str]) -> bool:
        row[FIVE_YEAR] = "2023-02-29"
        return True

    def _region(self, row: list[str]) -> bool:
        row[REGION] = self.rng.choice(("K4", "k1", "KV1"))
        return True

    def _status(self, row: list[str]) -> bool:
        row[STATUS] = self.rng.choice(("suspended", "ACTIVE", "đang hoạt động"))
        return True

    def _managed_by(self, row: list[str]) -> bool:
        row[MANAGED_BY] = self.rng.choice(("army", "BQP", "ministry"))
        return True

    def _prev_same(self, row: list[str]) -> bool:
        row[PREV_CARD] = row[CARD]
        row[PREV_VALID_TO] = row[PREV_VALID_TO] or row[VALID_FROM]
        return True

    def _prev_valid_to_alone(self, row: list[str]) -> bool:
        row[PREV_CARD] = ""
        row[PREV_VALID_TO] = row[VALID_FROM]
        return True

    def _issuer_control(self, row: list[str]) -> bool:
        row[ISSUER] = row[ISSUER] + "\x7f"
        return True

    def _dup_cccd(self, row: list[str]) -> bool:
        if self.source is None:
            return False
        i, cccd, _ = self.source
        row[CCCD] = cccd
        self.dup_sources.add(i)
        return True

    def _dup_bhxh(self, row: list[str]) -> bool:
        if self.source is None:
            return False
        i, _, bhxh = self.source
        row[BHXH] = bhxh
        row[CARD] = row[CARD][:5] + bhxh  # still a well-formed card of this row
        if row[PREV_CARD]:
            row[PREV_CARD] = row[PREV_CARD][:5] + bhxh
        self.dup_sources.add(i)
        return True
