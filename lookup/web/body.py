"""Reading a request body: the one place a handler takes a body off the wire (SPEC.md 3).

A body that cannot be read is the client's fault, whatever the reason: a `Content-Encoding` this
service does not decode, compressed bytes that fail to decompress, a multipart body without a
boundary or with broken parts, a form in an unknown charset. Each is a 400 (`code` `body`) with
one log line naming the failure's class, never a 500 with a traceback. A body slower than the
read timeout is a 408 and the connection closes; a client that hangs up mid-body raises
ConnectionError, which the Frontline notes calmly (there is no one left to answer).

Every failure answers `Connection: close`: the rest of the body, if any, is left unread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.compression_utils import HAS_BROTLI, HAS_ZSTD

from lookup.web.errors import ApiError

__all__ = ("ENCODINGS", "BodyReader")

T = TypeVar("T")

# What aiohttp's parser decodes here. Any other coding it passes through as it came, and the
# handler would then parse compressed bytes as JSON: refused up front instead.
_DECODED = {"", "identity", "gzip", "deflate"}
if HAS_BROTLI:
    _DECODED.add("br")
if HAS_ZSTD:
    _DECODED.add("zstd")
ENCODINGS = frozenset(_DECODED)
_NAMED = ", ".join(sorted(ENCODINGS - {"", "identity"}))


class BodyReader:
    """Read request bodies within a time limit, turning every failure into a SPEC 3 error."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout  # seconds for a whole body (ConnectionLimits.body_timeout)

    async def read(self, request: web.BaseRequest) -> bytes:
        """Return the body's bytes, decoded from its Content-Encoding."""
        return await self._within(request, request.read)

    async def form(self, request: web.BaseRequest) -> dict[str, Any]:
        """Return the fields of a form-urlencoded or multipart body (file parts as None)."""
        post = await self._within(request, request.post)
        return {k: v if isinstance(v, str) else None for k, v in post.items()}

    async def _within(self, request: web.BaseRequest, read: Callable[[], Awaitable[T]]) -> T:
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ENCODINGS:
            raise ApiError(
                400,
                "body",
                f"body: this Content-Encoding is not supported; send the body as it is or "
                f"compressed with one of {_NAMED}",
                note="body refused: unsupported Content-Encoding",
                close=True,
            )
        try:
            async with asyncio.timeout(self.timeout):
                return await read()
        except web.HTTPRequestEntityTooLarge:
            raise  # the Frontline's 413, naming the limit
        except (ConnectionError, asyncio.CancelledError):
            raise  # the client is gone: nothing to answer
        except TimeoutError:
            raise ApiError(
                408,
                "request_timeout",
                f"the request body did not arrive within {self.timeout:g} s",
                note="body timed out",
                close=True,
            ) from None
        except Exception as exc:
            # aiohttp's decoders say what is wrong with ValueError (no multipart boundary, a
            # broken part, bytes that are no UTF-8), LookupError (an unknown charset),
            # RuntimeError or TypeError (a part's unknown encoding), zlib.error, or its own
            # RequestPayloadError / HttpProcessingError (decompression, framing). Whichever it
            # is, the body cannot be read; the message may quote the body, so it stays unsaid.
            raise ApiError(
                400,
                "body",
                f"body: {_problem(request, exc)}",
                note=f"body refused: {type(exc).__name__}",
                close=True,
            ) from None


def _problem(request: web.BaseRequest, exc: Exception) -> str:
    """Say what is wrong in a fixed phrase: exception messages may quote the body."""
    cause = exc.__cause__ if isinstance(exc, web.RequestPayloadError) else exc
    kind = type(cause).__name__
    if kind == "ContentEncodingError":
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        return f"does not decompress as {encoding}"
    if kind == "TransferEncodingError":
        return "its chunked transfer encoding is broken"
    if kind == "ContentLengthError":
        return "it is shorter than its Content-Length"
    if request.content_type == "multipart/form-data":
        return "not readable as multipart/form-data (a boundary and well-formed parts needed)"
    if request.content_type == "application/x-www-form-urlencoded":
        return "not readable as a form (application/x-www-form-urlencoded, UTF-8)"
    return f"cannot be read ({kind})"
