"""What the package asks of the operating system in more than one place: durable file writes,
a child that dies with its parent, and the crash points of the crash-safety tests."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import sys
from pathlib import Path

__all__ = ("crash_point", "die_with_parent", "fsync_path", "write_durably")

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def write_durably(
    path: Path, data: bytes, *, mode: int | None = None, exclusive: bool = False
) -> None:
    """Write `path` so that a crash leaves either the old content or the new, never a mix.

    The data goes to a temporary file beside it, is fsynced, and takes the name in one step; the
    directory is fsynced after. `mode` sets the file's permission bits (0o600 for secrets).
    With `exclusive`, an existing file is left as it is: of two processes racing to create it,
    one wins and neither ever sees a half-written file.
    """
    # Racing creators need temporary names of their own; a sole writer reuses one, so a crash
    # leaves at most one stray .tmp behind.
    suffix = f".{os.getpid()}.{secrets.token_hex(4)}.tmp" if exclusive else ".tmp"
    tmp = path.with_name(path.name + suffix)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # a leftover .tmp may have had looser bits
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if exclusive:
        try:
            os.link(tmp, path)  # fails when the name exists
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    else:
        os.replace(tmp, path)
    fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by name (a directory after a rename in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def die_with_parent(signal: int, parent: int | None = None) -> None:
    """Have Linux send this (forked) process `signal` when its parent dies.

    With `parent` (the parent's pid) the request must hold: a failed prctl raises, and a parent
    that died before it was made ends this process at once. Without it, the request is made
    where the platform allows and otherwise skipped.
    """
    if parent is None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0)
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def crash_point(name: str) -> None:
    """Die here with SIGKILL when LOOKUP_CRASH_AT names this point (crash-safety tests)."""
    if os.environ.get("LOOKUP_CRASH_AT") == name:
        os.kill(os.getpid(), 9)
