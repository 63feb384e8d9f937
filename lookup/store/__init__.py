"""The data directory: immutable snapshots, the CURRENT pointer and atomic publishing.

    DATA/
      CURRENT              id of the served snapshot; replaced by rename, never edited in place
      snapshots/<id>/      data.mdb + manifest.json; never modified once here; after a delta,
                           data.mdb is its parent's (a hard link) and overlay/data.mdb holds
                           the changes since that base was built (docs/DESIGN.md 4)
      staging/<id>/        a build or delta in progress; never read; removed by the next writer
      rejects/<id>.csv     rows a build rejected (line, field, reason; no personal data)
      .writer.lock         flock held by build, apply, rollback and prune

Crash safety rests on two renames. A snapshot is written and fsynced under staging/, then renamed
into snapshots/; CURRENT is written to a temporary file, fsynced and renamed over the old one.
A crash before the second rename leaves the previous CURRENT, and the snapshot it names, intact;
readers only ever open what CURRENT named, so no partial snapshot is ever visible.
"""

from __future__ import annotations

import builtins
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from lookup._os import crash_point, fsync_path, write_durably
from lookup.errors import StoreError
from lookup.store.manifest import MANIFEST, read_manifest
from lookup.store.pagecache import load_in_large_pages

__all__ = ("DataDir", "SnapshotInfo", "default_data_dir")

DATA_FILE = "data.mdb"
OVERLAY_DIR = "overlay"  # after a delta: the changes since the base (docs/DESIGN.md 4)
CURRENT = "CURRENT"


def default_data_dir() -> str:
    """Return $LOOKUP_DATA or ./data (SPEC.md 2)."""
    return os.environ.get("LOOKUP_DATA") or "data"


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    path: Path
    manifest: dict[str, Any]
    current: bool

    @property
    def created_at(self) -> str:
        return str(self.manifest.get("created_at", ""))


class DataDir:
    """One data directory (`--data DIR`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.snapshots = self.root / "snapshots"
        self.staging = self.root / "staging"
        self.rejects = self.root / "rejects"

    # -- reading ----------------------------------------------------------------------------
    def current_id(self) -> str | None:
        """Return the id CURRENT names, or None before the first publish."""
        try:
            text = (self.root / CURRENT).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        return text or None

    def current_path(self) -> Path:
        """Return the directory of the current snapshot, or explain how to make one."""
        snapshot_id = self.current_id()
        if snapshot_id is None:
            raise StoreError(
                f"no snapshot in {self.root}: "
                f"build one with `lookup build EXTRACT --data {self.root}`"
            )
        path = self.snapshots / snapshot_id
        if not (path / MANIFEST).exists():
            raise StoreError(f"{self.root}/CURRENT names {snapshot_id}, which is missing")
        return path

    def list(self) -> list[SnapshotInfo]:
        """Return the published snapshots, oldest first."""
        current = self.current_id()
        found = []
        if self.snapshots.is_dir():
            for path in self.snapshots.iterdir():
                manifest = read_manifest(path)
                if manifest is not None:
                    found.append(SnapshotInfo(path.name, path, manifest, path.name == current))
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def get(self, snapshot_id: str) -> SnapshotInfo:
        for info in self.list():
            if info.id == snapshot_id:
                return info
        raise StoreError(
            f"no snapshot {snapshot_id!r} in {self.root}; `lookup snapshots` lists them"
        )

    # -- writing ----------------------------------------------------------------------------
    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the writer lock; clean what a killed writer left in staging/."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = open(self.root / ".writer.lock", "a+")  # closed below
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    f"another build, apply, rollback or prune is running on {self.root}; "
                    "wait for it to finish"
                ) from None
            _held_locks.append(lock)
            # Under the lock nobody owns staging/: whatever is there is a crashed writer's.
            shutil.rmtree(self.staging, ignore_errors=True)
            try:
                yield
            finally:
                shutil.rmtree(self.staging, ignore_errors=True)  # a failed writer's leftovers
        finally:
            if lock in _held_locks:
                _held_locks.remove(lock)
            lock.close()  # releases the flock

    def new_staging(self) -> tuple[str, Path]:
        """Return a fresh snapshot id and its empty staging directory."""
        now = datetime.now(UTC)
        snapshot_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)
        path = self.staging / snapshot_id
        path.mkdir(parents=True)
        return snapshot_id, path

    def publish(self, snapshot_id: str, manifest: dict[str, Any], *, new_data: bool = True) -> Path:
        """Move a finished staging snapshot into place and make it current, atomically.

        `new_data` False: its data.mdb is the parent's (a hard link under a delta's overlay,
        DESIGN 4), already durable and cached.
        """
        staged = self.staging / snapshot_id
        write_durably(staged / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        for name in os.listdir(staged):
            if new_data or name != DATA_FILE:
                fsync_path(staged / name)
        fsync_path(staged)
        if new_data and (staged / DATA_FILE).exists():
            load_in_large_pages(staged / DATA_FILE)  # clean now: cached again in 2 MB pieces
        self.snapshots.mkdir(exist_ok=True)
        final = self.snapshots / snapshot_id
        os.rename(staged, final)
        fsync_path(self.snapshots)
        crash_point("before-current")
        self.set_current(snapshot_id)
        return final

    def set_current(self, snapshot_id: str) -> None:
        """Point CURRENT at a published snapshot (atomic rename)."""
        write_durably(self.root / CURRENT, (snapshot_id + "\n").encode("ascii"))

    def rollback(self, snapshot_id: str | None = None) -> SnapshotInfo:
        """Make an older snapshot current: the one given, or the one before the current."""
        snapshots = self.list()
        if snapshot_id is None:
            current = next((i for i, s in enumerate(snapshots) if s.current), None)
            if current is None or current == 0:
                raise StoreError("no snapshot older than the current one to roll back to")
            target = snapshots[current - 1]
        else:
            target = self.get(snapshot_id)
        self.set_current(target.id)
        return target

    def prune(self, keep: int) -> builtins.list[str]:  # `list` here is DataDir.list
        """Delete all but the newest `keep` snapshots; the current one is always kept."""
        if keep < 1:
            raise StoreError("--keep must be at least 1")
        snapshots = self.list()
        doomed = [s for s in snapshots[: max(0, len(snapshots) - keep)] if not s.current]
        for info in doomed:
            # Rename first so a half-deleted snapshot is never listed; a worker that still
            # has it mapped keeps reading the unlinked file until it switches.
            self.staging.mkdir(exist_ok=True)
            trash = self.staging / (info.id + ".deleted")
            os.rename(info.path, trash)
            shutil.rmtree(trash)
        return [info.id for info in doomed]


# The writer lock files this process holds (open and flocked).
_held_locks: list[IO[str]] = []


def _close_inherited_locks() -> None:
    """In a forked child (a build worker): close the copies of the writer lock files.

    An flock belongs to the open file, and the file stays locked while any process keeps a
    descriptor of it: a child that outlived its killed parent would keep the data directory
    locked. Closing the child's copy leaves the parent's lock held.
    """
    for lock in _held_locks:
        lock.close()
    _held_locks.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)
