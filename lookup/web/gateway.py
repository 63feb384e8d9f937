"""The VSS gateway's card check, field for field (DOMAIN.md 5), so a HIS changes its base URL only.

    POST /api/token/take                    username, password (MD5 hex) -> APIKey
    POST /api/egw/KQNhanLichSuKCB2024?token=&id_token=&username=&password=
                                            maThe, hoTen, ngaySinh, hoTenCb, cccdCb -> card check

Like the real gateway, both answer HTTP 200 and put the verdict in `maKetQua`: a bad login or
token is `"401"`, a missing or malformed field `"205"`. HIS code reads `maKetQua`, not the HTTP
status. Only conditions outside the gateway's vocabulary keep their SPEC 3 status and error
body: 400 (a body that cannot be read at all: lookup.web.body), 408 (a body that does not
arrive), 413 (body too large), 429 (rate limited), 503 (not ready, audit log unwritable).

Tokens are stateless, so one taken from any worker works on every worker: the payload (client,
username, expiry) signed with HMAC-SHA256 under a key derived from the data directory's secret
(`DATA/audit.key`). The check also carries the login itself in its query string, as the VSS
gateway's does; it is verified once per token per worker (scrypt, off the event loop) so a
revoked client stops working within a poll.

The name and birth-date checks of SPEC 3.1 step 2 run here, in Python over the core's answer:
the gateway is not the hot path. So do the officer checks (054 / 055, SPEC 3.1 "Gateway
specifics"): when the facility registry (lookup.facilities) lists officers for the login's
facility (`<facility_code>_BV`), the `cccdCb` must be one of them and the `hoTenCb` their
registered name. They come right after the malformed-input checks (205) and before the card is
looked up (050), so an officer the facility did not register learns nothing of any card, not
even whether it exists (docs/DESIGN.md 7.1).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from lookup import _core
from lookup.errors import IdError
from lookup.service.audit import AuditUnavailable
from lookup.service.clients import Client
from lookup.web.body import BodyReader
from lookup.web.errors import JSON, audit_unavailable
from lookup.web.gateway_rules import (
    NOTES,
    card_code_problem,
    compare_dob,
    compare_names,
    gateway_answer,
    parse_birth_date,
)
from lookup.web.resources import TOKEN_TTL, WorkerResources
from lookup.web.snapshots import require_snapshot

T = TypeVar("T")

__all__ = ("GatewayRoutes", "SingleFlight", "TokenSigner")

TOKEN_CACHE_MAX = 4096
# DOMAIN 4: the officer checks' verdicts. Neither quotes what was sent: it is personal data.
_LOGIN = re.compile(r"([0-9]{2}[0-9A-Z]{3})_BV", re.ASCII)  # DOMAIN 5: facility code + _BV
LOGIN_THREADS = 2  # scrypt logins at once; more wait (a login is rare: once per token)


# -- tokens -------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issue and verify stateless gateway tokens (HMAC-SHA256, expiry inside)."""

    def __init__(self, secret: bytes, *, ttl: int = TOKEN_TTL) -> None:
        # A key of its own, derived from the data directory's secret: a token never doubles as
        # anything the audit log's keyed hashes could reveal, and vice versa.
        self._key = hmac.digest(secret, b"lookup gateway token v1", "sha256")
        self.ttl = ttl

    def _sign(self, payload: dict[str, Any]) -> str:
        body = orjson.dumps(payload)
        mac = hmac.digest(self._key, body, "sha256")
        return f"{_b64(body)}.{_b64(mac)}"

    def issue(self, client: str, username: str, now: float | None = None) -> tuple[str, str]:
        """Return a new (access_token, id_token) pair for a logged-in client."""
        expires = int(now if now is not None else time.time()) + self.ttl
        nonce = secrets.token_hex(8)
        claims = {"c": client, "u": username, "e": expires, "n": nonce}
        return self._sign({"k": "access", **claims}), self._sign({"k": "id", **claims})

    def verify(self, token: str, kind: str, now: float | None = None) -> dict[str, Any] | None:
        """Return a token's claims when it is genuine, of this kind and unexpired, else None."""
        body_text, _, mac_text = token.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(mac, hmac.digest(self._key, body, "sha256")):
            return None
        claims = orjson.loads(body)
        if claims.get("k") != kind or claims["e"] < (now if now is not None else time.time()):
            return None
        return claims  # type: ignore[no-any-return]


def _reply(answer: Mapping[str, Any], snapshot: str | None = None) -> web.Response:
    headers = {"Content-Type": JSON}
    if snapshot is not None:
        headers["X-Snapshot"] = snapshot
    return web.Response(body=orjson.dumps(answer), headers=headers)


def _refused(note: str) -> web.Response:
    return _reply(gateway_answer("401", f"{NOTES['401']}: {note}", None, None))


# ghiChu is Vietnamese (SPEC 3.1): what a desk officer reads.
MISSING = "thiếu giá trị"
BAD_ID = "phải là mã thẻ 15 ký tự, số CCCD 12 chữ số hoặc mã số BHXH 10 chữ số"


