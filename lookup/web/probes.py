"""The routes for operators and tools: /healthz, /readyz, /metrics, /openapi.json and /docs."""

from __future__ import annotations

import os
from importlib import resources as package_files

import orjson
from aiohttp import web

from lookup import _core
from lookup.web import openapi
from lookup.web.errors import JSON
from lookup.web.resources import WorkerResources

__all__ = ("Probes",)


class Probes:
    """The probe and description routes; `bind` them to the open resources before serving."""

    def __init__(self, *, max_batch: int) -> None:
        self.openapi = orjson.dumps(openapi.spec(max_batch=max_batch))
        self.docs = (package_files.files("lookup.web") / "static" / "docs.html").read_bytes()

    def bind(self, resources: WorkerResources) -> None:
        """Bind the resources opened at startup."""
        self.worker_index = resources.config.worker_index
        self.watcher = resources.watcher
        self.audit = resources.audit
        self.metrics = resources.metrics
        self.guard = resources.guard

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
            "worker": self.worker_index,
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
