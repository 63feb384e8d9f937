"""`GET /v1/entitlements/{id}` and `POST /v1/entitlements/batch` (SPEC.md 3).

The core answers in JSON bytes; these handlers add the HTTP around them without decoding
(SPEC 3 bodies as they are, a batch's whole answer included). The result codes, which the
audit log and the metrics need, the core gives alongside the answers.

Every handler takes the snapshot once, at its start (lookup.web.snapshots), and records the
audit line before it answers: no audit record, no answer (SPEC 5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from lookup import _core
from lookup.clock import pack_day, parse_date
from lookup.errors import IdError
from lookup.service.audit import AuditUnavailable
from lookup.web.body import BodyReader
from lookup.web.errors import JSON, ApiError, audit_unavailable
from lookup.web.frontline import REQUEST_ID
from lookup.web.resources import MAX_BATCH, WorkerResources
from lookup.web.snapshots import require_snapshot

__all__ = ("EntitlementRoutes", "parse_day", "parse_facility", "send_apart")

BATCH_FIELDS = frozenset({"ids", "date", "facility"})


# A parameter given is a parameter checked, as the OpenAPI document describes them: an empty
# `date=` or `facility=` is refused rather than read as absent, so a client whose form field
# came out empty learns it instead of silently getting today, or no route check.
def parse_day(value: Any, today: Callable[[], int]) -> int:
    """Return a `date` parameter packed (None, absent: today in Vietnam), or raise 400."""
    if value is None:
        return today()
    if not isinstance(value, str):
        raise ApiError(400, "date", "date: must be a string YYYY-MM-DD")
    if not value:
        raise ApiError(400, "date", "date: empty; give YYYY-MM-DD, or leave it out for today")
    try:
        return pack_day(parse_date(value))
    except IdError as exc:
        raise ApiError(400, "date", str(exc)) from None


def parse_facility(value: Any) -> str | None:
    """Return a normalised `facility` parameter (None when absent), or raise 400 (DESIGN 2)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, "facility", "facility: must be a string, e.g. 01832")
    if not value:
        raise ApiError(
            400, "facility", "facility: empty; give a facility code such as 01832, or leave it out"
        )
    try:
        return _core.parse_facility(value)
    except IdError as exc:
        raise ApiError(400, "facility", str(exc)) from None


async def send_apart(
    request: web.Request,
    body: bytes | memoryview,
    headers: dict[str, str],
    *,
    close: bool = False,
) -> web.StreamResponse:
    """Send a large body after the headers rather than with them.

    aiohttp joins headers and body into one new bytes object before writing on Python < 3.12.9
    (where it will not trust asyncio's writelines): for a batch answer that is one more 800 KB
    copy, 4% of a batch's cost. Sent apart, the body goes from the core's buffer to the socket.
    """
    response = web.StreamResponse(headers=headers)
    response.content_length = len(body)
    if close:
        response.force_close()
    await response.prepare(request)  # a StreamResponse sends its headers at once
    try:
        await response.write(body)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client left; its answer was audited and there is no one to tell
    return response


class EntitlementRoutes:
    """The SPEC 3 entitlement routes; `bind` them to the open resources before serving."""

    def __init__(self, *, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch

    def bind(self, resources: WorkerResources) -> None:
        """Bind the resources opened at startup (bound methods cached for the hot path)."""
        front = resources.front
        self.front = front
        self.request_id = front.ids.for_request
        self.watcher = resources.watcher
        self.guard = resources.guard
        self.record = resources.audit.record
        metrics = resources.metrics
        self.count_result = metrics.result if metrics is not None else None
        self.today = resources.today
        self.body = BodyReader(resources.config.limits.body_timeout)

    async def one(self, request: web.Request) -> web.Response:
        """GET /v1/entitlements/{id}?date=&facility= [his]."""
        # The hot route (the benchmark's): it does Frontline.wrap's work itself, which saves a
        # coroutine layer and a header update per request.
        front = self.front
        start = front.clock()
        try:
            client = self.guard(request, "his")
            snapshot = require_snapshot(self.watcher)
            day, facility = self._query(request)
            asked = request.match_info["id"]
            body, code = snapshot.answer_coded(asked, day, facility)
            try:
                await self.record(
                    client=client.name,
                    endpoint="entitlement",
                    ids=(asked,),
                    results=(code,),
                    snapshot=snapshot.id,
                )
            except AuditUnavailable:
                raise audit_unavailable() from None
            if self.count_result is not None:
                self.count_result(code)
            response = web.Response(
                body=body,
                headers={
                    "Content-Type": JSON,
                    "X-Snapshot": snapshot.id,
                    REQUEST_ID: self.request_id(request),
                },
            )
        except Exception as exc:
            request_id = self.request_id(request)
            response = front.fail(exc, request_id)
            response.headers[REQUEST_ID] = request_id
        if front.draining:
            response.force_close()
        observe = front.observe
        if observe is not None:
            observe("entitlement", response.status, front.clock() - start)
        return response

    def _query(self, request: web.Request) -> tuple[int, str | None]:
        if not request.query_string:  # the common case: today, no facility
            return self.today(), None
        query = request.query
        return parse_day(query.get("date"), self.today), parse_facility(query.get("facility"))

    async def batch(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/entitlements/batch {"ids": [...], "date"?, "facility"?} [batch]."""
        client = self.guard(request, "batch")
        ids, day, facility = self._batch_request(await self.body.read(request))
        snapshot = require_snapshot(self.watcher)  # taken after the body: one snapshot, no await
        try:
            body, codes_json, counts = snapshot.answer_batch(ids, day, facility)
        except TypeError as exc:  # the core checks each id is a string: "ids[3]: expected str"
            raise ApiError(400, "ids", str(exc)) from None
        try:
            await self.record(
                client=client.name,
                endpoint="batch",
                ids=ids,
                results=orjson.Fragment(codes_json),
                snapshot=snapshot.id,
            )
        except AuditUnavailable:
            raise audit_unavailable() from None
        if self.count_result is not None:
            for code, count in counts.items():
                self.count_result(code, count)
        headers = {
            "Content-Type": JSON,
            "X-Snapshot": snapshot.id,
            REQUEST_ID: self.request_id(request),
        }
        return await send_apart(request, body, headers, close=self.front.draining)

    def _batch_request(self, raw: bytes) -> tuple[list[str], int, str | None]:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError(
                400, "body", 'body: must be JSON, {"ids": [...], "date"?, "facility"?}'
            ) from None
        if not isinstance(data, dict):
            raise ApiError(400, "body", 'body: must be a JSON object {"ids": [...]}')
        unknown = sorted(set(data) - BATCH_FIELDS)
        if unknown:
            raise ApiError(
                400,
                "body",
                f"body: unknown field {unknown[0]!r}; the fields are ids, date, facility",
            )
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "ids", f"ids: required, a list of 1 to {self.max_batch} strings")
        if len(ids) > self.max_batch:
            raise ApiError(400, "ids", f"ids: {len(ids)} ids; at most {self.max_batch} per batch")
        for name, kind in (("date", "a string YYYY-MM-DD"), ("facility", "a string, e.g. 01832")):
            if name in data and data[name] is None:  # JSON null: absent is how to say "none"
                raise ApiError(400, name, f"{name}: must be {kind}, not null; or leave it out")
        return ids, parse_day(data.get("date"), self.today), parse_facility(data.get("facility"))
