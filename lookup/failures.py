"""What the operating system or LMDB refused a command, said in one line (SPEC.md 2).

A full disk is the usual one: a build's sort runs and new snapshot, a delta's overlay, a report,
an audit line. Without this, it surfaced as a traceback ending `lmdb: commit: Input/output
error` (LMDB reports a short write on a full disk as EIO, and the compiled writer's errors carry
no errno). `explain` names the disk, what is free on it (measured after the command cleaned up
its staging), what the command needs where that is known, and what to do.
"""

from __future__ import annotations

import errno
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ("Failure", "build_space", "explain")

_MAKE_ROOM = "; free some space or use a larger disk"
_MAKE_ROOM_HERE = (
    "; free some space (`lookup prune --keep N` deletes old snapshots) or use a larger disk"
)

# A gzip extract holds about a quarter of its plain size (measured on `lookup synth` output).
GZIP_RATIO = 4
LOW_SPACE = 64 * 2**20  # bytes; less left after a failed write reads as a full disk


@dataclass(frozen=True)
class Failure:
    """A failed command: `code` and `message` as the JSON error, `details` beside them."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        """Return the error object printed with --json (SPEC 3's shape, with the figures)."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}


def explain(
    exc: BaseException, where: Path, needed: int | None = None, *, data_dir: bool = False
) -> Failure | None:
    """Explain an OSError or an LMDB error of a command writing under `where`; None otherwise.

    `needed`: bytes the command needs on that disk, when it can be told. `data_dir`: `where` is
    a data directory, whose old snapshots `lookup prune` can delete to make room.
    """
    lmdb = sys.modules.get("lmdb")  # never imported: no LMDB error can have happened
    is_lmdb = lmdb is not None and isinstance(exc, lmdb.Error)
    if not (isinstance(exc, OSError) or is_lmdb):
        return None
    filename = getattr(exc, "filename", None)
    if isinstance(filename, str) and filename:
        where = Path(filename).parent
    reason = _reason(exc, is_lmdb)
    code = _errno(exc, is_lmdb)
    space = _space(where)
    details: dict[str, Any] = {"path": str(where), **space, "needed_bytes": needed}
    said = _figures(space, needed)
    make_room = _MAKE_ROOM_HERE if data_dir else _MAKE_ROOM
    if code in (errno.ENOSPC, errno.EDQUOT):
        what = "is full" if code == errno.ENOSPC else "is over its quota"
        message = f"the disk holding {where} {what} ({reason}){said}{make_room}"
        return Failure("disk_full", message, details)
    if code == errno.EROFS:
        return Failure("read_only", f"the file system holding {where} is read-only ({reason})")
    if code in (errno.EACCES, errno.EPERM):
        return Failure("permission", f"permission denied ({reason}); check who owns {where}")
    if type(exc).__name__ == "MapFullError" or "MDB_MAP_FULL" in reason:
        return Failure(
            "map_full",
            f"the new snapshot outgrew the space reserved for it ({reason}); please report it",
        )
    if code in (errno.EIO, None):
        # EIO, or no errno at all, from a write: LMDB's way of saying the disk filled up. The
        # space left, even after the command removed its staging, tells whether it is likely.
        if _short_of_space(space, needed):
            return Failure(
                "disk_full",
                f"the disk holding {where} is too full for this: a write failed ({reason})"
                f"{said}{make_room}",
                details,
            )
        message = f"a read or write under {where} failed ({reason}){said}; check the disk"
        return Failure("io", message, details)
    return Failure("os", reason, {"path": str(where)})


def _short_of_space(space: dict[str, int], needed: int | None) -> bool:
    free, total = space.get("free_bytes"), space.get("total_bytes")
    if free is None or total is None:
        return False
    if needed is not None and free < needed:
        return True
    return free < min(LOW_SPACE, total // 50)  # under 2% of the disk, or 64 MiB, left


def build_space(extract: str) -> int | None:
    """Return about what a build of `extract` needs: its plain size, or None if unknown.

    The sorted runs and the new snapshot stand side by side before the runs are removed, each
    about half the plain CSV (~103 bytes a person stored, ~210 read).
    """
    try:
        size = Path(extract).stat().st_size
        with open(extract, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
    except OSError:
        return None
    return size * GZIP_RATIO if compressed or extract.endswith(".gz") else size


def _reason(exc: BaseException, is_lmdb: bool) -> str:
    if is_lmdb:
        return ": ".join(str(a) for a in exc.args) or type(exc).__name__
    assert isinstance(exc, OSError)
    if exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return exc.strerror or str(exc) or type(exc).__name__


def _errno(exc: BaseException, is_lmdb: bool) -> int | None:
    if is_lmdb:
        return {"DiskError": errno.ENOSPC, "ReadonlyError": errno.EACCES}.get(type(exc).__name__)
    assert isinstance(exc, OSError)
    return exc.errno


def _space(where: Path) -> dict[str, int]:
    """Free and total bytes of the file system holding `where` (its nearest existing parent)."""
    path = where.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return {}
    return {"free_bytes": usage.free, "total_bytes": usage.total}


def _figures(space: dict[str, int], needed: int | None) -> str:
    """': now 1.2 MiB free of 2.0 MiB, about 10.0 MiB needed', or '' when nothing is known.

    "Now": measured after the command gave up, and perhaps removed what it had written.
    """
    parts = []
    if "free_bytes" in space:
        parts.append(f"now {_size(space['free_bytes'])} free of {_size(space['total_bytes'])}")
    if needed is not None:
        parts.append(f"about {_size(needed)} needed")
    return f": {', '.join(parts)}" if parts else ""


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
