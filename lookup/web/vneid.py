"""`GET /v1/vneid/cards/{cccd}`: the card as the VNeID citizen app shows it (SPEC.md 3)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from lookup.service.audit import AuditUnavailable
from lookup.web.errors import JSON, audit_unavailable
from lookup.web.resources import WorkerResources
from lookup.web.snapshots import require_snapshot

__all__ = ("VneidRoutes", "vneid_not_cccd", "vneid_view")


class VneidRoutes:
    """The VNeID route, bound to the worker's resources."""

    def bind(self, resources: WorkerResources) -> None:
        """Bind the resources opened at startup."""
        self.guard = resources.guard
        self.watcher = resources.watcher
        self.today = resources.today
        self.record = resources.audit.record
        metrics = resources.metrics
        self.count_result = metrics.result if metrics is not None else None

    async def card(self, request: web.Request) -> web.Response:
        """GET /v1/vneid/cards/{cccd} [vneid]: the card as the VNeID app shows it."""
        client = self.guard(request, "vneid")
        snapshot = require_snapshot(self.watcher)
        asked = request.match_info["cccd"]
        day = self.today()
        body = orjson.loads(snapshot.answer(asked, day, None))
        if body["id_type"] not in (None, "cccd"):
            # VNeID signs a citizen in by their CCCD: a card code or social insurance number is
            # not this endpoint's key, even when it names someone.
            view = vneid_not_cccd(asked, body)
        else:
            view = vneid_view(body)
        code = view["result"]["code"]
        try:
            await self.record(
                client=client.name,
                endpoint="vneid",
                ids=(asked,),
                results=(code,),
                snapshot=snapshot.id,
            )
        except AuditUnavailable:
            raise audit_unavailable() from None
        if self.count_result is not None:
            self.count_result(code)
        return web.Response(
            body=orjson.dumps(view), headers={"Content-Type": JSON, "X-Snapshot": snapshot.id}
        )


NOT_CCCD = "id: a VNeID card lookup takes a 12-digit CCCD"
MALFORMED_VI = "Mã định danh không đúng định dạng"


def vneid_view(body: dict[str, Any]) -> dict[str, Any]:
    """Return the compact card view of a SPEC 3 body (documented in /openapi.json)."""
    person, card = body["person"], body["card"]
    return {
        "id": body["id"],
        "cccd": person["cccd"] if person else None,
        "date": body["date"],
        "result": body["result"],
        "card": None
        if card is None
        else {
            "holder_name": person["full_name"],
            "dob": person["dob"],
            "gender": person["gender"],
            "card_no": card["card_no"],
            "group": card["group"],
            "benefit_level": card["benefit_level"],
            "coverage_pct": card["coverage_pct"],
            "facility_code": card["facility_code"],
            "facility_name": card["facility_name"],
            "valid_from": card["valid_from"],
            "valid_to": card["valid_to"],
            "valid_until": card.get("valid_until", card["valid_to"]),
            "five_year_date": card["five_year_date"],
            "region_code": card["region_code"],
            "status": card["status"],
            "issuer": card["issuer"],
        },
        "snapshot": body["snapshot"],
    }


def vneid_not_cccd(asked: str, body: dict[str, Any]) -> dict[str, Any]:
    """Return the 205 view for an id that is well formed but not a CCCD."""
    return {
        "id": body["id"],
        "cccd": None,
        "date": body["date"],
        "result": {
            "code": "205",
            "eligible": False,
            "message": MALFORMED_VI,
            "message_en": NOT_CCCD,
        },
        "card": None,
        "snapshot": body["snapshot"],
    }
