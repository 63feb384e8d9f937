"""The aiohttp application (SPEC.md 3): `make_app(config)` and the runner that serves it.

One app per worker process. Resources open in `cleanup_ctx`, after the fork (LMDB must not
cross one), and close in reverse: the snapshot watcher (and through it the reader), the API
clients, the audit log, the metrics. Handlers are bound methods of small route objects that
hold what they need as attributes, so the hot path does no app-state lookups.

    ServiceRunner(make_app(ServiceConfig(data_dir=...)))   # in place of web.AppRunner
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from lookup import _core
from lookup.audit import AuditLog, load_secret
from lookup.keys import ClientStore, RateLimiter
from lookup.metrics import Metrics, SharedCounters
from lookup.web import openapi
from lookup.web.entitlements import MAX_BATCH, EntitlementRoutes, Today
from lookup.web.errors import JSON, Frontline, Guard, JsonErrorServer, RequestIds
from lookup.web.gateway import TOKEN_TTL, GatewayRoutes, TokenSigner
from lookup.web.snapshots import SnapshotWatcher

__all__ = (
    "AUDIT",
    "CLIENTS",
    "CONFIG",
    "METRICS",
    "WATCHER",
    "ServiceConfig",
    "ServiceRunner",
    "make_app",
)


@dataclass(frozen=True)
class ServiceConfig:
    """Settings of one worker's app."""

    data_dir: str
    worker_index: int = 0
    workers: int = 1  # each worker enforces 1/workers of a client's rate (lookup.keys)
    audit_fsync: str = "interval"  # never | interval | always (lookup.audit)
    audit_dir: str | None = None  # default DATA/audit
    metrics: bool = True
    shared_metrics: SharedCounters | None = None  # None: this worker's counters only
    # Limits. A 1000-id batch is ~25 KB; 256 KiB leaves room for ids pasted with spaces.
    max_body: int = 256 * 1024
    max_batch: int = MAX_BATCH
    max_line_size: int = 8190
    max_field_size: int = 8190
    max_headers: int = 100
    # The snapshot watcher (lookup.web.snapshots): SPEC wants a new snapshot served within 2 s.
    poll_interval: float = 0.5
    reader_grace: float = 5.0
    token_ttl: int = TOKEN_TTL

    @property
    def worker_name(self) -> str:
        return f"w{self.worker_index}"


CONFIG = web.AppKey("config", ServiceConfig)
WATCHER = web.AppKey("watcher", SnapshotWatcher)
CLIENTS = web.AppKey("clients", ClientStore)
AUDIT = web.AppKey("audit", AuditLog)
METRICS = web.AppKey("metrics", Metrics)  # absent when config.metrics is off
_GUARD = web.AppKey("guard", Guard)


