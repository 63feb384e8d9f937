# One command for lint: `make lint` (what .ci/run calls after the tests).
# It runs in the project's virtual environment (.venv, made by the README's commands) and
# installs the pinned lint tools there itself, from pyproject.toml's `lint` extra.
PYTHON ?= .venv/bin/python
CORE_UNITS := $(patsubst core/%.pyx,core.%,$(wildcard core/*.pyx))
# cython-lint runs pycodestyle by name: the environment's tools come first on the path.
export PATH := $(abspath $(dir $(PYTHON))):$(PATH)

.PHONY: lint lint-tools

lint: lint-tools
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	cython-lint core/
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy.stubtest $(CORE_UNITS) --allowlist core/stubtest_allowlist.txt

lint-tools:
	$(PYTHON) -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['lint']))" \
		| $(PYTHON) -m pip install -q --disable-pip-version-check -r /dev/stdin
