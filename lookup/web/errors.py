"""The SPEC.md 3 error shape, `{"error": {"code": "...", "message": "..."}}`, and `ApiError`.

A 400 names the field at fault in `code` (`body` when the body itself cannot be read); the other
statuses use a fixed word (`unauthorized`, `forbidden`, `not_found`, `method_not_allowed`,
`request_timeout`, `body_too_large`, `rate_limited`, `not_ready`, `audit_unavailable`,
`internal`). Three paths lead here: handlers raise `ApiError` (or aiohttp's
413 from reading a body), caught by `lookup.web.frontline.Frontline`; unknown paths and methods
have routes of their own that raise 404/405; and requests aiohttp cannot even parse never reach
the app, so `lookup.web.runner` answers those at the protocol level.

Nothing in the web layer logs a request line, a header value or an exception message: they may
hold an ID number or a name (SPEC.md 5), so logs carry exception class names only.
"""

from __future__ import annotations

import logging
import traceback

import orjson
from aiohttp import web

__all__ = (
    "HTTP_CODES",
    "JSON",
    "ApiError",
    "audit_unavailable",
    "describe_unhandled",
    "error_body",
    "error_response",
    "log",
)

log = logging.getLogger("lookup.web")

JSON = "application/json; charset=utf-8"

# aiohttp's HTTPException statuses, as SPEC 3 names them.
HTTP_CODES = {
    400: "request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
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
    """Raised by a handler to answer with a SPEC 3 error instead of a result.

    `note`, when given, is logged once (lookup.web.frontline) with the request id: a fixed text
    and class names only, never anything the client sent. `close` answers with
    `Connection: close`, for a connection whose request body was left unread or unreadable.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        note: str | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.note = note
        self.close = close

    def response(self) -> web.Response:
        """Return this error as a response."""
        response = error_response(self.status, self.code, self.message, self.headers)
        if self.close:
            response.force_close()
        return response


def describe_unhandled(exc: BaseException) -> str:
    """Name an unexpected exception and where it happened, without its message (SPEC 5)."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
    )
    return f"{type(exc).__name__} at {where}"


def audit_unavailable() -> ApiError:
    """Return the 503 for a lookup whose audit record could not be kept (SPEC 5)."""
    return ApiError(
        503, "audit_unavailable", "the audit log cannot be written, so no lookup is answered"
    )
