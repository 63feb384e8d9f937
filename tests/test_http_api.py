"""The HTTP API of SPEC.md 3 through a real server on loopback: every route, status and error."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lookup import _core
from lookup.schema import ROUTES
from lookup.service.clients import ClientStore
from lookup.store import DataDir
from lookup.web.app import ServiceConfig

from helpers.server import (
    LiveServer,
    add_key,
    build_data,
    days_from_today,
    parse_raw,
    person,
)

JSON = "application/json; charset=utf-8"
SCOPES = {
    "his": ["his"],
    "batch": ["batch"],
    "vneid": ["vneid"],
    "admin": ["admin"],
}
ROWS = [
    person(
        1,
        full_name="Nguyễn Văn An",
        valid_from=days_from_today(-100),
        valid_to=days_from_today(100),
        facility_code="01832",
    ),
    person(
        2,
        full_name="Trần Thị Bình",
        gender="2",
        dob="1950",
        valid_from=days_from_today(-100),
        valid_to=days_from_today(100),
        prev_card_no="DN4019900000002",
        prev_valid_to=days_from_today(-101),
    ),
    person(3, full_name="Lê Văn Cường", valid_from="2025-01-01", valid_to="2025-12-31"),
]
CCCD1, BHXH1, CARD1 = "001085000001", "0100000001", "DN4010100000001"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    data = build_data(folder, ROWS)
    keys = {name: add_key(data, name, scopes) for name, scopes in SCOPES.items()}
    keys["slow"] = add_key(data, "slow", ["his"], rate_per_s=0.2, burst=1)
    with LiveServer(ServiceConfig(data_dir=str(data.root), max_body=64 * 1024)) as server:
        server.keys = keys  # type: ignore[attr-defined]
        server.data = data  # type: ignore[attr-defined]
        yield server


def get(api, path, scope="his", **kwargs):
    return api.get(path, key=api.keys[scope], **kwargs)


def error_of(reply, status, code):
    """Assert a SPEC 3 error reply and return its message."""
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"] == JSON
    assert reply.headers["X-Request-Id"]
    body = reply.json()
    assert list(body) == ["error"] and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    return body["error"]["message"]


# -- GET /v1/entitlements/{id} -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("asked", "kind"), [(CCCD1, "cccd"), (BHXH1, "bhxh_code"), (CARD1, "card_no")]
)
def test_entitlement_by_each_kind_of_id(api, asked, kind):
    reply = get(api, f"/v1/entitlements/{asked}")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == JSON
    body = reply.json()
    assert body["id"] == asked and body["id_type"] == kind
    assert body["result"]["code"] == "000" and body["result"]["eligible"] is True
    assert body["person"]["cccd"] == CCCD1 and body["person"]["full_name"] == "Nguyễn Văn An"
    assert body["card"]["card_no"] == CARD1 and body["card"]["coverage_pct"] == 80
    assert body["date"] == days_from_today(0)  # today in Vietnam by default
    assert reply.headers["X-Snapshot"] == body["snapshot"] == api.data.current_id()
    assert reply.headers["X-Request-Id"]


def test_entitlement_body_is_what_lookup_get_prints(api):
    """SPEC 2: `lookup get` prints the same body as the HTTP API (the core's, untouched)."""
    reply = get(api, f"/v1/entitlements/{CCCD1}", query={"date": "2026-06-01", "facility": "01832"})
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "lookup",
            "get",
            CCCD1,
            "--date",
            "2026-06-01",
            "--facility",
            "01832",
            "--data",
            str(api.data.root),
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert reply.body + b"\n" == printed


def test_an_id_pasted_with_spaces_and_in_lower_case_is_found(api):
    for asked in ("001%20085%20000001", "dn4010100000001"):
        body = get(api, f"/v1/entitlements/{asked}").json()
        assert body["result"]["code"] == "000" and body["person"]["cccd"] == CCCD1


def test_a_person_not_found_is_result_050_with_status_200(api):
    reply = get(api, "/v1/entitlements/001085999999")
    assert reply.status == 200 and reply.headers["X-Snapshot"]
    body = reply.json()
    assert body["result"]["code"] == "050" and body["person"] is None and body["card"] is None


@pytest.mark.parametrize("asked", ["12345", "00108500000%D9%A1", "DN40101000000X1"])
def test_a_malformed_id_is_result_205_with_status_200(api, asked):
    reply = get(api, f"/v1/entitlements/{asked}")
    assert reply.status == 200
    body = reply.json()
    assert body["result"]["code"] == "205" and body["id_type"] is None
    assert body["result"]["message_en"].startswith("id: ")


def test_date_and_facility_parameters(api):
    body = get(api, f"/v1/entitlements/{CCCD1}", query={"date": "2020-01-01"}).json()
    assert body["date"] == "2020-01-01" and body["result"]["code"] == "010"
    assert body["in_route"] is None
    there = get(api, f"/v1/entitlements/{CCCD1}", query={"facility": "01832"}).json()
    assert there["in_route"] is True
    elsewhere = get(api, f"/v1/entitlements/{CCCD1}", query={"facility": " 79c51 "}).json()
    assert elsewhere["in_route"] is False
    # `date` and `facility` left out: today in Vietnam, no route check.
    plain = get(api, f"/v1/entitlements/{CCCD1}").json()
    assert plain["date"] == days_from_today(0) and plain["in_route"] is None


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("date=", "date", "date: empty; give YYYY-MM-DD, or leave it out for today"),
        (
            "facility=",
            "facility",
            "facility: empty; give a facility code such as 01832, or leave it out",
        ),
        ("date=&facility=01832", "date", "date: empty; give YYYY-MM-DD, or leave it out for today"),
    ],
)
def test_an_empty_date_or_facility_is_400_as_the_openapi_document_says(api, query, code, message):
    reply = get(api, f"/v1/entitlements/{CCCD1}?{query}")
    assert error_of(reply, 400, code) == message


