"""Schemathesis hooks for `tools/fuzz_api.py`: credentials for every operation.

Loaded by schemathesis through SCHEMATHESIS_HOOKS=tools.fuzz_hooks. The bearer key goes on every
request; the gateway check also gets, in its query, a token taken from the live server with the
fuzzing client's login, as an HIS sends it (DOMAIN.md 5). Without them nearly every generated
case would stop at 401 and the code behind it would go untested.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from typing import Any

import orjson
import schemathesis
from schemathesis.core.parameters import ParameterLocation

GATEWAY_CHECK = "/api/egw/KQNhanLichSuKCB2024"


def _settings() -> dict[str, str]:
    return {
        name: os.environ[f"LOOKUP_FUZZ_{name.upper()}"]
        for name in ("url", "key", "username", "password")
    }


def take_token(url: str, username: str, password_md5: str) -> dict[str, Any]:
    """Return the APIKey object /api/token/take answers for this login."""
    body = urllib.parse.urlencode({"username": username, "password": password_md5}).encode()
    with urllib.request.urlopen(f"{url}/api/token/take", body, timeout=30) as reply:
        answer = orjson.loads(reply.read())
    if answer.get("maKetQua") != "200":
        raise RuntimeError(f"the fuzzing login was refused: {answer}")
    return answer["APIKey"]  # type: ignore[no-any-return]


@schemathesis.auth(refresh_interval=600)
class LookupAuth:
    """A bearer key with every scope; on the gateway check, a valid token and login too."""

    def get(self, case: Any, context: Any) -> dict[str, str]:
        """Take a gateway token (cached by schemathesis for `refresh_interval`)."""
        settings = _settings()
        api_key = take_token(settings["url"], settings["username"], settings["password"])
        return {
            "key": settings["key"],
            "token": api_key["access_token"],
            "id_token": api_key["id_token"],
            "username": settings["username"],
            "password": settings["password"],
        }

    def set(self, case: Any, data: dict[str, str], context: Any) -> None:
        """Put the key in the headers and, on the gateway check, the login in the query."""
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data['key']}"}
        if case.operation.path == GATEWAY_CHECK:
            query = dict(case.query or {})
            query.update({name: data[name] for name in ("token", "id_token", "username")})
            query["password"] = data["password"]
            case.query = query


GATEWAY_PAIR = ("/api/token/take", GATEWAY_CHECK)


@schemathesis.check
def gateway_refuses_bad_fields(ctx: Any, response: Any, case: Any) -> bool | None:
    """Require maKetQua "205" where the gateway pair answers 200 to a schema-violating body.

    Stands in for `negative_data_rejection`, off for the pair (tools/schemathesis.toml): the
    gateway refuses with HTTP 200 and a 205 verdict. Only JSON bodies are judged, since a form
    turns every value into a string and a mutated type may become valid on the way.
    """
    meta = case.meta
    if case.operation.path not in GATEWAY_PAIR or meta is None or response.status_code != 200:
        return None
    body = meta.components.get(ParameterLocation.BODY)
    if body is None or not body.mode.is_negative or case.media_type != "application/json":
        return None
    verdict = orjson.loads(response.content).get("maKetQua")
    if verdict != "205":
        raise AssertionError(f"a schema-violating body answered maKetQua {verdict!r}, not 205")
    return True
