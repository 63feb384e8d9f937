"""Who may ask: a request's Bearer key, its scope and its client's rate (SPEC.md 3)."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from lookup.service.clients import Client, ClientStore, RateLimiter
from lookup.web.errors import ApiError

__all__ = ("Guard",)

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
