"""Errors, request ids and access checks shared by every route (SPEC.md 3).

Every error leaves as `{"error": {"code": "...", "message": "..."}}`: a 400 names the field at
fault in `code`; the other statuses use a fixed word (`unauthorized`, `forbidden`, `not_found`,
`method_not_allowed`, `body_too_large`, `rate_limited`, `not_ready`, `audit_unavailable`,
`internal`). Three paths lead here: handlers raise `ApiError` (or aiohttp's 413 from reading a
body), caught by `Frontline`; unknown paths and methods have routes of their own that raise
404/405; and requests aiohttp cannot even parse (a request line or header over the limit, bad
syntax) never reach the app, so `JsonErrorRequestHandler` answers those at the protocol level.

Nothing here logs a request line, a header value or an exception message: they may hold an ID
number or a name (SPEC.md 5), so logs carry exception class names only.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from lookup.keys import Client, ClientStore, RateLimiter

__all__ = (
    "JSON",
    "ApiError",
    "Guard",
    "JsonErrorRequestHandler",
    "JsonErrorServer",
    "RequestIds",
    "error_body",
    "error_response",
    "Frontline",
)

log = logging.getLogger("lookup.web")

JSON = "application/json; charset=utf-8"
REQUEST_ID = "X-Request-Id"
# An incoming X-Request-Id is echoed only when it is short and plain, so a client cannot put
# arbitrary text (or an ID number of some length) into our responses and their logs.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII).fullmatch

# aiohttp's HTTPException statuses, as SPEC 3 names them.
_HTTP_CODES = {
    400: "request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "rate_limited",
    503: "not_ready",
}


def error_body(code: str, message: str) -> bytes:
    """Return the SPEC 3 error body as JSON bytes."""
    return orjson.dumps({"error": {"code": code, "message": message}})


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """Return a JSON error response."""
    return web.Response(
        status=status,
        body=error_body(code, message),
        headers={"Content-Type": JSON, **(headers or {})},
    )


class ApiError(Exception):
    """Raised by a handler to answer with a SPEC 3 error instead of a result."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    def response(self) -> web.Response:
        """Return this error as a response."""
        return error_response(self.status, self.code, self.message, self.headers)


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
        """Return the caller's X-Request-Id when it is a plain token, else a fresh id."""
        incoming = request.headers.get(REQUEST_ID)
        if incoming is not None and _VALID_REQUEST_ID(incoming):
            return incoming
        return self.new()


def _describe_unhandled(exc: BaseException) -> str:
    """Name an unexpected exception and where it happened, without its message (SPEC 5)."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
    )
    return f"{type(exc).__name__} at {where}"


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
                response = fail(exc)
            if not response.prepared:  # a streamed answer has sent its headers already
                response.headers[REQUEST_ID] = for_request(request)
                if self.draining:
                    response.force_close()
            observe = self.observe
            if observe is not None:
                observe(label, response.status, clock() - start)
            return response

        endpoint.__name__ = endpoint.__qualname__ = getattr(handler, "__name__", label)
        endpoint.__doc__ = handler.__doc__
        return endpoint

    def fail(self, exc: Exception) -> web.Response:
        """Return the JSON error response for an exception a handler raised."""
        if isinstance(exc, ApiError):
            return exc.response()
        if isinstance(exc, web.HTTPException):
            # aiohttp's own, raised inside a handler: 413 from request.read() / post().
            if exc.status == 413:
                return error_response(
                    413, "body_too_large", f"request body too large; at most {self.max_body} bytes"
                )
            return error_response(exc.status, _HTTP_CODES.get(exc.status, "http"), exc.reason)
        log.error("unhandled error: %s", _describe_unhandled(exc))
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
                405, "method_not_allowed", f"{request.method} not allowed here; use {allowed}",
                {"Allow": allowed},
            )  # fmt: skip

        return method_not_allowed


# -- requests aiohttp cannot parse --------------------------------------------------------------
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
                log.error("unhandled error: %s", _describe_unhandled(exc))
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


class JsonErrorServer(Server):
    """aiohttp's Server, making `JsonErrorRequestHandler` connections."""

    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


# -- authentication, scope and rate ------------------------------------------------------------
_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="lookup"'}
_BAD_KEY = {"WWW-Authenticate": 'Bearer realm="lookup", error="invalid_token"'}


class Guard:
    """Check a request's Bearer key, its scope and its client's rate (SPEC 3)."""

    # Authorization headers already verified, bounded: a client uses one key for its life.
    CACHE_MAX = 4096

    def __init__(
        self,
        clients: ClientStore,
        limiter: RateLimiter,
        refresh: Callable[[], object] | None = None,
    ) -> None:
        self._authenticate = clients.authenticate
        # Reloads clients.json if it changed (and drops every verified-key cache): called once
        # on an unknown key, so a key made by `lookup keys add` works at once, not a poll later.
        self._refresh = refresh or clients.reload_if_changed
        self._check_rate = limiter.check
        self._clock = time.monotonic
        # header value -> Client. Hashing the key (ClientStore.authenticate) costs more than
        # the rest of a lookup, so each header is verified once. A dict lookup leaks nothing
        # through timing: str hashes are keyed per process (SipHash), so a wrong key only
        # ever compares against a right one on a 64-bit hash collision.
        self._verified: dict[str, Client] = {}

    def forget(self) -> None:
        """Drop verified keys (clients.json changed: a key may have been revoked)."""
        self._verified = {}

    def __call__(self, request: web.BaseRequest, scope: str) -> Client:
        """Return the client allowed to make this request, or raise ApiError 401/403/429."""
        header = request.headers.get("Authorization")
        if header is None:
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <key>", _UNAUTHORIZED)
        client = self._verified.get(header)
        if client is None:
            client = self._verify(header)
        if scope not in client.scopes:
            raise ApiError(403, "forbidden", f"this key lacks the {scope!r} scope")
        wait = self._check_rate(client, self._clock())
        if wait > 0.0:
            raise _rate_limited(client, wait)
        return client

    def _verify(self, header: str) -> Client:
        kind, _, key = header.partition(" ")
        if kind.lower() != "bearer" or not key:
            raise ApiError(
                401, "unauthorized", "the Authorization header must be Bearer <key>", _BAD_KEY
            )
        client = self._authenticate(key.strip())
        if client is None and self._refresh():
            client = self._authenticate(key.strip())
        if client is None:
            raise ApiError(401, "unauthorized", "unknown or revoked key", _BAD_KEY)
        if len(self._verified) >= self.CACHE_MAX:
            self._verified = {}
        self._verified[header] = client
        return client

    def check_rate(self, client: Client) -> None:
        """Raise ApiError 429 with Retry-After when the client is over its rate."""
        wait = self._check_rate(client, self._clock())
        if wait > 0.0:
            raise _rate_limited(client, wait)


def _rate_limited(client: Client, wait: float) -> ApiError:
    seconds = max(1, int(wait + 0.999))  # Retry-After is whole seconds, never 0
    return ApiError(
        429,
        "rate_limited",
        f"rate limit of {client.rate_per_s:g} requests/s exceeded; retry in {seconds} s",
        {"Retry-After": str(seconds)},
    )
