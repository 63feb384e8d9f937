"""API clients: bearer keys, scopes, gateway logins and rate limits (SPEC.md 3, DOMAIN.md 5).

Clients live in `DATA/clients.json`, replaced atomically (temporary file, fsync, rename) under
`DATA/.clients.lock`, so `lookup keys ...` can run while the service serves. A key is shown once,
when it is made, and kept only as its SHA-256 hash: a leaked clients.json holds no usable key.
Keys are 32 random bytes, so one fast hash is enough; a gateway password is a human secret, so
it is stretched (scrypt) before it is stored. Every worker calls `reload_if_changed()` every 0.5 s:
a revocation takes effect everywhere within that time, without a restart.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from lookup._os import write_durably
from lookup.errors import LookupServiceError

__all__ = (
    "DEFAULT_BURST",
    "DEFAULT_RATE",
    "SCOPES",
    "Client",
    "ClientError",
    "ClientStore",
    "InvalidClient",
    "RateLimiter",
    "md5_hex",
)

log = logging.getLogger(__name__)

SCOPES = frozenset({"his", "vneid", "batch", "admin"})
# DOMAIN.md 6: the whole country peaks at a few hundred lookups per second, so one hospital's HIS
# rarely needs more than a few per second; 50/s with bursts of 100 leaves room for a busy
# hospital's morning queue while stopping a runaway client. Batch and benchmark clients get
# more with `keys add --rate R --burst B`; `--rate 0` means unlimited.
DEFAULT_RATE = 50.0
DEFAULT_BURST = 100
FILE = "clients.json"
LOCK = ".clients.lock"
KEY_PREFIX = "lk_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
USERNAME = re.compile(r"[^\s]{1,64}")
# scrypt at n=2**14, r=8 takes ~70 ms and 16 MiB: cheap for a login, costly for a guesser.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
LOGIN_CACHE_MAX = 1024


_Records = list[dict[str, Any]]


class ClientError(LookupServiceError):
    """A client operation cannot be done (unknown name, unreadable clients.json...)."""


class InvalidClient(ClientError, ValueError):
    """The arguments of `keys add` break a rule (unknown scope, bad name...): a usage error."""


@dataclass(frozen=True)
class Client:
    """One active API client, as the service sees it."""

    name: str
    scopes: frozenset[str]  # of "his", "vneid", "batch", "admin"
    rate_per_s: float  # sustained requests per second over all workers (0 = unlimited)
    burst: int
    gateway_username: str | None


def md5_hex(password: str) -> str:
    """Return the MD5 hex a HIS sends as the gateway password (DOMAIN.md 5)."""
    return hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _stretch(password_md5_hex: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # HIS software may send the hex in either case; the digest is the same.
    return hashlib.scrypt(
        password_md5_hex.lower().encode("ascii", "replace"), salt=salt, n=n, r=r, p=p, dklen=32
    )


class ClientStore:
    """The API clients of one data directory (`DATA/clients.json`)."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.root = Path(data_dir)
        self.path = self.root / FILE
        self._stamp: tuple[int, int, int] | None = None
        self._records: list[dict[str, Any]] = []
        self._by_key: dict[str, tuple[str, Client]] = {}  # sha256 hex -> (hash, client)
        self._by_username: dict[str, tuple[dict[str, Any], Client]] = {}
        # (username, password) pairs already verified: the gateway check may send the password
        # with every call (DOMAIN.md 5), and 70 ms of scrypt per lookup would stall the loop.
        # Keyed by a hash under a per-process secret, so memory holds no password equivalent.
        self._login_cache: dict[bytes, Client] = {}
        self._cache_key = secrets.token_bytes(32)
        self._loaded = False
        self.reload_if_changed()

    # -- reading ----------------------------------------------------------------------------
    def reload_if_changed(self) -> bool:
        """Reload clients.json when it changed since the last load (one stat); return whether."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        try:
            records = self._read()
        except ClientError as exc:
            if not self._loaded:
                raise
            # A hand-edited, broken file must not take a serving worker down: keep the clients
            # already loaded and say so once per version of the file.
            log.error("%s; keeping the %d clients loaded before", exc, len(self._by_key))
            self._stamp = stamp
            return False
        self._index(records)
        self._stamp = stamp
        self._loaded = True
        return True

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        # Every write is a rename, so a new inode number marks a new version by itself.
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ClientError(f"cannot read {self.path}: {exc}") from None
        return list(data.get("clients", []))

    def _index(self, records: list[dict[str, Any]]) -> None:
        by_key: dict[str, tuple[str, Client]] = {}
        by_username: dict[str, tuple[dict[str, Any], Client]] = {}
        for record in records:
            if record.get("revoked_at"):
                continue
            client = Client(
                name=record["name"],
                scopes=frozenset(record["scopes"]),
                rate_per_s=float(record["rate_per_s"]),
                burst=int(record["burst"]),
                gateway_username=(record.get("gateway") or {}).get("username"),
            )
            by_key[record["key_sha256"]] = (record["key_sha256"], client)
            if client.gateway_username:
                by_username[client.gateway_username] = (record["gateway"], client)
        self._records = records
        self._by_key = by_key
        self._by_username = by_username
        self._login_cache = {}

    def list(self) -> list[dict[str, Any]]:
        """Return every client (revoked ones too) without its key or password hashes."""
        self.reload_if_changed()
        return [
            {
                "name": r["name"],
                "scopes": sorted(r["scopes"]),
                "rate_per_s": r["rate_per_s"],
                "burst": r["burst"],
                "gateway_username": (r.get("gateway") or {}).get("username"),
                "key_prefix": r.get("key_prefix"),
                "created_at": r.get("created_at"),
                "revoked_at": r.get("revoked_at"),
            }
            for r in self._records
        ]

    # -- checking ---------------------------------------------------------------------------
    def authenticate(self, bearer_key: str) -> Client | None:
        """Return the active client holding this key, or None."""
        digest = _sha256(bearer_key)
        found = self._by_key.get(digest)
        if found is None:
            return None
        # The dict lookup found it by hash; compare_digest makes the confirmation constant-time
        # so no timing difference tells a guesser how much of a hash it matched.
        return found[1] if hmac.compare_digest(found[0], digest) else None

    def gateway_login(self, username: str, password_md5_hex: str) -> Client | None:
        """Return the active client with this gateway login (DOMAIN.md 5), or None."""
        found = self._by_username.get(username)
        if found is None:
            return None
        memo = hmac.digest(
            self._cache_key,
            f"{username}\x00{password_md5_hex.lower()}".encode("utf-8", "surrogatepass"),
            "sha256",
        )
        cached = self._login_cache.get(memo)
        if cached is not None:
            return cached
        gateway, client = found
        expected = base64.b64decode(gateway["hash"])
        got = _stretch(
            password_md5_hex,
            base64.b64decode(gateway["salt"]),
            gateway["n"],
            gateway["r"],
            gateway["p"],
        )
        if not hmac.compare_digest(expected, got):
            return None
        if len(self._login_cache) >= LOGIN_CACHE_MAX:
            self._login_cache.clear()
        self._login_cache[memo] = client
        return client

    # -- writing ----------------------------------------------------------------------------
    def add(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        username: str | None = None,
        password: str | None = None,
        rate_per_s: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
    ) -> str:
        """Add a client and return its new key; the key is not kept and cannot be shown again."""
        scope_set = _check_scopes(scopes)
        if not NAME.fullmatch(name):
            raise InvalidClient(
                f"client name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if (username is None) != (password is None):
            raise InvalidClient("--username and --password go together (the gateway login)")
        if username is not None and not USERNAME.fullmatch(username):
            raise InvalidClient(f"username {username!r}: 1-64 characters without spaces")
        if password is not None and not password:
            raise InvalidClient("--password must not be empty")
        if rate_per_s < 0 or rate_per_s != rate_per_s:
            raise InvalidClient("--rate must be 0 (unlimited) or more")
        if burst < 1:
            raise InvalidClient("--burst must be at least 1")

        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record: dict[str, Any] = {
            "name": name,
            "key_sha256": _sha256(key),
            "key_prefix": key[:7],  # enough to tell keys apart in `keys list`, useless to a thief
            "scopes": sorted(scope_set),
            "rate_per_s": float(rate_per_s),
            "burst": int(burst),
            "gateway": None,
            "created_at": _now(),
            "revoked_at": None,
        }
        if username is not None and password is not None:
            salt = secrets.token_bytes(16)
            record["gateway"] = {
                "username": username,
                "scheme": "scrypt(md5hex(password))",
                "salt": base64.b64encode(salt).decode("ascii"),
                "hash": base64.b64encode(_stretch(md5_hex(password), salt, **SCRYPT)).decode(),
                **SCRYPT,
            }
        with self._locked() as records:
            if any(r["name"] == name for r in records):
                # Names stay unique for good: the audit log names clients, and a reused name
                # would make old records ambiguous.
                raise InvalidClient(
                    f"a client named {name!r} already exists (revoked ones count too); "
                    f"choose another name, e.g. {name}-2"
                )
            if username is not None and any(
                (r.get("gateway") or {}).get("username") == username and not r.get("revoked_at")
                for r in records
            ):
                raise InvalidClient(
                    f"gateway username {username!r} belongs to another active client; "
                    "revoke that one first"
                )
            records.append(record)
        return key

    def revoke(self, name: str) -> None:
        """Mark a client revoked; every worker stops accepting its key within 0.5 s."""
        with self._locked() as records:
            for record in records:
                if record["name"] == name:
                    if not record.get("revoked_at"):
                        record["revoked_at"] = _now()
                    return
        raise ClientError(f"no client named {name!r}; `lookup keys list` shows them")

    @contextmanager
    def _locked(self) -> Iterator[_Records]:  # `list` here would name the method
        """Read, let the caller change, and atomically rewrite clients.json under the lock."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self._read()
            yield records
            data = orjson.dumps({"version": 1, "clients": records}, option=orjson.OPT_INDENT_2)
            write_durably(self.path, data, mode=0o600)
        self._stamp = None  # force the reload below even within one mtime tick
        self.reload_if_changed()


