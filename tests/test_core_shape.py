"""The compiled core's shape: each unit says what it is (its module docstring) and has a stub.

That the stubs agree with the extensions is `make lint`'s mypy.stubtest, as py-lmdb's CI runs it.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from lookup._core import UNITS

ROOT = Path(__file__).resolve().parent.parent


def _compiled(unit):
    try:
        module = importlib.import_module(f"core.{unit}")
    except ImportError as exc:
        if os.environ.get("LOOKUP_REQUIRE_CORE") == "1":
            raise
        pytest.skip(f"compiled core not built: {exc}")
    return module


@pytest.mark.parametrize("unit", UNITS)
def test_unit_has_a_docstring(unit):
    doc = _compiled(unit).__doc__
    assert doc and doc.strip(), f"core/{unit}.pyx has no module docstring"


@pytest.mark.parametrize("unit", UNITS)
def test_unit_has_a_stub(unit):
    assert (ROOT / "core" / f"{unit}.pyi").is_file()