def test_an_old_card_code_answers_003_with_the_replacement(api):
    body = get(api, "/v1/entitlements/DN4019900000002").json()
    assert body["result"]["code"] == "003"
    assert body["replacement"]["card_no"] == "DN4010100000002"


@pytest.mark.parametrize("value", ["2026-13-01", "tomorrow", "2026-1-1", "1799-12-31"])
def test_a_bad_date_is_400_naming_date(api, value):
    message = error_of(get(api, f"/v1/entitlements/{CCCD1}", query={"date": value}), 400, "date")
    assert message.startswith("date: ")


@pytest.mark.parametrize("value", ["1832", "018321", "01-83", "AB832"])
def test_a_bad_facility_is_400_naming_facility(api, value):
    reply = get(api, f"/v1/entitlements/{CCCD1}", query={"facility": value})
    assert error_of(reply, 400, "facility").startswith("facility: ")


# -- authentication, scopes, rate ----------------------------------------------------------------
def test_no_key_is_401_with_www_authenticate(api):
    reply = api.get(f"/v1/entitlements/{CCCD1}")
    error_of(reply, 401, "unauthorized")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert "X-Snapshot" not in reply.headers


@pytest.mark.parametrize(
    "authorization", ["Bearer lk_not-a-key", "Basic dXNlcjpwYXNz", "Bearer", "lk_bare"]
)
def test_a_bad_key_is_401(api, authorization):
    reply = api.get(f"/v1/entitlements/{CCCD1}", headers={"Authorization": authorization})
    error_of(reply, 401, "unauthorized")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", f"/v1/entitlements/{CCCD1}", "batch"),
        ("GET", f"/v1/entitlements/{CCCD1}", "vneid"),
        ("POST", "/v1/entitlements/batch", "his"),
        ("GET", f"/v1/vneid/cards/{CCCD1}", "his"),
        ("GET", "/metrics", "his"),
    ],
)
def test_a_key_without_the_scope_is_403(api, method, path, scope):
    reply = api.request(method, path, key=api.keys[scope], json={"ids": [CCCD1]})
    assert "scope" in error_of(reply, 403, "forbidden")


def test_a_client_over_its_rate_gets_429_with_retry_after(api):
    first = get(api, f"/v1/entitlements/{CCCD1}", scope="slow")
    assert first.status == 200
    second = get(api, f"/v1/entitlements/{CCCD1}", scope="slow")
    error_of(second, 429, "rate_limited")
    assert int(second.headers["Retry-After"]) >= 1


def test_a_revoked_key_stops_working_within_a_poll(api):
    key = add_key(api.data, "short-lived", ["his"])
    assert get_with(api, key).status == 200
    ClientStore(api.data.root).revoke("short-lived")
    deadline = time.monotonic() + 2
    while (reply := get_with(api, key)).status == 200:
        assert time.monotonic() < deadline, "a revoked key still works after 2 s"
        time.sleep(0.05)
    error_of(reply, 401, "unauthorized")


