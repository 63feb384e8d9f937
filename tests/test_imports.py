"""The shape of the package holds: every module imports alone, the public names are pinned, the
layers import only downwards, and the compiled core is really the compiled core.

Modelled on aiohttp's and multidict's test_circular_imports.py (each module alone, in a fresh
interpreter, with warnings as errors) and py-lmdb's test_exports (`__all__` equals a literal).
"""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import core
import lookup
import lookup.errors
import lookup.web
from lookup import _core

ROOT = Path(__file__).resolve().parent.parent


def _modules(package) -> list[str]:
    names = [package.__name__]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not info.name.endswith(".__main__"):  # runs the command line when imported
            names.append(info.name)
    return sorted(names)


LOOKUP_MODULES = _modules(lookup)
# Each compiled unit; a .pyx with no built .so is caught by test_every_compiled_unit_is_loaded.
CORE_MODULES = sorted(f"core.{path.stem}" for path in (ROOT / "core").glob("*.pyx"))


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=60,
    )


@pytest.mark.parametrize("module", LOOKUP_MODULES + CORE_MODULES)
def test_module_imports_alone(module):
    result = _run(f"import {module}")
    assert result.returncode == 0, result.stderr


def test_the_module_list_is_whole():
    # The walk must see the subpackages, or the test above would pass on almost nothing.
    for room in ("ingest", "service", "store", "sync", "synth", "web", "reference"):
        assert f"lookup.{room}" in LOOKUP_MODULES
    assert "lookup.web.gateway_rules" in LOOKUP_MODULES
    assert set(CORE_MODULES) == {f"core.{unit}" for unit in _core.UNITS}


def test_public_names_are_pinned():
    assert lookup.__all__ == (
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
    assert lookup.web.__all__ == ("ServiceConfig", "ServiceRunner", "make_app")
    assert lookup.errors.__all__ == (
        "ExtractError",
        "IdError",
        "LookupServiceError",
        "RowError",
        "StoreError",
    )


def test_star_import_gives_every_public_name():
    namespace: dict[str, object] = {}
    exec("from lookup import *", namespace)
    assert set(lookup.__all__) <= set(namespace)
    assert namespace["__version__"] == lookup.__version__


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    assert version("bhyt-lookup") == lookup.__version__


def _lookup_modules_after(code: str, **env: str) -> set[str]:
    result = _run(
        code + "\nimport sys; print(' '.join(m for m in sys.modules "
        "if m.split('.')[0] in ('core', 'lookup')))",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_core_imports_only_the_errors_and_vocabulary_of_the_package():
    # The core sits under the package: it may raise its errors and read the SPEC/DOMAIN tables
    # (lookup.schema: constants, no imports of its own), and must reach nothing else.
    loaded = _lookup_modules_after("import core.reader, core.validate, core.csvrows, core.ids")
    assert {m for m in loaded if m.startswith("lookup")} == {
        "lookup",
        "lookup.errors",
        "lookup.schema",
    }


def test_the_facade_loads_nothing_until_asked():
    assert _lookup_modules_after("import lookup") == {"lookup", "lookup.errors"}


def test_help_loads_no_compiled_unit():
    loaded = _lookup_modules_after(
        "from lookup.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert "lookup.cli" in loaded
    assert not {m for m in loaded if m.startswith("core")}


def test_synth_loads_no_compiled_unit(tmp_path):
    out = tmp_path / "x.csv"
    argv = ["synth", "--rows", "50", "--out", str(out)]
    loaded = _lookup_modules_after(f"from lookup.cli import main\nassert main({argv!r}) == 0")
    assert out.stat().st_size > 0 and "lookup.synth" in loaded
    assert not {m for m in loaded if m.startswith("core")}


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_core_selector_imports_the_reference():
    # lookup.reference is the test oracle: production reaches it only through lookup._core.
    offenders = []
    for path in sorted((ROOT / "lookup").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module.startswith("lookup.reference") or module == "lookup._core":
            continue
        if any(name.startswith("lookup.reference") for name in _imported_modules(path)):
            offenders.append(module)
    assert offenders == []


def test_the_schema_and_errors_are_leaves():
    for leaf in ("schema", "errors"):
        imported = _imported_modules(ROOT / "lookup" / f"{leaf}.py")
        assert not {name for name in imported if name.split(".")[0] in ("lookup", "core")}


@pytest.mark.skipif(
    os.environ.get("LOOKUP_REQUIRE_CORE") != "1", reason="the compiled core is optional here"
)
def test_every_compiled_unit_is_loaded():
    # Like yarl's test_quoting_c_loaded, for every unit and every name production uses.
    code = (
        "from lookup import _core\nimport sys\n"
        "assert _core.CORE == 'compiled', _core.CORE\n"
        "for name, unit in _core.TWINS.items():\n"
        "    value = getattr(_core, name)\n"
        "    module = sys.modules[value.__module__]\n"
        "    assert module.__name__ == 'core.' + unit, (name, module.__name__)\n"
        "    assert module.__file__.endswith('.so'), module.__file__\n"
        "print(len(_core.TWINS))\n"
    )
    result = _run(code, LOOKUP_REQUIRE_CORE="1")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(_core.TWINS)
    assert set(_core.TWINS.values()) == set(_core.UNITS)
    assert core.__name__ == "core"
