"""What every route does around its handler: request id, JSON errors, request metrics."""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from lookup.web.errors import HTTP_CODES, ApiError, describe_unhandled, error_response, log

__all__ = ("REQUEST_ID", "Frontline", "Handler", "RequestIds")

REQUEST_ID = "X-Request-Id"
# An incoming X-Request-Id is echoed (and logged) only when it is a short plain token with no
# run of 9 or more digits: a client cannot put arbitrary text into our responses and logs, nor
# an ID number (a 12-digit CCCD, a 10-digit social insurance number, the 12 digits ending a card
# code: SPEC 5), whatever it is wrapped in. Any other value is replaced by a fresh id.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII).fullmatch
_DIGIT_RUN = re.compile(r"[0-9]{9}", re.ASCII).search


class RequestIds:
    """Make request ids: a per-process prefix and a counter, cheaper than a uuid4 per request."""

    def __init__(self, worker: int | str = 0) -> None:
        # The pid and a random tag keep ids of restarted or parallel workers apart.
        self.prefix = f"w{worker}-{os.getpid():x}{secrets.token_hex(2)}-"
        self._next = itertools.count(1).__next__

    def new(self) -> str:
        """Return a fresh id."""
        return f"{self.prefix}{self._next():x}"

    def for_request(self, request: web.BaseRequest) -> str:
        """Return the caller's X-Request-Id when it is a safe plain token, else a fresh id."""
        incoming = request.headers.get(REQUEST_ID)
        if incoming is not None and _PLAIN_TOKEN(incoming) and not _DIGIT_RUN(incoming):
            return incoming
        return self.new()


Observe = Callable[[str, int, float], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Frontline:
    """What every route does around its handler: request id, JSON errors, request metrics.

    Routes are wrapped one by one (`wrap`) instead of through an aiohttp middleware: a
    middleware costs every request two extra layers (aiohttp adds its own current-app one), and
    the benchmark counts them. Unknown paths and methods get explicit routes (`not_found`,
    `not_allowed`), so aiohttp's own 404/405 never need translating.
    """

    def __init__(self, ids: RequestIds, max_body: int) -> None:
        self.ids = ids
        self.max_body = max_body
        self.observe: Observe | None = None  # Metrics.request, bound when metrics open
        self.clock = time.perf_counter
        # Set once the worker stops (ServiceRunner.drain): answers then say `Connection: close`,
        # so clients take their next request elsewhere instead of racing the closing socket.
        self.draining = False

    def wrap(self, label: str, handler: Handler) -> Handler:
        """Return the handler with request id, JSON errors and metrics under `label`."""
        for_request = self.ids.for_request
        clock = self.clock
        fail = self.fail

        async def endpoint(request: web.Request) -> web.StreamResponse:
            start = clock()
            try:
                response = await handler(request)
            except Exception as exc:
                request_id = for_request(request)
                response = fail(exc, request_id)
                response.headers[REQUEST_ID] = request_id
            else:
                if not response.prepared:  # a streamed answer has sent its headers already
                    response.headers[REQUEST_ID] = for_request(request)
            if self.draining and not response.prepared:
                response.force_close()
            observe = self.observe
            if observe is not None:
                observe(label, response.status, clock() - start)
            return response

        endpoint.__name__ = endpoint.__qualname__ = getattr(handler, "__name__", label)
        endpoint.__doc__ = handler.__doc__
        return endpoint

    def fail(self, exc: Exception, request_id: str) -> web.Response:
        """Return the JSON error response for an exception a handler raised (logged once)."""
        if isinstance(exc, ApiError):
            if exc.note is not None:
                log.warning("request %s: %s", request_id, exc.note)
            return exc.response()
        if isinstance(exc, ConnectionError):
            # The client hung up before its answer (mid-body, say): nothing failed here, and
            # the answer below reaches no one.
            log.info("request %s: the client closed the connection", request_id)
            return error_response(400, "request", "the connection was closed")
        if isinstance(exc, web.HTTPException):
            # aiohttp's own, raised inside a handler: 413 from request.read() / post().
            if exc.status == 413:
                return error_response(
                    413, "body_too_large", f"request body too large; at most {self.max_body} bytes"
                )
            return error_response(exc.status, HTTP_CODES.get(exc.status, "http"), exc.reason)
        log.error("request %s: unhandled error: %s", request_id, describe_unhandled(exc))
        return error_response(500, "internal", "internal error; it has been logged")

    @staticmethod
    async def not_found(request: web.Request) -> web.Response:
        """Any unknown path: 404."""
        raise ApiError(404, "not_found", "no such path; /openapi.json lists the API")

    @staticmethod
    def not_allowed(allowed: str) -> Handler:
        """Return a handler answering 405 with `Allow: allowed`."""

        async def method_not_allowed(request: web.Request) -> web.Response:
            raise ApiError(
                405,
                "method_not_allowed",
                f"{request.method} not allowed here; use {allowed}",
                {"Allow": allowed},
            )

        return method_not_allowed
