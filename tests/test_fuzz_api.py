"""Schemathesis against a live `lookup serve`: every operation, every check, no 5xx, no
response the OpenAPI document does not describe (issue 16, item 2; docs/ROBUSTNESS.md).

The fuzzing itself is tools/fuzz_api.py; LOOKUP_FUZZ_EXAMPLES sets its budget (50 cases per
operation and phase here, 500 for the documented longer run). The other tests pin what it found.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jsonschema
import pytest

from lookup.web.openapi import spec

from helpers.server import LiveServer, add_key, build_data, person

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's tools/

from tools.fuzz_api import fuzz

OPERATIONS = 9  # every path and method of /openapi.json, the gateway pair included


@pytest.mark.slow
def test_schemathesis_finds_nothing(tmp_path):
    result = fuzz(tmp_path)
    assert result.ok, result.output[-20000:]
    assert result.operations == OPERATIONS, result.output[-5000:]
    assert result.cases >= 10 * OPERATIONS
    # No request left a traceback or an unhandled error in the service's log either.
    log = (tmp_path / "serve.log").read_text()
    assert not re.search(r"Traceback|ERROR|CRITICAL", log), log[-5000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from lookup.web.app import ServiceConfig

    data = build_data(tmp_path_factory.mktemp("fuzz"), [person(1)])
    key = add_key(data, "all", ["his", "batch", "vneid", "admin"])
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as live:
        live.key = key  # type: ignore[attr-defined]
        yield live


def _operation(path: str, method: str) -> dict:
    return spec()["paths"][path][method]


def _parameter(path: str, name: str) -> dict:
    (found,) = [p for p in _operation(path, "get")["parameters"] if p["name"] == name]
    return found["schema"]


@pytest.mark.parametrize(
    ("path", "name", "url"),
    [
        ("/v1/entitlements/{id}", "id", "/v1/entitlements/"),
        ("/v1/vneid/cards/{cccd}", "cccd", "/v1/vneid/cards/"),
    ],
)
def test_an_empty_path_parameter_is_another_path(server, path, name, url):
    """Found by the stateful phase: an empty id (taken from a batch's ids) asks `.../` and
    got a 404 the document did not list. An empty or slashed segment is now outside the
    parameter's schema, and the 404 is documented."""
    reply = server.get(url, key=server.key)
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "not_found"
    assert "404" in _operation(path, "get")["responses"]
    schema = _parameter(path, name)
    for bad in ("", "a/b"):
        assert not jsonschema.Draft202012Validator(schema).is_valid(bad)
    assert jsonschema.Draft202012Validator(schema).is_valid("001085012345")


@pytest.mark.parametrize(
    ("date", "status"),
    [("2630-03-03", 400), ("1799-12-31", 400), ("2299-12-31", 200), ("1800-01-01", 200)],
)
def test_the_documented_dates_are_those_answered(server, date, status):
    """Found by the fuzzing phase: `2630-03-03` is a date by the document's `format` but the
    service answers 400 (years 1800-2299). The document now says so, for the query parameter
    and the batch body alike."""
    one = server.get("/v1/entitlements/001085012345", key=server.key, query={"date": date})
    batch = server.post(
        "/v1/entitlements/batch", key=server.key, json={"ids": ["001085012345"], "date": date}
    )
    assert one.status == batch.status == status
    query = jsonschema.Draft202012Validator(_parameter("/v1/entitlements/{id}", "date"))
    body = jsonschema.Draft202012Validator(spec()["components"]["schemas"]["BatchRequest"])
    assert query.is_valid(date) is body.is_valid({"ids": ["x"], "date": date}) is (status == 200)


@pytest.mark.parametrize(
    "body",
    [None, [], {"username": 5, "password": "x"}, {"username": "u"}, "text"],
)
def test_the_gateway_refuses_a_bad_body_with_205(server, body):
    """What stands in for negative_data_rejection on the gateway pair (tools/schemathesis.toml):
    a body that breaks the schema is HTTP 200 with maKetQua 205, as the VSS gateway answers."""
    reply = (
        server.post("/api/token/take", json=body)
        if body is not None
        else server.post("/api/token/take")
    )
    assert reply.status == 200
    assert reply.json()["maKetQua"] == "205"
