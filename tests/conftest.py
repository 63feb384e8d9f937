"""Shared fixtures: every behaviour test runs on both implementations (compiled core and the
plain-Python reference) through the `impl` fixture, as multidict's tests do."""

from __future__ import annotations

import os

import pytest

from lookup import _core

IMPLEMENTATIONS = ("compiled", "python")


@pytest.fixture(params=IMPLEMENTATIONS, scope="session")
def impl(request):
    """One implementation namespace: .ids, .validate, .sorter, .reader (lookup._core.load)."""
    try:
        return _core.load(request.param)
    except ImportError as exc:
        if request.param == "compiled" and os.environ.get("LOOKUP_REQUIRE_CORE") != "1":
            pytest.skip(f"compiled core not built: {exc}")
        raise


@pytest.fixture(scope="session")
def compiled():
    """The compiled core; a missing core fails under LOOKUP_REQUIRE_CORE=1, else skips."""
    try:
        return _core.load("compiled")
    except ImportError as exc:
        if os.environ.get("LOOKUP_REQUIRE_CORE") == "1":
            raise
        pytest.skip(f"compiled core not built: {exc}")


@pytest.fixture(scope="session")
def reference():
    return _core.load("python")
