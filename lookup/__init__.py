"""Vietnam health insurance (BHYT) entitlement lookup: is this patient covered today, on which
card, at what benefit level, registered where?

    from lookup import DataDir, Entitlements
    with Entitlements.open_current(DataDir("data")) as answers:
        body = answers.answer("001085012345")        # SPEC.md 3 JSON bytes

The errors are imported at once; everything else on first use (PEP 562), because the compiled
core imports `lookup.errors` and `lookup --help` should load nothing it does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookup.errors import (
    ExtractError,
    IdError,
    LookupServiceError,
    RowError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = (
    "DataDir",
    "Entitlements",
    "ExtractError",
    "IdError",
    "LookupServiceError",
    "RowError",
    "StoreError",
    "__version__",
    "apply_delta",
    "build",
    "synthesize",
)

if TYPE_CHECKING:
    from lookup.ingest.build import build
    from lookup.ingest.delta import apply_delta
    from lookup.query import Entitlements
    from lookup.store import DataDir
    from lookup.synth import synthesize

_LAZY = {
    "DataDir": "lookup.store",
    "Entitlements": "lookup.query",
    "build": "lookup.ingest.build",
    "apply_delta": "lookup.ingest.delta",
    "synthesize": "lookup.synth",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
