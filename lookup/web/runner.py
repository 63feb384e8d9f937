"""Serving the app: `ServiceRunner`, whose connections answer even unparseable requests in the
SPEC.md 3 JSON shape, and drain gently when the worker stops."""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from lookup.web.errors import describe_unhandled, error_response, log
from lookup.web.frontline import REQUEST_ID, Frontline

__all__ = ("FRONT", "JsonErrorRequestHandler", "JsonErrorServer", "ServiceRunner")

FRONT = web.AppKey("front", Frontline)  # set by make_app; drain tells it the worker is stopping
_FALLBACK_COUNT = itertools.count(1).__next__


def _fallback_request_id() -> str:
    # Made at import time, possibly before the workers fork: the pid tells workers apart.
    return f"p-{os.getpid():x}-{_FALLBACK_COUNT():x}"


class JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering unparseable requests in the SPEC 3 JSON shape."""

    __slots__ = ()

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
    """aiohttp's Server, making `JsonErrorRequestHandler` connections."""

    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


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
        server.__class__ = JsonErrorServer  # same object, one method overridden
        return server
