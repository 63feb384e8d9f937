"""Where the facility registry lives in the data directory, and how a new one is published.

    DATA/facilities/
      CURRENT            the served version's name; replaced by rename, never edited in place
      <version>.json     one imported registry (0600: it holds officers' name keys); never
                         modified once written; the current one and the two before are kept
      .import.lock       flock held by `lookup facilities import`

Publishing is the snapshot's two-step (lookup.store): the version file is written under a
temporary name, fsynced and renamed into place, then CURRENT likewise. A crash before CURRENT is
renamed leaves the old registry served and the new file unused (the next import deletes it).
Readers open only what CURRENT names, so a half-written registry is never seen.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from lookup._os import crash_point, write_durably
from lookup.errors import StoreError

__all__ = ("FOLDER", "KEEP", "RegistryStore")

FOLDER = "facilities"
CURRENT = "CURRENT"
KEEP = 3  # versions kept: the current one and the two before (a rollback by hand)
_VERSION = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}", re.ASCII)


class RegistryStore:
    """The registry files of one data directory."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.root = Path(data_dir) / FOLDER
        self.pointer = self.root / CURRENT

    # -- reading --------------------------------------------------------------------------
    def current_version(self) -> str | None:
        """Return the version CURRENT names, or None before the first import."""
        try:
            text = self.pointer.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeError) as exc:
            raise StoreError(f"{self.pointer}: cannot read: {exc}") from exc
        if not _VERSION.fullmatch(text):
            raise StoreError(f"{self.pointer} is damaged; import the registry again")
        return text

    def stamp(self) -> tuple[int, int, int] | None:
        """Return what tells one CURRENT from the next (one stat), None when there is none."""
        try:
            st = os.stat(self.pointer)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def read(self, version: str) -> dict[str, Any]:
        """Return the registry document of a version."""
        path = self.root / f"{version}.json"
        try:
            document = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise StoreError(f"{self.pointer} names {version}, which is missing") from None
        except orjson.JSONDecodeError as exc:
            raise StoreError(f"{path} is damaged ({exc}); import the registry again") from None
        if not isinstance(document, dict) or document.get("version") != version:
            raise StoreError(f"{path} is damaged; import the registry again")
        return document

    # -- writing --------------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the import lock: one import at a time per data directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".import.lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    f"another facilities import is running on {self.root.parent}; wait for it"
                ) from None
            yield  # closing the file releases the flock

    @staticmethod
    def new_version() -> str:
        """Return a fresh version name: the UTC time, then 4 random hex digits."""
        return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)

    def publish(self, document: dict[str, Any]) -> None:
        """Write a registry document and make it current, atomically (hold `lock`)."""
        version = document["version"]
        write_durably(self.root / f"{version}.json", orjson.dumps(document), mode=0o600)
        crash_point("facilities-before-current")
        write_durably(self.pointer, (version + "\n").encode("ascii"))
        crash_point("facilities-before-prune")
        self._prune(version)

    def _prune(self, current: str) -> None:
        """Keep the current version and the KEEP - 1 written last; delete the rest and temps."""
        others = [
            p for p in self.root.glob("*.json") if _VERSION.fullmatch(p.stem) and p.stem != current
        ]
        # By when they were written (under the lock, so in import order): names made within
        # one second sort by their random part.
        others.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        for path in others[: max(0, len(others) - (KEEP - 1))] + list(self.root.glob("*.tmp")):
            path.unlink(missing_ok=True)