def get_with(api, key):
    return api.get(f"/v1/entitlements/{CCCD1}", key=key)


# -- paths, methods, sizes -----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/v1", "/v1/entitlements", "/v2/entitlements/x", "/docs/x"])
def test_an_unknown_path_is_404(api, path):
    error_of(api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", f"/v1/entitlements/{CCCD1}", "GET"),
        ("DELETE", "/v1/entitlements/batch", "POST"),
        ("GET", "/api/token/take", "POST"),
        ("PUT", "/healthz", "GET, HEAD"),
    ],
)
def test_a_wrong_method_is_405_with_allow(api, method, path, allow):
    reply = api.request(method, path, key=api.keys["his"])
    error_of(reply, 405, "method_not_allowed")
    assert reply.headers["Allow"] == allow


def test_a_body_over_the_limit_is_413(api):
    ids = [CCCD1] * 5000  # ~75 KB > the 64 KiB this server allows
    reply = api.post("/v1/entitlements/batch", key=api.keys["batch"], json={"ids": ids})
    assert "65536" in error_of(reply, 413, "body_too_large")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v1/entitlements/" + b"0" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
    ],
    ids=["request-line", "header"],
)
def test_an_oversized_request_line_or_header_answers_json(api, request_bytes):
    status, headers, body = parse_raw(api.raw(request_bytes))
    assert status == 400
    assert headers["content-type"] == JSON and headers["x-request-id"]
    assert json.loads(body)["error"]["code"] == "headers"


def test_an_unparseable_request_answers_json(api):
    status, headers, body = parse_raw(api.raw(b"NOT HTTP AT ALL\r\n\r\n"))
    assert status == 400 and headers["content-type"] == JSON
    assert json.loads(body)["error"]["code"] == "request"


# -- request ids ---------------------------------------------------------------------------------
def test_every_response_has_a_fresh_request_id(api):
    replies = [
        get(api, f"/v1/entitlements/{CCCD1}"),
        api.get(f"/v1/entitlements/{CCCD1}"),  # 401
        api.get("/nowhere"),
        api.get("/healthz"),
        get(api, "/metrics", scope="admin"),
    ]
    ids = [r.headers["X-Request-Id"] for r in replies]
    assert all(ids) and len(set(ids)) == len(ids)


def test_a_plain_incoming_request_id_is_echoed_and_others_replaced(api):
    path = f"/v1/entitlements/{CCCD1}"
    for plain in ("his-42.abc:7", "req-20260601-12345678", "0" * 8 + "x" + "0" * 8):
        assert get(api, path, headers={"X-Request-Id": plain}).headers["X-Request-Id"] == plain
    for bad in ("has space", "x" * 65, "ümlaut", "001085000001;drop"):
        replaced = get(api, path, headers={"X-Request-Id": bad.encode().decode("latin-1")})
        assert replaced.headers["X-Request-Id"] not in (bad, "")


# Values an ID number may hide in (SPEC 5): a CCCD, a social insurance number, a card code, and
# a run of 9 digits or more inside an otherwise plain token.
ID_LIKE_REQUEST_IDS = ("001085000001", "0100000001", CARD1, "req-001085000001", "a.123456789")


@pytest.mark.parametrize("incoming", ID_LIKE_REQUEST_IDS)
def test_a_request_id_holding_an_id_number_is_replaced_and_never_logged(api, caplog, incoming):
    caplog.set_level(logging.DEBUG)
    headers = {"X-Request-Id": incoming}
    replies = [
        get(api, f"/v1/entitlements/{CCCD1}", headers=headers),
        api.get(f"/v1/entitlements/{CCCD1}", headers=headers),  # 401
        # A refused body: the one request that leaves a log line with its request id.
        api.post(
            "/api/token/take",
            body=b"x",
            headers={**headers, "Content-Type": "multipart/form-data"},
        ),
    ]
    for reply in replies:
        assert reply.headers["X-Request-Id"] != incoming and reply.headers["X-Request-Id"]
    logged = [r.getMessage() for r in caplog.records]
    assert any(replies[-1].headers["X-Request-Id"] in line for line in logged)
    assert all(incoming not in line for line in logged)


