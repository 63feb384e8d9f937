"""Choose the compiled core or its plain-Python reference twin (docs/DESIGN.md 1).

Both expose the same modules: `ids` (parse_id, parse_facility), `csvrows` (Rows, feed_build),
`validate` (RowValidator), `sorter` (ExternalSorter), `writer` (SnapshotWriter,
equal_key_groups), `reader` (SnapshotReader) and `idhash` (IdHasher). The compiled core is
used whenever it loads. Without it the reference takes over with a warning, unless
LOOKUP_REQUIRE_CORE=1, which makes a missing core an error (CI, Docker) so a service never runs
slow code silently.
LOOKUP_CORE=python asks for the reference on purpose (debugging, comparisons).
"""

from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace

UNITS = ("ids", "validate", "sorter", "writer", "reader", "csvrows", "idhash")


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


impl = _select()
CORE = impl.kind
