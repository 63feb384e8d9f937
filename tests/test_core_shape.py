"""The compiled core's shape: each unit says what it is (its module docstring), has a stub, and
the stubs agree with the extensions (mypy.stubtest, as py-lmdb's CI runs it)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = ("ids", "validate", "sorter", "writer", "reader", "csvrows", "idhash")
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


def test_stubs_agree_with_the_extensions():
    pytest.importorskip("mypy.stubtest")
    for unit in UNITS:
        _compiled(unit)
    allowlist = ROOT / "core" / "stubtest_allowlist.txt"
    command = [sys.executable, "-m", "mypy.stubtest", *(f"core.{unit}" for unit in UNITS)]
    done = subprocess.run(
        [*command, "--allowlist", str(allowlist)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