# -- POST /v1/entitlements/batch -----------------------------------------------------------------
def batch(api, body, **kwargs):
    return api.post("/v1/entitlements/batch", key=api.keys["batch"], json=body, **kwargs)


def test_batch_answers_in_request_order_with_bad_ids_in_place(api):
    ids = [CARD1, "nonsense", "001085999999", BHXH1, CCCD1, " 001 085 000 002 "]
    day = days_from_today(1)
    reply = batch(api, {"ids": ids, "date": day, "facility": "01832"})
    assert reply.status == 200 and reply.headers["Content-Type"] == JSON
    results = reply.json()["results"]
    assert [r["id"] for r in results] == ids
    assert [r["result"]["code"] for r in results] == ["000", "205", "050", "000", "000", "000"]
    assert {r["snapshot"] for r in results} == {reply.headers["X-Snapshot"]}
    assert all(r["date"] == day for r in results)
    assert results[0]["in_route"] is True and results[1]["in_route"] is None
    # Sent apart from its headers (lookup.web.entitlements.send_apart): still a plain,
    # sized answer with a request id, on a connection that stays open.
    assert reply.headers["Content-Length"] == str(len(reply.body))
    assert reply.headers["X-Request-Id"]
    assert "Transfer-Encoding" not in reply.headers


def test_batch_results_equal_single_answers(api):
    ids = [CCCD1, "DN4019900000002", "001085000003"]
    results = batch(api, {"ids": ids}).json()["results"]
    assert results == [get(api, f"/v1/entitlements/{i}").json() for i in ids]


def test_batch_of_1000_is_answered_and_1001_is_400(api):
    assert len(batch(api, {"ids": [CCCD1] * 1000}).json()["results"]) == 1000
    assert "1001" in error_of(batch(api, {"ids": [CCCD1] * 1001}), 400, "ids")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"ids": [CCCD1, 1085000001]}, "ids"),
        ({"ids": [CCCD1, None]}, "ids"),
        ({"ids": []}, "ids"),
        ({"ids": CCCD1}, "ids"),
        ({}, "ids"),
        ([CCCD1], "body"),
        ({"ids": [CCCD1], "facilty": "01832"}, "body"),
        ({"ids": [CCCD1], "date": "01/06/2026"}, "date"),
        ({"ids": [CCCD1], "date": 20260601}, "date"),
        ({"ids": [CCCD1], "facility": "x"}, "facility"),
        ({"ids": [CCCD1], "facility": 1832}, "facility"),
        ({"ids": [CCCD1], "facility": ""}, "facility"),
        ({"ids": [CCCD1], "date": ""}, "date"),
    ],
)
def test_batch_bad_input_is_400_naming_the_field(api, body, code):
    error_of(batch(api, body), 400, code)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("facility", "facility: must be a string, e.g. 01832, not null; or leave it out"),
        ("date", "date: must be a string YYYY-MM-DD, not null; or leave it out"),
    ],
)
def test_batch_null_date_or_facility_is_400_as_the_openapi_document_says(api, field, message):
    assert error_of(batch(api, {"ids": [CCCD1], field: None}), 400, field) == message


def test_batch_names_the_id_that_is_not_a_string(api):
    message = error_of(batch(api, {"ids": [CCCD1, CCCD1, 1085000001]}), 400, "ids")
    assert message == "ids[2]: expected str, got int"


def test_batch_body_that_is_not_json_is_400_body(api):
    reply = api.post(
        "/v1/entitlements/batch",
        key=api.keys["batch"],
        body=b"ids=1",
        headers={"Content-Type": "application/json"},
    )
    error_of(reply, 400, "body")


# -- GET /v1/vneid/cards/{cccd} ------------------------------------------------------------------
def test_vneid_card_view(api):
    reply = get(api, "/v1/vneid/cards/001085000002", scope="vneid")
    assert reply.status == 200 and reply.headers["X-Snapshot"]
    view = reply.json()
    assert set(view) == {"id", "cccd", "date", "result", "card", "snapshot"}
    assert view["cccd"] == "001085000002" and view["result"]["code"] == "000"
    card = view["card"]
    assert card["holder_name"] == "Trần Thị Bình" and card["dob"] == "1950"
    assert card["gender"] == "female" and card["card_no"] == "DN4010100000002"
    assert card["benefit_level"] == 4 and card["coverage_pct"] == 80
    assert card["valid_to"] == days_from_today(100) and card["status"] == "active"


