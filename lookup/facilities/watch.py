"""Follow DATA/facilities/CURRENT in a serving worker: a new import is served without a restart.

`RegistryWatcher.get()` is called where the registry is needed (the gateway check); at most once
per `interval` it stats CURRENT, and when CURRENT was replaced (a new inode, by rename) it loads
the version it names and swaps it in with one assignment. A request reads the registry once, so
no answer mixes two versions. A registry that cannot be loaded is logged once and the one
loaded before is kept: a damaged file must not take a worker down or drop its officer checks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from lookup.errors import LookupServiceError
from lookup.facilities.registry import Registry
from lookup.facilities.storage import RegistryStore

__all__ = ("RegistryWatcher",)

log = logging.getLogger("lookup.facilities")


class RegistryWatcher:
    """The registry a worker serves, reloaded when a new version is imported."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data_dir = data_dir
        self.store = RegistryStore(data_dir)
        self.interval = interval
        self._clock = clock
        self.current: Registry | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._next_check = float("-inf")
        self.switches = 0

    def get(self) -> Registry | None:
        """Return the served registry, having checked CURRENT if `interval` has passed."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self.interval
            self.refresh()
        return self.current

    def refresh(self) -> bool:
        """Load the version CURRENT names if CURRENT changed; return whether one was swapped in."""
        try:
            stamp = self.store.stamp()
        except OSError as exc:  # an unreadable directory: keep what is served, say so once
            stamp = (-1, -1, -1)
            if stamp != self._stamp:
                log.error("cannot read the facility registry: %s", exc.strerror)
            self._stamp = stamp
            return False
        if stamp == self._stamp:
            return False
        self._stamp = stamp  # also on failure: logged once, retried at the next import
        try:
            registry = Registry.load(self.data_dir)
        except (LookupServiceError, OSError, KeyError, TypeError, ValueError) as exc:
            kept = self.current.version if self.current else "none"
            log.error("cannot load the facility registry: %s; still serving %s", exc, kept)
            return False
        if _version(registry) == _version(self.current):
            return False  # the same version (or still none), seen through a newer CURRENT
        self.current = registry  # the swap: one assignment
        self.switches += 1
        log.info("serving facility registry %s", registry.version if registry else "none")
        return True


def _version(registry: Registry | None) -> str | None:
    return None if registry is None else registry.version
