"""The audit log (SPEC.md 5): one JSON line per answered lookup, kept before the answer leaves.

    DATA/audit.key                          the key of `hash_id` (32 random bytes, 0600)
    DATA/audit/audit-YYYY-MM-DD-<worker>.jsonl

A record holds the time (ISO 8601, UTC), the client, the officer (keyed hash), the endpoint, a
keyed hash of each looked-up id, the result code of each and the snapshot:

    {"time": "2026-06-01T02:03:04.567Z", "client": "bv-bach-mai", "officer": null,
     "endpoint": "entitlement", "ids": ["3f1c..."], "results": ["000"], "snapshot": "2026..."}

A batch is one record with the lists in request order. No id or name is ever written in clear:
an investigator finds the lookups of a person by computing `hash_id` of their CCCD, card code or
social insurance number with the same secret (`AuditLog.hash_id`).

Files rotate at midnight UTC, the clock of the `time` field, so a record's file is named by the
date its timestamp starts with. Each worker appends to its own file (O_APPEND), so no two
processes interleave writes and no lock is needed; a restarted worker continues its
predecessor's file.

Durability: `record()` returns only once its line has been handed to the kernel with os.write,
so a worker killed with SIGKILL right after answering has lost no record (the page cache
outlives the process). Concurrent requests share writes: each appends its line to a pending
buffer and awaits one future; a single `loop.call_soon` flush writes everything pending with one
os.write and wakes them all. Surviving a power cut is the fsync policy's job:
`never`, `interval` (at most once a second, in the background; the default) or `always` (before
`record()` returns, in an executor so the event loop never waits on the disk).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from lookup import _core
from lookup._os import write_durably
from lookup.errors import LookupServiceError

__all__ = ("FSYNC_POLICIES", "AuditLog", "AuditUnavailable", "load_secret")

log = logging.getLogger(__name__)

FSYNC_POLICIES = ("never", "interval", "always")
SECRET_FILE = "audit.key"
WORKER = re.compile(r"[A-Za-z0-9_.-]{1,32}", re.ASCII)


class AuditUnavailable(LookupServiceError):
    """The audit record could not be written: the lookup must not be answered (SPEC.md 5)."""


def load_secret(data_dir: str | os.PathLike[str]) -> bytes:
    """Return the data directory's audit secret, creating it (0600) the first time."""
    path = Path(data_dir) / SECRET_FILE
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    # Of two workers racing here, one secret wins and both read it.
    write_durably(path, secrets.token_bytes(32), mode=0o600, exclusive=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    secret = path.read_bytes()
    if len(secret) < 16:
        raise AuditUnavailable(f"{path} is damaged ({len(secret)} bytes); restore it from backup")
    return secret


def _fsync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditLog:
    """One worker's audit log: `await record(...)` before answering a lookup."""

    # How often a flush checks that its open file is still the one at its path (an operator
    # moved or deleted the directory): a stat per write would be wasted in the common case.
    REOPEN_CHECK_S = 1.0
    # How often `healthy` retries opening the file while broken, so readiness recovers without
    # traffic.
    RETRY_S = 0.5

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        worker: str,
        fsync: str = "interval",
        secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {fsync!r}")
        if not WORKER.fullmatch(worker):
            raise ValueError(f"worker {worker!r}: 1-32 letters, digits, '.', '_' or '-'")
        if len(secret) < 16:
            raise ValueError("the audit secret must be at least 16 bytes")
        self.directory = Path(directory)
        self.worker = worker
        self.fsync = fsync
        self._clock = clock  # wall clock for timestamps and the day; injectable for tests
        # Keyed BLAKE2b is a MAC by design (RFC 7693); the core hashes a 1000-id batch in C
        # (core/idhash.pyx), ~10x faster than hashlib per id. Keys over 64 bytes are hashed.
        key = secret if len(secret) <= 64 else hashlib.blake2b(secret).digest()
        self._hasher = _core.IdHasher(key)

        self._fd = -1
        self._path: Path | None = None
        self._identity: tuple[int, int] | None = None
        self._day_ends = 0.0
        self._checked_at = 0.0
        self._healthy = True
        self._retry_at = 0.0
        self.last_error: str | None = None

        self._pending: list[bytes] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._backlog = 0
        self._dirty = False
        self._sync_task: asyncio.Task[None] | None = None
        self._closed = False
        self.writes = 0  # os.write calls made for records: grouping makes this < records
        self._second = -1
        self._second_text = ""
        self._ms = -1
        self._ms_text = ""
        try:
            self._open(self._clock())
        except OSError as exc:
            self._fail(exc)  # start unready; `healthy` and `record` keep retrying

    # -- public -----------------------------------------------------------------------------
    def hash_id(self, id: str) -> str:
        """Return the keyed hash of an id: BLAKE2b-128 under the audit secret, 32 hex digits."""
        return self._hasher.hash_id(id)

    def record(
        self,
        *,
        client: str,
        endpoint: str,
        ids: Sequence[str],
        results: Sequence[str] | orjson.Fragment,
        snapshot: str | None,
        officer: str | None = None,
    ) -> asyncio.Future[None]:
        """Queue one record; await the result: done once written (os.write), else AuditUnavailable.

        `results` are the answers' codes, or already a JSON array of them (a batch's, from
        the core).

        A plain function returning a future, not a coroutine: the hot path pays for neither a
        coroutine nor a shield, and a cancelled request cancels only its own future.
        """
        if self._closed:
            raise AuditUnavailable("the audit log is closed")
        now = self._clock()
        line = orjson.dumps(
            {
                "time": self._iso(now),
                "client": client,
                "officer": None if officer is None else self.hash_id(officer),
                "endpoint": endpoint,
                "ids": orjson.Fragment(self._hasher.hash_ids_json(ids)),
                "results": results if isinstance(results, orjson.Fragment) else list(results),
                "snapshot": snapshot,
            }
        )
        loop = asyncio.get_running_loop()
        if not self._pending:  # the first record of this loop iteration schedules the write
            loop.call_soon(self._flush)
            if self.fsync == "interval" and self._sync_task is None:
                self._sync_task = loop.create_task(self._sync_every_second())
        future = loop.create_future()
        self._pending.append(line + b"\n")
        self._waiters.append(future)
        self._backlog += 1
        return future

    @property
    def healthy(self) -> bool:
        """Whether the last write worked; while broken, retry opening at most every 0.5 s."""
        if not self._healthy and not self._closed and time.monotonic() >= self._retry_at:
            self._retry_at = time.monotonic() + self.RETRY_S
            try:
                self._open(self._clock())
            except OSError as exc:
                self.last_error = _describe(exc)
            else:
                self._recovered()
        return self._healthy

    @property
    def backlog(self) -> int:
        """Return the number of records accepted but not yet written (or fsynced, `always`)."""
        return self._backlog

    async def close(self) -> None:
        """Write what is pending, fsync (unless `never`) and close the file."""
        if self._closed:
            return
        if self._pending:
            self._flush()
        self._closed = True
        if self._sync_task is not None:
            self._sync_task.cancel()
            try:
                await self._sync_task
            except asyncio.CancelledError:
                pass
            self._sync_task = None
        fd, self._fd = self._fd, -1
        if fd >= 0:
            if self.fsync == "never":
                os.close(fd)
            else:
                try:
                    await asyncio.get_running_loop().run_in_executor(None, _fsync_and_close, fd)
                except OSError as exc:
                    log.error("audit log: fsync at close failed: %s", _describe(exc))

    # -- writing ----------------------------------------------------------------------------
    def _flush(self) -> None:
        lines, self._pending = self._pending, []
        waiters, self._waiters = self._waiters, []
        if not lines:
            return
        try:
            self._write(b"".join(lines))
            # `always`: the records count as kept once on disk; the loop serves on meanwhile,
            # with a duplicate fd in case the file rotates before the disk is done.
            fd = os.dup(self._fd) if self.fsync == "always" else -1
        except OSError as exc:
            self._fail(exc)
            self._settle(waiters, AuditUnavailable(f"audit log not writable: {self.last_error}"))
            return
        if fd < 0:
            self._settle(waiters, None)
            return
        synced = asyncio.get_running_loop().run_in_executor(None, _fsync_and_close, fd)
        synced.add_done_callback(lambda f: self._synced(f, waiters))

    def _synced(self, synced: asyncio.Future[None], waiters: list[asyncio.Future[None]]) -> None:
        exc = synced.exception()
        if exc is None:
            self._settle(waiters, None)
        else:
            self._fail(exc)
            self._settle(waiters, AuditUnavailable(f"audit log not durable: {self.last_error}"))

    def _settle(self, waiters: list[asyncio.Future[None]], error: Exception | None) -> None:
        """Complete the waiting requests' futures (a cancelled request's is already done)."""
        self._backlog -= len(waiters)
        for waiter in waiters:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)

    def _write(self, data: bytes) -> None:
        now = self._clock()
        if (
            self._fd < 0
            or now >= self._day_ends
            or (now - self._checked_at >= self.REOPEN_CHECK_S and not self._still_same_file(now))
        ):
            self._open(now)
        view = memoryview(data)
        while view:  # a short write (a full disk, a signal) leaves the rest to write
            view = view[os.write(self._fd, view) :]
        self.writes += 1
        self._dirty = True
        if not self._healthy:
            self._recovered()

    def _still_same_file(self, now: float) -> bool:
        self._checked_at = now
        try:
            st = os.stat(self._path) if self._path else None
        except OSError:
            return False
        return st is not None and (st.st_dev, st.st_ino) == self._identity

    def _open(self, now: float) -> None:
        """Open (or reopen, or rotate to) the file of the UTC day of `now`; raise OSError."""
        self._close_fd()
        day = datetime.fromtimestamp(now, UTC).date()
        path = self.directory / f"audit-{day.isoformat()}-{self.worker}.jsonl"
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            st = os.fstat(fd)
            # A predecessor killed in the middle of a write may have left half a line; start
            # ours on a fresh one so every complete line stays parseable.
            if st.st_size and os.pread(fd, 1, st.st_size - 1) != b"\n":
                os.write(fd, b"\n")
        except OSError:
            os.close(fd)
            raise
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        self._fd, self._path, self._identity = fd, path, (st.st_dev, st.st_ino)
        self._day_ends = midnight.timestamp()
        self._checked_at = now

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        if self._dirty and self.fsync != "never":
            # The day's last records (rotation) still get their fsync, off the loop.
            self._dirty = False
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (constructor): close plainly
                pass
            else:
                loop.run_in_executor(None, _fsync_and_close, fd).add_done_callback(_log_failure)
                return
        try:
            os.close(fd)
        except OSError:
            pass  # the fd was already gone (EBADF): that is why we are reopening

    def _fail(self, exc: BaseException) -> None:
        self.last_error = _describe(exc)
        if self._healthy:
            log.error(
                "audit log %s: %s; lookups get 503 until it recovers",
                self.directory,
                self.last_error,
            )
        self._healthy = False
        self._retry_at = time.monotonic() + self.RETRY_S
        self._dirty = False
        self._close_fd()

    def _recovered(self) -> None:
        self._healthy = True
        self.last_error = None
        log.warning("audit log %s writable again", self.directory)

    async def _sync_every_second(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            if not self._dirty or self._fd < 0:
                continue
            self._dirty = False
            # A duplicate fd: the loop may rotate or reopen the file while the disk works.
            fd = os.dup(self._fd)
            try:
                await loop.run_in_executor(None, _fsync_and_close, fd)
            except OSError as exc:
                self._fail(exc)

    def _iso(self, now: float) -> str:
        ms = round(now * 1000)
        if ms == self._ms:  # records of one loop iteration mostly share their millisecond
            return self._ms_text
        second, millis = divmod(ms, 1000)
        if second != self._second:  # strftime once a second, not per record
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._ms = ms
        self._ms_text = f"{self._second_text}.{millis:03d}Z"
        return self._ms_text


def _log_failure(done: asyncio.Future[None]) -> None:
    exc = done.exception()
    if exc is not None:
        log.error("audit log: fsync of a rotated file failed: %s", _describe(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        return f"{name}: {exc.strerror}"
    return str(exc)