def _check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    scope_set = frozenset(s.strip() for s in scopes if s.strip())
    unknown = sorted(scope_set - SCOPES)
    if unknown:
        raise InvalidClient(
            f"unknown scope {', '.join(map(repr, unknown))}; scopes are "
            + ", ".join(sorted(SCOPES))
        )
    if not scope_set:
        raise InvalidClient("give at least one scope: " + ", ".join(sorted(SCOPES)))
    return scope_set


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RateLimiter:
    """Per-client token buckets for one worker (SPEC.md 3: 429 with Retry-After).

    Workers share nothing, so each enforces 1/workers of a client's rate and burst: the sum over
    workers is the client's limit. The kernel spreads connections over workers (SO_REUSEPORT),
    so a client with many connections gets its full rate; one with a single keep-alive
    connection is served by one worker and gets about 1/workers of it. Give such a client a
    proportionally higher `--rate`.
    """

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))
        self._buckets: dict[str, list[float]] = {}  # name -> [tokens, last refill time]

    def check(self, client: Client, now: float) -> float:
        """Take one token: return 0.0 when allowed, else the seconds to wait (Retry-After)."""
        if client.rate_per_s <= 0:
            return 0.0
        rate = client.rate_per_s / self.workers
        capacity = max(1.0, client.burst / self.workers)
        bucket = self._buckets.get(client.name)
        if bucket is None:
            bucket = self._buckets[client.name] = [capacity, now]
        tokens = min(capacity, bucket[0] + max(0.0, now - bucket[1]) * rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / rate