class _BadField(Exception):
    """A missing or malformed gateway field: answered as 205."""


async def _read_fields(request: web.Request, body: BodyReader) -> dict[str, Any]:
    """Return the body's fields, sent as JSON or form-urlencoded (DOMAIN 5) or multipart.

    A body that cannot be read at all (lookup.web.body) is a 400: the request never reached the
    gateway's vocabulary. One that reads but is no JSON object is the gateway's 205.
    """
    ctype = request.content_type
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return await body.form(request)
    raw = await body.read(request)
    if ctype == "application/json" or raw.lstrip()[:1] == b"{":
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _BadField("nội dung yêu cầu không phải JSON hợp lệ") from None
        if not isinstance(data, dict):
            raise _BadField("nội dung yêu cầu phải là một đối tượng JSON")
        return data
    # No or another content type: HIS code written against a lenient gateway may omit it.
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _BadField(f"{name}: {MISSING}")
    return value


_CCCD = re.compile(r"[0-9]{12}", re.ASCII)


def login_facility(username: str | None) -> str | None:
    """Return the facility code of a gateway login (`01832_BV` -> `01832`), None if it has none."""
    match = _LOGIN.fullmatch((username or "").upper())
    return None if match is None else match[1]


class SingleFlight(Generic[T]):
    """Run one call per key at a time: callers that come while it runs share its result."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(call(*args))
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
        # shield: a caller that goes away (its request cancelled) leaves the call to the others
        return await asyncio.shield(running)


class GatewayRoutes:
    """The gateway pair; `bind` it to the open resources before serving."""

    def __init__(self) -> None:
        self._clients_by_token: dict[str, Client] = {}
        self._logins: SingleFlight[Client | None] = SingleFlight()

    def bind(self, resources: WorkerResources) -> None:
        """Bind the resources opened at startup."""
        self._refresh = resources.refresh_clients
        self._pool = ThreadPoolExecutor(max_workers=LOGIN_THREADS, thread_name_prefix="login")
        self.watcher = resources.watcher
        self.clients = resources.clients
        self.guard = resources.guard
        self.record = resources.audit.record
        metrics = resources.metrics
        self.count_result = metrics.result if metrics is not None else None
        self.today = resources.today
        self.signer = TokenSigner(resources.secret, ttl=resources.config.token_ttl)
        self.body = BodyReader(resources.config.limits.body_timeout)
        # The worker's one registry watcher (the answers' facility names follow it too),
        # checked for a new import at most once a second.
        self.registry = resources.watcher.registry
        self.registry.get()  # loaded at start, not by the first check

    def forget_logins(self) -> None:
        """Drop verified logins (clients.json changed: a client may have been revoked)."""
        self._clients_by_token = {}

    async def _login(self, username: str, password: str) -> Client | None:
        # A HIS restarted at opening time sends its desks' logins at once, and the login cache
        # (ClientStore.gateway_login) fills only when the first scrypt ends: without this, each
        # of them would run its own 70 ms scrypt on the service's cores.
        return await self._logins.run(
            (username, password.lower()), self._verify_login, username, password
        )

    async def _verify_login(self, username: str, password: str) -> Client | None:
        # scrypt takes ~70 ms: run it off the event loop, on threads of its own so a flood of
        # logins cannot hold up what shares the default executor (the audit log's fsyncs).
        loop = asyncio.get_running_loop()
        login = self.clients.gateway_login
        client = await loop.run_in_executor(self._pool, login, username, password)
        if client is None and self._refresh():  # a login made a moment ago works at once
            client = await loop.run_in_executor(self._pool, login, username, password)
        return client

    def close(self) -> None:
        """Stop the login threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def take_token(self, request: web.Request) -> web.Response:
        """POST /api/token/take: username and MD5 password -> APIKey (DOMAIN 5)."""
        try:
            fields = await _read_fields(request, self.body)
            username, password = _text(fields, "username"), _text(fields, "password")
        except _BadField as exc:
            return _reply({"maKetQua": "205", "ghiChu": f"{NOTES['205']}: {exc}", "APIKey": None})
        client = await self._login(username, password)
        if client is None or "his" not in client.scopes:
            return _reply(
                {"maKetQua": "401", "ghiChu": "Sai tên đăng nhập hoặc mật khẩu", "APIKey": None}
            )
        access, id_token = self.signer.issue(client.name, username)
        return _reply(
            {
                "maKetQua": "200",
                "APIKey": {
                    "access_token": access,
                    "id_token": id_token,
                    "token_type": "Bearer",
                    "username": username,
                    "expires_in": self.signer.ttl,
                },
            }
        )

    async def _client(self, query: Mapping[str, str]) -> Client | str:
        """Return the client the query's token and login name, or why they are refused."""
        token = query.get("token", "")
        claims = self.signer.verify(token, "access")
        if claims is None:
            return "token không hợp lệ hoặc đã hết hạn"
        username = query.get("username")
        if username is not None and username != claims["u"]:
            return "token không thuộc tài khoản này"
        id_token = query.get("id_token")
        if id_token:
            id_claims = self.signer.verify(id_token, "id")
            if id_claims is None or id_claims["n"] != claims["n"]:
                return "id_token không hợp lệ"
        client = self._clients_by_token.get(token)
        if client is None:
            password = query.get("password")
            if not password:
                return "thiếu username hoặc password"
            client = await self._login(claims["u"], password)
            if client is None or client.name != claims["c"]:
                return "sai tên đăng nhập hoặc mật khẩu"
            if len(self._clients_by_token) >= TOKEN_CACHE_MAX:
                self._clients_by_token = {}
            self._clients_by_token[token] = client
        if "his" not in client.scopes:
            return "tài khoản không có quyền tra cứu thẻ"
        return client

    async def check(self, request: web.Request) -> web.Response:
        """POST /api/egw/KQNhanLichSuKCB2024: the card check (DOMAIN 5, SPEC 3.1)."""
        client = await self._client(request.query)
        if isinstance(client, str):
            return _refused(client)
        self.guard.check_rate(client)
        try:
            fields = await _read_fields(request, self.body)
        except _BadField as exc:
            return _reply(gateway_answer("205", f"{NOTES['205']}: {exc}", None, None))
        asked = fields.get("maThe")
        ma_the = asked if isinstance(asked, str) else None
        officer = fields.get("cccdCb")
        officer = officer.strip() if isinstance(officer, str) else None
        snapshot = require_snapshot(self.watcher)
        code, answer = self._verdict(
            snapshot.answer, fields, ma_the, officer, login_facility(client.gateway_username)
        )
        try:
            await self.record(
                client=client.name,
                endpoint="gateway",
                ids=(ma_the or "",),
                results=(code,),
                snapshot=snapshot.id,
                officer=officer or None,
            )
        except AuditUnavailable:
            raise audit_unavailable() from None
        if self.count_result is not None:
            self.count_result(code)
        return _reply(answer, snapshot.id)

    def _verdict(
        self,
        answer: Any,
        fields: Mapping[str, Any],
        ma_the: str | None,
        officer: str | None,
        facility: str | None,
    ) -> tuple[str, dict[str, Any]]:
        """Apply SPEC 3.1 in order: 205, 054 / 055, 050, 060 / 061 / 070, the core's verdict."""
        try:
            if ma_the is None or not ma_the.strip():
                raise _BadField(f"maThe: {MISSING}")
            name = _text(fields, "hoTen")
            dob = parse_birth_date(_text(fields, "ngaySinh"))
            if dob is None:
                raise _BadField(
                    "ngaySinh: phải là một ngày có thật, dạng dd/MM/yyyy, ddMMyyyy, MM/yyyy "
                    "hoặc yyyy"
                )
            officer_name = _text(fields, "hoTenCb")  # DOMAIN 5: required since 2024-08-01
            if officer is None or not _CCCD.fullmatch(officer):
                raise _BadField("cccdCb: cần số CCCD 12 chữ số của cán bộ tra cứu")
            card_problem = card_code_problem(ma_the)  # 051-053: a 15-character maThe
            if card_problem is not None:
                return card_problem, gateway_answer(card_problem, NOTES[card_problem], ma_the, None)
            _core.parse_id(ma_the)
        except _BadField as exc:
            return "205", gateway_answer("205", f"{NOTES['205']}: {exc}", ma_the, None)
        except IdError:
            return "205", gateway_answer("205", f"{NOTES['205']}: maThe: {BAD_ID}", ma_the, None)
        refused = self._officer_refused(facility, officer, officer_name)
        if refused is not None:
            return refused, gateway_answer(refused, NOTES[refused], ma_the, None)
        body = orjson.loads(answer(ma_the, self.today(), None))
        code = body["result"]["code"]
        if body["person"] is None:  # 050 (or 100: a damaged record)
            return code, gateway_answer(code, body["result"]["message"], ma_the, None)
        person = body["person"]
        name_code = compare_names(name, person["full_name"])
        if name_code is not None:
            # No card data for a failed identity check: the caller does not hold this card.
            return name_code, gateway_answer(name_code, NOTES[name_code], ma_the, None)
        if not compare_dob(dob, person["dob"]):
            return "070", gateway_answer("070", NOTES["070"], ma_the, None)
        return code, gateway_answer(code, body["result"]["message"], ma_the, body)

    def _officer_refused(self, facility: str | None, cccd: str, name: str) -> str | None:
        """Return 054 / 055 when the facility registered officers and this one is not one of
        them / not under this name; None when it passes or the facility registered none."""
        registry = self.registry.get()
        if facility is None or registry is None or not registry.officers(facility):
            return None
        if not registry.officer_ok(facility, cccd):
            return "054"
        if not registry.officer_name_ok(facility, cccd, name):
            return "055"
        return None
