"""The `lookup` command as the tests run it: a child process of this Python."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any


def lookup(*args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess:
    """Run `python -m lookup ARGS`, its output captured as text; no data directory comes from
    the environment (LOOKUP_DATA empty) unless `env` gives one."""
    return subprocess.run(
        [sys.executable, "-m", "lookup", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LOOKUP_DATA": "", **(env or {})},
        **kw,
    )
