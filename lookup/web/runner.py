"""Serving the app: `ServiceRunner`, whose connections answer even unparseable requests in the
SPEC.md 3 JSON shape, never wait without a bound, are capped per worker, and drain gently when
the worker stops.

The bounds (lookup.service.limits.ConnectionLimits): aiohttp's keep-alive timeout closes a
connection idle between requests; a request head must arrive in full within `header_timeout`
of the connection's start or of its first byte (`JsonErrorRequestHandler`); a body within
`body_timeout` (lookup.web.body). At `max_connections` (within the open-file limit) the
connections idle the longest are closed to make room (`JsonErrorServer`): a flood of sockets
that send nothing cannot keep a new client from being answered.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from lookup.service.limits import ConnectionLimits, connection_cap
from lookup.web.errors import describe_unhandled, error_response, log
from lookup.web.frontline import REQUEST_ID, Frontline

__all__ = ("FRONT", "LIMITS", "JsonErrorRequestHandler", "JsonErrorServer", "ServiceRunner")

FRONT = web.AppKey("front", Frontline)  # set by make_app; drain tells it the worker is stopping
LIMITS = web.AppKey("limits", ConnectionLimits)  # set by make_app; read when the server is made
_FALLBACK_COUNT = itertools.count(1).__next__


def _fallback_request_id() -> str:
    # Made at import time, possibly before the workers fork: the pid tells workers apart.
    return f"p-{os.getpid():x}-{_FALLBACK_COUNT():x}"


class JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler: unparseable requests answered in the SPEC 3 JSON shape, a
    request head that does not arrive in time closed, and when it went idle kept for the cap."""

    __slots__ = ("_head_timer", "_header_timeout", "idle_since")

    def __init__(
        self,
        manager: Server,
        *,
        header_timeout: float = ConnectionLimits.header_timeout,
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._head_timer: asyncio.TimerHandle | None = None
        self.idle_since = 0.0  # loop time of the connection's start or its last answer

    @property
    def waiting(self) -> bool:
        """Whether the connection waits for a request (nothing in progress, nothing queued)."""
        # aiohttp's own test for an idle connection (RequestHandler._process_keepalive).
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.idle_since = self._loop.time()
        # A new connection's first head is due within header_timeout, like any other.
        self._head_timer = self._loop.call_later(self._header_timeout, self._head_overdue)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages:
            # A head is complete (or unparseable, answered next): the body has its own bound.
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        elif data and self._head_timer is None and self.waiting:
            # Part of a head, between requests: the rest is due within header_timeout. (The
            # usual head comes whole in one read and never needs a timer.)
            self._head_timer = self._loop.call_later(self._header_timeout, self._head_overdue)

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self.waiting:  # still no whole head: close, as the keep-alive timeout does
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self.idle_since = self._loop.time()
            if resp.status == 408:
                # The body did not arrive in time: close now (the answer is flushed first)
                # rather than let aiohttp wait for the rest of it all over again.
                self.force_close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own version answers text and logs the exception, whose message quotes the
        # offending request line or header: it may hold an ID number (SPEC 5).
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error")
        if status >= 500:
            if exc is not None:
                log.error("unhandled error: %s", describe_unhandled(exc))
            response = error_response(status, "internal", "internal error; it has been logged")
        else:
            log.debug("unparseable request: %s", type(exc).__name__)
            if isinstance(exc, LineTooLong):
                limit = exc.args[1] if len(exc.args) > 1 else "the limit of"
                text = f"request line or a header is longer than {limit} bytes"
                response = error_response(status, "headers", text)
            else:
                text = f"malformed HTTP request ({type(exc).__name__})" if exc else "bad request"
                response = error_response(status, "request", text)
        response.headers[REQUEST_ID] = _fallback_request_id()
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        # aiohttp logs with a traceback whatever escapes a connection's loop. The usual case is
        # harmless: after a 400 for an unreadable body, aiohttp drains the rest of the body and
        # meets the same error again (or the client has gone). Anything else gets one line,
        # without the exception's message (it may quote the request: SPEC 5).
        exc = kw.get("exc_info")
        if isinstance(exc, (web.RequestPayloadError, ConnectionError)):
            return  # already said once, by the request's own log line
        if isinstance(exc, BaseException):
            log.error("connection error: %s", describe_unhandled(exc))
        else:
            log.error("connection error: %s", args[0] if args else "unknown")


class JsonErrorServer(Server):
    """aiohttp's Server, making `JsonErrorRequestHandler` connections, at most `cap` at once
    (the longest idle closed to make room)."""

    header_timeout = ConnectionLimits.header_timeout
    cap = ConnectionLimits.max_connections

    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(
            self, loop=self._loop, header_timeout=self.header_timeout, **self._kwargs
        )

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if len(self._connections) > self.cap:
            self._make_room()

    def _make_room(self) -> None:
        """Close the connections idle the longest, a few more than needed.

        Some spare room means a flood pays for this scan once per cap // 32 new connections,
        not at each one. A connection handling a request is never closed here; one still
        dribbling its request head counts as idle (it has sent no request yet).
        """
        idle = [
            h for h in self._connections if isinstance(h, JsonErrorRequestHandler) and h.waiting
        ]
        idle.sort(key=lambda h: h.idle_since)
        excess = len(self._connections) - self.cap + max(1, self.cap // 32)
        for handler in idle[:excess]:
            # Gone from the count now: its connection_lost comes a loop iteration later.
            del self._connections[handler]
            handler.force_close()
        if idle:
            log.info("connection cap %d reached: closed %d idle", self.cap, min(excess, len(idle)))


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
        self.app[FRONT].draining = True
        server = self.server
        loop = asyncio.get_running_loop()
        until = loop.time() + grace
        while server is not None and server.connections and loop.time() < until:
            await asyncio.sleep(0.02)
        await self.cleanup()

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = JsonErrorServer  # same object, a few methods overridden
        assert isinstance(server, JsonErrorServer)
        limits = self.app.get(LIMITS, ConnectionLimits())
        server.header_timeout = limits.header_timeout
        server.cap = connection_cap(limits.max_connections)
        return server
