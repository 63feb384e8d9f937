"""Run production code on one implementation of the core, as LOOKUP_CORE would choose it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lookup import _core


def use_implementation(monkeypatch: pytest.MonkeyPatch, impl: SimpleNamespace) -> None:
    """Point every twin name of lookup._core at `impl` (a namespace from _core.load)."""
    for name, unit in _core.TWINS.items():
        monkeypatch.setattr(_core, name, getattr(getattr(impl, unit), name), raising=False)
    monkeypatch.setattr(_core, "CORE", impl.kind, raising=False)