@pytest.mark.parametrize(
    ("asked", "code"),
    [("001085999999", "050"), ("12345", "205"), (CARD1, "205"), (BHXH1, "205")],
)
def test_vneid_takes_only_a_known_cccd(api, asked, code):
    view = get(api, f"/v1/vneid/cards/{asked}", scope="vneid").json()
    assert view["result"]["code"] == code and view["card"] is None and view["cccd"] is None


def test_vneid_expired_card_is_010_with_the_card(api):
    view = get(api, "/v1/vneid/cards/001085000003", scope="vneid").json()
    assert view["result"]["code"] == "010" and view["card"]["valid_to"] == "2025-12-31"


# -- operations ----------------------------------------------------------------------------------
def test_healthz_needs_no_key(api):
    reply = api.get("/healthz")
    assert reply.status == 200 and reply.json() == {"status": "ok"}


def test_readyz_reports_snapshot_core_and_worker(api):
    reply = api.get("/readyz")
    assert reply.status == 200
    body = reply.json()
    assert body["ready"] is True and body["snapshot"] == api.data.current_id()
    assert reply.headers["X-Snapshot"] == body["snapshot"]
    assert body["core"] == _core.CORE and body["worker"] == 0 and body["audit"] == "ok"
    assert 0 <= body["snapshot_age_s"] < 600


def test_metrics_needs_admin_and_counts_requests_and_results(api):
    get(api, "/v1/entitlements/001085999999")
    reply = get(api, "/metrics", scope="admin")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = reply.body.decode()
    assert re.search(
        r'lookup_requests_total\{route="/v1/entitlements/\{id\}",status="200"\} \d', text
    )
    assert re.search(r'lookup_results_total\{code="050"\} [1-9]', text)
    assert f'lookup_snapshot_info{{snapshot="{api.data.current_id()}"}} 1' in text
    error_of(api.get("/metrics"), 401, "unauthorized")


def test_metrics_count_each_answer_of_a_batch_by_its_result(api):
    def results():
        text = get(api, "/metrics", scope="admin").body.decode()
        return {
            c: float(n) for c, n in re.findall(r'lookup_results_total\{code="(\d+)"\} (\S+)', text)
        }

    before = results()
    assert batch(api, {"ids": [CCCD1, "001085999999", CCCD1, "nonsense"]}).status == 200
    after = results()
    assert {c: after[c] - before.get(c, 0) for c in after if after[c] != before.get(c, 0)} == {
        "000": 2,
        "050": 1,
        "205": 1,
    }


# -- description ---------------------------------------------------------------------------------
def test_openapi_describes_every_route(api):
    reply = api.get("/openapi.json")
    assert reply.status == 200 and reply.headers["Content-Type"] == JSON
    spec = reply.json()
    assert spec["openapi"].startswith("3.")
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in api.app.router.routes()
        if route.method not in ("*", "HEAD")
    }
    described = {(m, p) for p, item in spec["paths"].items() for m in item}
    assert served == described == {(r.method.lower(), r.path) for r in ROUTES}
    for path, item in spec["paths"].items():
        for op in item.values():
            assert op["responses"]["200"], path
            for param in op.get("parameters", []):
                assert param["description"], (path, param["name"])
    errors = spec["components"]["responses"]
    assert {
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "TooLarge",
        "RateLimited",
        "NotReady",
    } <= set(errors)
    assert set(spec["components"]["schemas"]["CardCheckResponse"]["properties"]) >= {
        "maKetQua",
        "ghiChu",
        "maThe",
        "maTheMoi",
        "dsLichSuKCB2018",
    }


@pytest.mark.parametrize(
    "value",
    [
        "01832",
        " 79c51 ",
        "01 832",
        "0\t1\n8\r32",
        "79C5Z",
        "",
        "1832",
        "018321",
        "AB832",
        "01-83",
        "0183",
        "01832x",
        "０1832",
    ],
)
def test_openapi_facility_pattern_is_what_the_service_accepts(api, value):
    spec = api.get("/openapi.json").json()
    (param,) = (
        p
        for p in spec["paths"]["/v1/entitlements/{id}"]["get"]["parameters"]
        if p["name"] == "facility"
    )
    batch_field = spec["components"]["schemas"]["BatchRequest"]["properties"]["facility"]
    assert param["schema"]["pattern"] == batch_field["pattern"]
    described = re.search(batch_field["pattern"], value) is not None
    reply = get(api, f"/v1/entitlements/{CCCD1}", query={"facility": value})
    assert (reply.status == 200) == described, (value, reply.body)


