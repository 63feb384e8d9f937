"""One worker's settings (`ServiceConfig`) and what it opens at start (`WorkerResources`).

Route objects are made with the app and bound to the resources once they are open, after the
fork (LMDB must not cross one): each keeps what its handlers use as plain attributes, so the hot
path does no app-state lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lookup.clock import Today
from lookup.service.audit import AuditLog
from lookup.service.clients import ClientStore
from lookup.service.limits import ConnectionLimits
from lookup.service.metrics import Metrics, SharedCounters
from lookup.web.frontline import Frontline
from lookup.web.guard import Guard
from lookup.web.snapshots import SnapshotWatcher

__all__ = ("MAX_BATCH", "TOKEN_TTL", "ServiceConfig", "WorkerResources")

MAX_BATCH = 1000  # SPEC 3
TOKEN_TTL = 3600  # seconds; expires_in of the gateway's APIKey


@dataclass(frozen=True)
class ServiceConfig:
    """Settings of one worker's app."""

    data_dir: str
    worker_index: int = 0
    workers: int = 1  # each worker enforces 1/workers of a client's rate (service.clients)
    audit_fsync: str = "interval"  # never | interval | always (service.audit)
    audit_dir: str | None = None  # default DATA/audit
    metrics: bool = True
    shared_metrics: SharedCounters | None = None  # None: this worker's counters only
    # Limits. A 1000-id batch is ~25 KB; 256 KiB leaves room for ids pasted with spaces.
    max_body: int = 256 * 1024
    max_batch: int = MAX_BATCH
    max_line_size: int = 8190
    max_field_size: int = 8190
    max_headers: int = 100
    limits: ConnectionLimits = ConnectionLimits()  # timeouts and the connection cap
    # The snapshot watcher (lookup.web.snapshots): SPEC wants a new snapshot served within 2 s.
    poll_interval: float = 0.5
    reader_grace: float = 5.0
    token_ttl: int = TOKEN_TTL

    @property
    def worker_name(self) -> str:
        return f"w{self.worker_index}"


@dataclass(frozen=True)
class WorkerResources:
    """What one worker opened at start, for the route objects to bind."""

    config: ServiceConfig
    front: Frontline
    watcher: SnapshotWatcher
    clients: ClientStore
    guard: Guard
    audit: AuditLog
    metrics: Metrics | None  # None when metrics are off
    today: Today
    secret: bytes  # the data directory's secret: audit hashes, gateway tokens
    refresh_clients: Callable[[], bool]  # reload clients.json if it changed
