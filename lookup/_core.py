"""Choose the compiled core or its plain-Python reference twin (docs/DESIGN.md 1), yarl's way.

Callers use typed names: `_core.SnapshotReader`, `_core.RowValidator`, `_core.parse_id`... To a
type checker they are the compiled units' stubs (core/*.pyi); at run time they come from the
implementation chosen the first time one is used, so `lookup --help` and `lookup synth` load no
compiled unit at all. The compiled core is used whenever it loads. Without it the reference
takes over with a warning, unless LOOKUP_REQUIRE_CORE=1, which makes a missing core an error
(CI, Docker) so a service never runs slow code silently. LOOKUP_CORE=python asks for the
reference on purpose (debugging, comparisons).

This is the only production module that imports `lookup.reference` (the test oracle): for the
twins, and for the helpers that have no compiled form yet (`decode_record`, `is_real_date`,
`check_register_row`, `compare_register_row`).
"""

from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

__all__ = (
    "CORE",
    "UNITS",
    "ExternalSorter",
    "FacilityTable",
    "IdHasher",
    "RowValidator",
    "Rows",
    "SnapshotReader",
    "SnapshotWriter",
    "check_cards",
    "check_register_row",
    "compact_records",
    "compare_register_row",
    "count_line_ends",
    "decode_record",
    "feed_build",
    "is_real_date",
    "load",
    "parse_facility",
    "parse_id",
    "renumber_records",
    "write_run",
)

if TYPE_CHECKING:
    from core.compact import compact_records, renumber_records
    from core.csvrows import Rows, count_line_ends, feed_build
    from core.idhash import IdHasher
    from core.ids import parse_facility, parse_id
    from core.reader import FacilityTable, SnapshotReader
    from core.sorter import ExternalSorter
    from core.validate import RowValidator
    from core.writer import SnapshotWriter, check_cards, write_run
    from lookup.reference.dates import is_real_date
    from lookup.reference.reconcile import check_row as check_register_row
    from lookup.reference.reconcile import compare as compare_register_row
    from lookup.reference.record import decode as decode_record

    CORE: str

UNITS = ("ids", "validate", "sorter", "compact", "writer", "reader", "csvrows", "idhash")

# Each twin name and the unit that defines it, in core/ and in lookup/reference/ alike.
TWINS = {
    "parse_id": "ids",
    "parse_facility": "ids",
    "RowValidator": "validate",
    "ExternalSorter": "sorter",
    "SnapshotWriter": "writer",
    "check_cards": "writer",
    "write_run": "writer",
    "compact_records": "compact",
    "renumber_records": "compact",
    "SnapshotReader": "reader",
    "FacilityTable": "reader",
    "Rows": "csvrows",
    "feed_build": "csvrows",
    "count_line_ends": "csvrows",
    "IdHasher": "idhash",
}
# Helpers of the reference that production uses as they are: (module, name).
_REFERENCE_ONLY = {
    "decode_record": ("lookup.reference.record", "decode"),
    # SPEC.md 4: the rows the core does not judge itself (core/register.pxd) go through these.
    "check_register_row": ("lookup.reference.reconcile", "check_row"),
    "compare_register_row": ("lookup.reference.reconcile", "compare"),
    "is_real_date": ("lookup.reference.dates", "is_real_date"),
}


def load(kind: str) -> SimpleNamespace:
    """Import one implementation: "compiled" (core.*) or "python" (lookup.reference.*)."""
    package = {"compiled": "core", "python": "lookup.reference"}[kind]
    modules = {unit: importlib.import_module(f"{package}.{unit}") for unit in UNITS}
    return SimpleNamespace(kind=kind, **modules)


def _select() -> SimpleNamespace:
    if os.environ.get("LOOKUP_CORE") == "python":
        return load("python")
    try:
        return load("compiled")
    except ImportError as exc:
        if os.environ.get("LOOKUP_REQUIRE_CORE") == "1":
            raise ImportError(
                f"the compiled core is required (LOOKUP_REQUIRE_CORE=1) but did not load: {exc}; "
                "reinstall with a C compiler: pip install -e ."
            ) from exc
        print(
            f"lookup: compiled core not available ({exc}); using the slow plain-Python reference",
            file=sys.stderr,
        )
        return load("python")


_chosen: SimpleNamespace | None = None


def __getattr__(name: str) -> Any:
    # PEP 562: resolved on first use, then kept as a plain module attribute.
    global _chosen
    if name in TWINS or name == "CORE":
        if _chosen is None:
            _chosen = _select()
        value = _chosen.kind if name == "CORE" else getattr(getattr(_chosen, TWINS[name]), name)
    elif name in _REFERENCE_ONLY:
        module, attribute = _REFERENCE_ONLY[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