def test_openapi_lists_400_and_408_wherever_a_body_is_read(api):
    spec = api.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for op in item.values():
            if "requestBody" in op:
                assert {"400", "408", "413"} <= set(op["responses"]), path


def test_openapi_is_a_valid_openapi_document(api):
    from openapi_spec_validator import validate

    validate(api.get("/openapi.json").json())


def test_docs_page_renders_openapi_offline(api):
    reply = api.get("/docs")
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/html; charset=utf-8"
    page = reply.body.decode()
    assert "openapi.json" in page and "<script>" in page
    assert not re.search(r"https?://", page)  # nothing from another host
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", page)


# -- audit and privacy ---------------------------------------------------------------------------
def audit_lines(data: DataDir) -> list[dict]:
    lines = []
    for path in sorted((data.root / "audit").glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line]
    return lines


def test_each_lookup_leaves_one_audit_record_without_the_id(api):
    before = len(audit_lines(api.data))
    get(api, "/v1/entitlements/001085000003")
    batch(api, {"ids": [CCCD1, "001085999999"]})
    records = audit_lines(api.data)[before:]
    assert [(r["client"], r["endpoint"], r["results"]) for r in records] == [
        ("his", "entitlement", ["010"]),
        ("batch", "batch", ["000", "050"]),
    ]
    text = json.dumps(records)
    assert "001085000003" not in text and CCCD1 not in text
    assert all(r["snapshot"] == api.data.current_id() for r in records)


def test_logs_hold_no_id_number(api, caplog):
    caplog.set_level(logging.DEBUG)
    secret_id = "079185123456"
    api.raw(b"GET /v1/entitlements/" + secret_id.encode() * 800 + b" HTTP/1.1\r\n\r\n")
    api.raw(b"GET /v1/entitlements/" + secret_id.encode() + b" HTTP/1.1\r\nX: \x00\r\n\r\n")
    get(api, f"/v1/entitlements/{secret_id}", query={"date": secret_id})
    get(api, f"/v1/entitlements/{secret_id}")
    assert all(secret_id not in record.getMessage() for record in caplog.records)
    assert all(secret_id not in (record.exc_text or "") for record in caplog.records)


# -- not ready -----------------------------------------------------------------------------------
def test_no_snapshot_yet_is_503_and_not_ready(tmp_path):
    data = DataDir(tmp_path / "data")
    key = add_key(data, "his", ["his", "batch", "vneid"])
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as server:
        error_of(server.get(f"/v1/entitlements/{CCCD1}", key=key), 503, "not_ready")
        reply = server.post("/v1/entitlements/batch", key=key, json={"ids": [CCCD1]})
        error_of(reply, 503, "not_ready")
        error_of(server.get(f"/v1/vneid/cards/{CCCD1}", key=key), 503, "not_ready")
        ready = server.get("/readyz")
        assert ready.status == 503 and ready.json()["ready"] is False
        assert ready.json()["snapshot"] is None
        assert server.get("/healthz").status == 200


def test_an_unwritable_audit_log_is_503_and_no_answer(tmp_path: Path):
    data = build_data(tmp_path, ROWS[:1])
    key = add_key(data, "his", ["his", "batch", "vneid"])
    (data.root / "audit").write_text("a file where the audit directory belongs")
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as server:
        for reply in (
            server.get(f"/v1/entitlements/{CCCD1}", key=key),
            server.post("/v1/entitlements/batch", key=key, json={"ids": [CCCD1]}),
            server.get(f"/v1/vneid/cards/{CCCD1}", key=key),
        ):
            error_of(reply, 503, "audit_unavailable")
            assert b"Nguy" not in reply.body and "X-Snapshot" not in reply.headers
        ready = server.get("/readyz")
        assert ready.status == 503 and ready.json()["audit"].startswith("unwritable")
        # It recovers by itself once the directory can be made.
        (data.root / "audit").unlink()
        assert server.get(f"/v1/entitlements/{CCCD1}", key=key).status == 200
        assert server.get("/readyz").status == 200