class _Routes:
    """The route objects of one app, and the handlers that need only the app's resources."""

    def __init__(self, config: ServiceConfig, front: Frontline) -> None:
        self.config = config
        self.front = front
        self.entitlements = EntitlementRoutes(max_batch=config.max_batch)
        self.gateway = GatewayRoutes()
        self.openapi = orjson.dumps(openapi.spec(max_batch=config.max_batch))
        self.docs = (resources.files("lookup.web") / "static" / "docs.html").read_bytes()

    def bind(self, app: web.Application) -> None:
        self.watcher = app[WATCHER]
        self.audit = app[AUDIT]
        self.metrics = app.get(METRICS)
        self.guard = app[_GUARD]

    async def healthz(self, request: web.Request) -> web.Response:
        """GET /healthz: the process answers."""
        return web.Response(body=b'{"status":"ok"}', headers={"Content-Type": JSON})

    async def readyz(self, request: web.Request) -> web.Response:
        """GET /readyz: 200 when a snapshot is open and the audit log writable, else 503."""
        snapshot = self.watcher.current
        audit_ok = self.audit.healthy
        ready = snapshot is not None and audit_ok
        body = {
            "ready": ready,
            "snapshot": snapshot.id if snapshot else None,
            "snapshot_age_s": snapshot.age() if snapshot else None,
            "core": _core.CORE,
            "worker": self.config.worker_index,
            "pid": os.getpid(),
            "audit": "ok" if audit_ok else f"unwritable: {self.audit.last_error}",
            "audit_backlog": self.audit.backlog,
        }
        headers = {"Content-Type": JSON}
        if snapshot is not None:
            headers["X-Snapshot"] = snapshot.id
        return web.Response(status=200 if ready else 503, body=orjson.dumps(body), headers=headers)

    async def metrics_text(self, request: web.Request) -> web.Response:
        """GET /metrics [admin]: Prometheus text format."""
        self.guard(request, "admin")
        snapshot = self.watcher.current
        text = (
            self.metrics.render(
                snapshot_id=snapshot.id if snapshot else None,
                snapshot_age_s=snapshot.age() if snapshot else None,
                audit_backlog=self.audit.backlog,
            )
            if self.metrics is not None
            else "# metrics are off in this worker\n"
        )
        return web.Response(
            body=text.encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def openapi_json(self, request: web.Request) -> web.Response:
        """GET /openapi.json."""
        return web.Response(body=self.openapi, headers={"Content-Type": JSON})

    async def docs_html(self, request: web.Request) -> web.Response:
        """GET /docs: a self-contained page rendering /openapi.json."""
        return web.Response(body=self.docs, headers={"Content-Type": "text/html; charset=utf-8"})


_ROUTES = web.AppKey("routes", _Routes)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """Open the worker's resources (after the fork), bind the routes, close them at exit."""
    config = app[CONFIG]
    routes: _Routes = app[_ROUTES]
    clients = ClientStore(config.data_dir)
    limiter = RateLimiter(config.workers)
    secret = load_secret(config.data_dir)
    audit = AuditLog(
        config.audit_dir or os.path.join(config.data_dir, "audit"),
        worker=config.worker_name, fsync=config.audit_fsync, secret=secret,
    )  # fmt: skip
    metrics = Metrics(config.shared_metrics, config.worker_index) if config.metrics else None
    today = Today()
    gateway = routes.gateway

    def refresh_clients() -> bool:
        """Reload clients.json if it changed; then forget every verified key and login."""
        if not clients.reload_if_changed():
            return False
        guard.forget()  # a client may have been revoked
        gateway.forget_logins()
        return True

    guard = Guard(clients, limiter, refresh_clients)

    watcher = SnapshotWatcher(
        config.data_dir, interval=config.poll_interval, grace=config.reader_grace,
        on_poll=refresh_clients,
    )  # fmt: skip
    app[CLIENTS] = clients
    app[AUDIT] = audit
    app[WATCHER] = watcher
    app[_GUARD] = guard
    if metrics is not None:
        app[METRICS] = metrics
        routes.front.observe = metrics.request
    routes.bind(app)
    routes.entitlements.bind(
        watcher=watcher, guard=guard, audit=audit, metrics=metrics, today=today, front=routes.front
    )
    gateway.bind(
        watcher=watcher, clients=clients, guard=guard, audit=audit, metrics=metrics,
        today=today, signer=TokenSigner(secret, ttl=config.token_ttl), refresh=refresh_clients,
    )  # fmt: skip
    try:
        await watcher.start()
        yield
    finally:
        routes.front.observe = None
        await watcher.close()
        gateway.close()
        await audit.close()


def make_app(config: ServiceConfig) -> web.Application:
    """Return the HTTP API application for one worker; resources open when it starts."""
    front = Frontline(RequestIds(config.worker_index), config.max_body)
    app = web.Application(
        client_max_size=config.max_body,
        handler_args={
            # No access log: it would cost time on every request and, with the path, hold ID
            # numbers (SPEC 5).
            "access_log": None,
            "max_line_size": config.max_line_size,
            "max_field_size": config.max_field_size,
            "max_headers": config.max_headers,
        },
    )
    routes = _Routes(config, front)
    app[CONFIG] = config
    app[_ROUTES] = routes
    app.cleanup_ctx.append(_resources)
    ent, gw = routes.entitlements, routes.gateway
    router = app.router

    def add(
        method: str, path: str, handler: Any, label: str, *, wrapped: bool = False,
        head: bool = False,
    ) -> None:  # fmt: skip
        # `label` names the route in the metrics (lookup.metrics.ALIASES). Every other method
        # on the path answers a JSON 405.
        resource = router.add_resource(path, name=label)
        resource.add_route(method, handler if wrapped else front.wrap(label, handler))
        allowed = method
        if head:  # for load balancers' probes
            resource.add_route("HEAD", front.wrap(label, handler))
            allowed = f"{method}, HEAD"
        resource.add_route("*", front.wrap(label, front.not_allowed(allowed)))

    add("POST", "/v1/entitlements/batch", ent.batch, "batch")
    add("GET", "/v1/entitlements/{id}", ent.one, "entitlement", wrapped=True)  # does it itself
    add("GET", "/v1/vneid/cards/{cccd}", ent.vneid_card, "vneid")
    add("POST", "/api/token/take", gw.take_token, "token")
    add("POST", "/api/egw/KQNhanLichSuKCB2024", gw.check, "gateway")
    add("GET", "/healthz", routes.healthz, "healthz", head=True)
    add("GET", "/readyz", routes.readyz, "readyz", head=True)
    add("GET", "/metrics", routes.metrics_text, "metrics")
    add("GET", "/openapi.json", routes.openapi_json, "openapi")
    add("GET", "/docs", routes.docs_html, "docs")
    router.add_route("*", "/{path:.*}", front.wrap("other", front.not_found), name="other")
    return app


class ServiceRunner(web.AppRunner):
    """web.AppRunner whose connections answer even unparseable requests in the SPEC 3 JSON shape.

    A request line or header over the limit never reaches the app: aiohttp's connection
    handler answers it in text (and logs the offending line, which may hold an ID number).
    This runner's server makes connections with `JsonErrorRequestHandler` instead. Use it
    wherever web.AppRunner would be used.
    """

    __slots__ = ()

    async def drain(self, grace: float) -> None:
        """Stop the worker gently, then clean up (web.AppRunner.cleanup).

        Stop accepting; for up to `grace` seconds keep answering on the open connections, each
        answer with `Connection: close`, so a client's request sent as the signal landed is
        answered rather than cut off (aiohttp's cleanup alone closes idle keep-alive connections
        at once, dropping any request still unread in their sockets). Then cleanup closes the
        connections left idle and waits for requests in progress (`shutdown_timeout`).
        """
        for site in self.sites:
            await site.stop()
        self.app[_ROUTES].front.draining = True
        server = self.server
        loop = asyncio.get_running_loop()
        until = loop.time() + grace
        while server is not None and server.connections and loop.time() < until:
            await asyncio.sleep(0.02)
        await self.cleanup()

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = JsonErrorServer  # same object, one method overridden
        return server
