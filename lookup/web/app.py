"""The aiohttp application (SPEC.md 3): `make_app(config)`, served with `ServiceRunner`.

One app per worker process. Resources open in `cleanup_ctx`, after the fork (LMDB must not
cross one), and close in reverse: the snapshot watcher (and through it the reader), the API
clients, the audit log, the metrics. Handlers are bound methods of small route objects that
hold what they need as attributes, so the hot path does no app-state lookups.

    ServiceRunner(make_app(ServiceConfig(data_dir=...)))   # in place of web.AppRunner
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from aiohttp import web

from lookup.clock import Today
from lookup.schema import ROUTES
from lookup.service.audit import AuditLog, load_secret
from lookup.service.clients import ClientStore, RateLimiter
from lookup.service.metrics import Metrics
from lookup.web.entitlements import EntitlementRoutes
from lookup.web.frontline import Frontline, Handler, RequestIds
from lookup.web.gateway import GatewayRoutes
from lookup.web.guard import Guard
from lookup.web.probes import Probes
from lookup.web.resources import ServiceConfig, WorkerResources
from lookup.web.runner import FRONT, LIMITS, ServiceRunner
from lookup.web.snapshots import SnapshotWatcher
from lookup.web.vneid import VneidRoutes

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

CONFIG = web.AppKey("config", ServiceConfig)
WATCHER = web.AppKey("watcher", SnapshotWatcher)
CLIENTS = web.AppKey("clients", ClientStore)
AUDIT = web.AppKey("audit", AuditLog)
METRICS = web.AppKey("metrics", Metrics)  # absent when config.metrics is off


class _RouteObjects:
    """The route objects of one app: made with it, bound to its resources when they open."""

    def __init__(self, config: ServiceConfig) -> None:
        self.entitlements = EntitlementRoutes(max_batch=config.max_batch)
        self.vneid = VneidRoutes()
        self.gateway = GatewayRoutes()
        self.probes = Probes(max_batch=config.max_batch)

    def handlers(self) -> dict[str, Handler]:
        """Return each route's handler by its label in lookup.schema.ROUTES."""
        ent, gw, probes = self.entitlements, self.gateway, self.probes
        return {
            "entitlement": ent.one,
            "batch": ent.batch,
            "vneid": self.vneid.card,
            "token": gw.take_token,
            "gateway": gw.check,
            "healthz": probes.healthz,
            "readyz": probes.readyz,
            "metrics": probes.metrics_text,
            "openapi": probes.openapi_json,
            "docs": probes.docs_html,
        }

    def bind(self, resources: WorkerResources) -> None:
        for routes in (self.entitlements, self.vneid, self.gateway, self.probes):
            routes.bind(resources)


_ROUTE_OBJECTS = web.AppKey("route_objects", _RouteObjects)

# Routes that do the Frontline's work themselves (the hot one: a coroutine layer less), and
# routes that also answer HEAD (load balancers' probes).
_UNWRAPPED = frozenset({"entitlement"})
_WITH_HEAD = frozenset({"healthz", "readyz"})


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """Open the worker's resources (after the fork), bind the routes, close them at exit."""
    config = app[CONFIG]
    routes = app[_ROUTE_OBJECTS]
    front = app[FRONT]
    clients = ClientStore(config.data_dir)
    secret = load_secret(config.data_dir)
    audit = AuditLog(
        config.audit_dir or os.path.join(config.data_dir, "audit"),
        worker=config.worker_name,
        fsync=config.audit_fsync,
        secret=secret,
    )
    metrics = Metrics(config.shared_metrics, config.worker_index) if config.metrics else None
    gateway = routes.gateway

    def refresh_clients() -> bool:
        """Reload clients.json if it changed; then forget every verified key and login."""
        if not clients.reload_if_changed():
            return False
        guard.forget()  # a client may have been revoked
        gateway.forget_logins()
        return True

    guard = Guard(clients, RateLimiter(config.workers), refresh_clients)
    watcher = SnapshotWatcher(
        config.data_dir,
        interval=config.poll_interval,
        grace=config.reader_grace,
        on_poll=refresh_clients,
    )
    app[CLIENTS] = clients
    app[AUDIT] = audit
    app[WATCHER] = watcher
    if metrics is not None:
        app[METRICS] = metrics
        front.observe = metrics.request
    routes.bind(
        WorkerResources(
            config=config,
            front=front,
            watcher=watcher,
            clients=clients,
            guard=guard,
            audit=audit,
            metrics=metrics,
            today=Today(),
            secret=secret,
            refresh_clients=refresh_clients,
        )
    )
    try:
        await watcher.start()
        yield
    finally:
        front.observe = None
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
            "keepalive_timeout": config.limits.keepalive_timeout,
            # After an answer given before the body was read (a 401, say), aiohttp reads the
            # rest for this long before closing: no longer than a body may take to arrive.
            "lingering_time": config.limits.body_timeout,
            "max_line_size": config.max_line_size,
            "max_field_size": config.max_field_size,
            "max_headers": config.max_headers,
        },
    )
    routes = _RouteObjects(config)
    app[CONFIG] = config
    app[FRONT] = front
    app[LIMITS] = config.limits
    app[_ROUTE_OBJECTS] = routes
    app.cleanup_ctx.append(_resources)
    handlers = routes.handlers()
    for route in ROUTES:
        # `label` names the route in the metrics (lookup.service.metrics.ALIASES).
        handler = handlers[route.label]
        resource = app.router.add_resource(route.path, name=route.label)
        wrapped = front.wrap(route.label, handler)
        resource.add_route(route.method, handler if route.label in _UNWRAPPED else wrapped)
        allowed = route.method
        if route.label in _WITH_HEAD:
            resource.add_route("HEAD", wrapped)
            allowed = f"{route.method}, HEAD"
        resource.add_route("*", front.wrap(route.label, front.not_allowed(allowed)))
    app.router.add_route("*", "/{path:.*}", front.wrap("other", front.not_found), name="other")
    return app
