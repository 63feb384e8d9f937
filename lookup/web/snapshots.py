"""Follow DATA/CURRENT and swap the served snapshot without mixing two in one answer.

A build, delta or rollback publishes by renaming CURRENT (lookup.store); every worker notices
within one poll (0.5 s, so well inside the 2 s SPEC promise) and opens the new snapshot itself,
in a thread, while the event loop goes on answering from the old one (opening a national
snapshot takes a few tenths of a second: its leaf index and its overlay's filter are built in C
with the GIL released). The swap is one attribute assignment, on the loop. A handler reads
`watcher.current` once, at its start, and answers the whole request (a batch too) from that
one `Snapshot`, so no answer ever mixes two.

The facility registry (lookup.facilities) is followed the same way: at each poll a newly imported
version becomes one FacilityTable, given to the served snapshot (and to each one opened later),
so answers name facilities from the new registry within a second, without a restart.

Answers are computed synchronously between two awaits (LMDB point reads are memory reads), so a
snapshot is never in use while the event loop runs the poll; the old one is still closed only
after a grace period, so a future handler that holds one across an await stays safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from lookup import _core
from lookup.errors import LookupServiceError
from lookup.facilities.registry import Registry
from lookup.facilities.watch import RegistryWatcher
from lookup.query import Entitlements
from lookup.store import DataDir
from lookup.store.manifest import read_manifest
from lookup.web.errors import ApiError

__all__ = ("Snapshot", "SnapshotWatcher", "require_snapshot")

log = logging.getLogger("lookup.web")


class Snapshot:
    """One open snapshot, with its answer functions bound once (they run on every request)."""

    __slots__ = (
        "id",
        "name",
        "entitlements",
        "answer",
        "answer_coded",
        "answer_batch",
        "created_at",
        "facilities",
    )

    def __init__(self, path: Path) -> None:
        self.entitlements = Entitlements(str(path))
        self.name = path.name  # what CURRENT names; the manifest id normally equals it
        self.id: str = self.entitlements.snapshot_id
        reader = self.entitlements.reader
        # reader.answer(id, date: packed yyyymmdd, facility: normalised or None) -> bytes
        self.answer = reader.answer
        # reader.answer_coded(id, date, facility) -> (the same bytes, its result code "000")
        self.answer_coded = reader.answer_coded
        # reader.answer_batch(ids, date, facility) -> ({"results": [...]} as bytes or a
        # memoryview of the core's buffer, b'["000",...]', {"000": 998, ...})
        self.answer_batch = reader.answer_batch
        self.created_at = _created_at(path)
        self.facilities: Any = None  # the FacilityTable its answers name facilities from

    def show_facilities(self, table: Any) -> None:
        """Name the registered facilities in answers from `table` (a FacilityTable, or None)."""
        if table is not self.facilities:
            self.entitlements.reader.facilities = table
            self.facilities = table

    def age(self, now: float | None = None) -> float | None:
        """Return seconds since the snapshot was built, or None when the manifest lacks it."""
        if self.created_at is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.created_at)

    def close(self) -> None:
        self.entitlements.close()


def _created_at(path: Path) -> float | None:
    manifest = read_manifest(path) or {}
    try:
        return datetime.fromisoformat(str(manifest["created_at"])).timestamp()
    except (KeyError, ValueError):
        return None


class SnapshotWatcher:
    """Serve the snapshot DATA/CURRENT names, polling for a new one every `interval` seconds."""

    def __init__(
        self,
        data_dir: str,
        *,
        interval: float = 0.5,
        grace: float = 5.0,
        on_poll: Callable[[], object] | None = None,
        registry: RegistryWatcher | None = None,
    ) -> None:
        self.data = DataDir(data_dir)
        # The facility registry (SPEC 1.4) the worker serves: the answers' facility names and
        # the gateway's officers. One FacilityTable per version, made on the loop when the
        # watcher swaps a version in, shared by the snapshots.
        self.registry = registry if registry is not None else RegistryWatcher(data_dir)
        self._registry_seen: Registry | None = None
        self._facilities: Any = None
        self.interval = interval
        self.grace = grace
        self.current: Snapshot | None = None
        self.switches = 0
        self._on_poll = on_poll
        self._retired: list[tuple[float, Snapshot]] = []
        self._failed: str | None = None  # the CURRENT we could not open, logged once
        self._task: asyncio.Task[None] | None = None

    def poll(self) -> bool:
        """Open the snapshot CURRENT names if it is not the served one; return whether swapped."""
        name = self._wanted()
        return name is not None and self._swap(name, self._reopen(name) or self._open(name))

    async def poll_in_thread(self) -> bool:
        """poll(), the snapshot opened in a thread while the loop answers from the old one."""
        name = self._wanted()
        if name is None:
            return False
        retired = self._reopen(name)
        opened = retired if retired is not None else await asyncio.to_thread(self._open, name)
        return self._swap(name, opened)

    def _wanted(self) -> str | None:
        """Return the snapshot CURRENT names when it is not the served one."""
        name = self.data.current_id()
        current = self.current
        if name is None or (current is not None and name == current.name):
            return None
        return name

    def _open(self, name: str) -> Snapshot | BaseException:
        """Open a snapshot, or return why it cannot be (the caller logs it)."""
        try:
            return Snapshot(self.data.snapshots / name)
        except (LookupServiceError, OSError) as exc:
            return exc

    def _swap(self, name: str, snapshot: Snapshot | BaseException) -> bool:
        current = self.current
        if isinstance(snapshot, BaseException):
            # Keep serving the old snapshot; a half-deleted or damaged one must not take the
            # worker down. Retried every poll, logged once.
            if self._failed != name:
                self._failed = name
                log.error(
                    "cannot open snapshot %s: %s; still serving %s",
                    name,
                    snapshot,
                    current.id if current else "nothing",
                )
            return False
        self._failed = None
        snapshot.show_facilities(self._facility_table())
        self.current = snapshot  # the swap: one assignment
        self.switches += 1
        if current is not None:
            self._retired.append((time.monotonic() + self.grace, current))
        log.info("serving snapshot %s", snapshot.id)
        return True

    def _reopen(self, name: str) -> Snapshot | None:
        """Take back a retired snapshot not closed yet (a quick rollback): some readers (py-lmdb)
        cannot open an environment that is still open in the process."""
        for i, (_, snapshot) in enumerate(self._retired):
            if snapshot.name == name:
                del self._retired[i]
                return snapshot
        return None

    def _close_retired(self, now: float) -> None:
        keep = []
        for deadline, snapshot in self._retired:
            if now >= deadline:
                snapshot.close()
            else:
                keep.append((deadline, snapshot))
        self._retired = keep

    async def start(self) -> None:
        """Open the current snapshot (if any) and start polling."""
        self._tick()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _facility_table(self) -> Any:
        """Return the FacilityTable of the registry served now (None: none imported)."""
        registry = self.registry.get()
        if registry is not self._registry_seen:
            self._registry_seen = registry
            self._facilities = (
                None if registry is None else _core.FacilityTable(registry.as_table())
            )
        return self._facilities

    def _show_registry(self) -> None:
        """Give the served snapshot a newly imported registry (a no-op when unchanged)."""
        if self.current is not None:
            self.current.show_facilities(self._facility_table())

    def _tick(self) -> None:
        self._tick_hook()
        self.poll()
        self._show_registry()
        self._close_retired(time.monotonic())

    def _tick_hook(self) -> None:
        if self._on_poll is not None:
            try:
                self._on_poll()
            except Exception as exc:  # e.g. an unreadable clients.json: keep serving
                log.error("poll hook failed: %s", type(exc).__name__)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self._tick_hook()
                await self.poll_in_thread()
                self._show_registry()
                self._close_retired(time.monotonic())
            except Exception as exc:
                log.error("snapshot poll failed: %s", type(exc).__name__)

    async def close(self) -> None:
        """Stop polling and close every snapshot."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for _, snapshot in self._retired:
            snapshot.close()
        self._retired = []
        if self.current is not None:
            self.current.close()
            self.current = None


def require_snapshot(watcher: SnapshotWatcher) -> Snapshot:
    """Return the served snapshot, or raise 503 before the first one is published."""
    snapshot = watcher.current
    if snapshot is None:
        raise ApiError(
            503, "not_ready", "no snapshot to answer from yet; publish one with `lookup build`"
        )
    return snapshot
