"""The OpenAPI 3 description of the HTTP API (SPEC.md 3), served at /openapi.json.

Written by hand from SPEC 3, DESIGN 6 and DOMAIN 5, and checked by the tests against the app's
routes, so a route cannot be added without being described.
"""

from __future__ import annotations

from typing import Any

__all__ = ("spec",)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


STR: Schema = {"type": "string"}
NSTR: Schema = {"type": ["string", "null"]}
DATE: Schema = {"type": "string", "format": "date", "example": "2026-06-01"}
NDATE: Schema = {"type": ["string", "null"], "format": "date"}
# A date a request asks about: the service answers for years 1800-2299 (lookup.clock), 400 else.
ASKED_DATE: Schema = {**DATE, "pattern": "^(?:1[89][0-9]{2}|2[0-2][0-9]{2})-[0-9]{2}-[0-9]{2}$"}
# A facility code as the service reads it (DESIGN 2): 2 digits then 3 digits or letters, spaces,
# tabs and line breaks anywhere ignored, lower case forgiven.
_GAP = "[ \\t\\r\\n]*"
FACILITY: Schema = {
    "type": "string",
    "pattern": f"^{_GAP}[0-9]{_GAP}[0-9](?:{_GAP}[0-9A-Za-z]){{3}}{_GAP}$",
    "example": "01832",
    "description": "facility code: 2 digits then 3 digits or capital letters",
}


def _object(properties: dict[str, Schema], description: str = "", **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "required": list(properties)}
    if description:
        schema["description"] = description
    return schema | extra


RESULT_CODES = (
    "000 card valid; 001 / 002 managed by the defence / police ministry (check by hand); "
    "003 / 004 an old card code, expired / still valid, a new card was issued; 010 outside the "
    "card's validity window; 050 no card found; 060 / 061 name differs (061: first letter "
    "agrees; gateway only); 070 birth date differs (gateway only); 100 data error; 110 revoked; "
    "120-124 cut off (reduced, out of province, within province, re-joined, stopped); "
    "205 malformed id or field. `eligible` is true for 000, 001, 002, 004."
)

SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {
                        "type": "string",
                        "description": "400: the field at fault (`date`, `facility`, `ids`, "
                        "`body`, `headers`, `request`); otherwise `unauthorized`, `forbidden`, "
                        "`not_found`, `method_not_allowed`, `request_timeout`, "
                        "`body_too_large`, `rate_limited`, `not_ready`, `audit_unavailable`, "
                        "`internal`",
                    },
                    "message": {"type": "string", "description": "what is wrong, in English"},
                }
            )
        },
        "Every error response (SPEC 3).",
    ),
    "Result": _object(
        {
            "code": {"type": "string", "pattern": "^[0-9]{3}$", "description": RESULT_CODES},
            "eligible": {"type": "boolean"},
            "message": {"type": "string", "description": "Vietnamese verdict"},
            "message_en": {"type": "string", "description": "English verdict; for 205 the reason"},
        }
    ),
    "Person": _object(
        {
            "cccd": {"type": "string", "pattern": "^[0-9]{12}$"},
            "bhxh_code": {"type": "string", "pattern": "^[0-9]{10}$"},
            "full_name": STR,
            "dob": {"type": "string", "description": "YYYY-MM-DD, or YYYY-MM / YYYY as stored"},
            "gender": {"enum": ["male", "female", "unknown"]},
        }
    ),
    "Card": _object(
        {
            "card_no": {"type": "string", "pattern": "^[A-Z]{2}[1-5][0-9]{12}$"},
            "group": {"type": "string", "description": "beneficiary group, e.g. DN, TE, HT"},
            "benefit_level": {"type": "integer", "minimum": 1, "maximum": 5},
            "coverage_pct": {"type": "integer", "enum": [100, 95, 80]},
            "province": {"type": "string", "description": "characters 4-5 of the card code"},
            "facility_code": {**NSTR, "description": "registered primary-care facility (maDKBD)"},
            "facility_name": {**NSTR, "description": "its name in the facility registry"},
            "facility_level": {
                "enum": ["central", "provincial", "basic", "primary", None],
                "description": "its technical level in the facility registry",
            },
            "valid_from": NDATE,
            "valid_to": NDATE,
            "five_year_date": {**NDATE, "description": "five consecutive years (ngayDu5Nam)"},
            "region_code": {"enum": ["K1", "K2", "K3", None]},
            "status": {
                "enum": [
                    "active",
                    "revoked",
                    "reduced",
                    "reduced_out_province",
                    "reduced_in_province",
                    "reduced_rejoined",
                    "reduced_stopped",
                    "replaced",
                ]
            },
            "issuer": NSTR,
            "managed_by": {"enum": ["vss", "defence", "police"]},
            "valid_until": {**NDATE, "description": "last covered day (TE: the age-6 limit)"},
        },
        "For 003/004 the previous card, as far as it is known.",
    ),
    "Replacement": _object(
        {
            "card_no": STR,
            "valid_from": DATE,
            "valid_to": DATE,
            "facility_code": STR,
            "facility_name": NSTR,
        },
        "The person's current card, for 003/004.",
    ),
    "Entitlement": _object(
        {
            "id": {"type": "string", "description": "as asked"},
            "id_type": {"enum": ["cccd", "bhxh_code", "card_no", None]},
            "result": _ref("Result"),
            "date": DATE,
            "person": _nullable(_ref("Person")),
            "card": _nullable(_ref("Card")),
            "replacement": _nullable(_ref("Replacement")),
            "in_route": {
                "type": ["boolean", "null"],
                "description": "null without `facility`; else whether it is the registered one",
            },
            "snapshot": STR,
        },
        "SPEC 3. `person` and `card` are null for 050 and 205.",
    ),
    "BatchRequest": {
        "type": "object",
        "required": ["ids"],
        "additionalProperties": False,
        "properties": {
            "ids": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": STR,
                "description": "CCCDs, social insurance numbers or card codes; a malformed one "
                "answers 205 in its place, a non-string is a 400",
            },
            "date": {
                **ASKED_DATE,
                "description": "default (left out): today in Vietnam (UTC+7)",
            },
            "facility": {**FACILITY, "description": "the asking facility's code; sets `in_route`"},
        },
    },
    "BatchResponse": _object(
        {"results": {"type": "array", "items": _ref("Entitlement")}},
        "One entitlement per id, in request order, all from one snapshot.",
    ),
    "VneidCard": _object(
        {
            "id": {"type": "string", "description": "as asked"},
            "cccd": {**NSTR, "description": "the holder's CCCD; null for 050 and 205"},
            "date": DATE,
            "result": _ref("Result"),
            "card": _nullable(
                _object(
                    {
                        "holder_name": STR,
                        "dob": STR,
                        "gender": {"enum": ["male", "female", "unknown"]},
                        "card_no": STR,
                        "group": STR,
                        "benefit_level": {"type": "integer"},
                        "coverage_pct": {"type": "integer"},
                        "facility_code": STR,
                        "facility_name": NSTR,
                        "valid_from": DATE,
                        "valid_to": DATE,
                        "valid_until": DATE,
                        "five_year_date": NDATE,
                        "region_code": NSTR,
                        "status": STR,
                        "issuer": NSTR,
                    }
                )
            ),
            "snapshot": STR,
        },
        "The card as the VNeID app shows it to its holder. Only a CCCD is accepted: a card code "
        "or social insurance number answers 205.",
    ),
    "Health": _object({"status": {"const": "ok"}}),
    "Readiness": _object(
        {
            "ready": {"type": "boolean"},
            "snapshot": NSTR,
            "snapshot_age_s": {"type": ["number", "null"]},
            "core": {"enum": ["compiled", "python"]},
            "worker": {"type": "integer"},
            "pid": {"type": "integer"},
            "audit": {"type": "string", "description": "`ok` or why it is unwritable"},
            "audit_backlog": {"type": "integer"},
        }
    ),
    "TokenRequest": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "example": "01832_BV"},
            "password": {"type": "string", "description": "MD5 hex of the password"},
        },
    },
    "TokenResponse": {
        "type": "object",
        "required": ["maKetQua", "APIKey"],
        "description": 'HTTP 200 for every verdict: `maKetQua` "200" with a key, "401" bad '
        'login, "205" missing field (then `APIKey` is null and `ghiChu` says why). A body that '
        "cannot be read at all is a 400 error instead.",
        "properties": {
            "maKetQua": {"enum": ["200", "401", "205"]},
            "ghiChu": STR,
            "APIKey": _nullable(
                _object(
                    {
                        "access_token": STR,
                        "id_token": STR,
                        "token_type": {"const": "Bearer"},
                        "username": STR,
                        "expires_in": {"type": "integer", "description": "seconds"},
                    }
                )
            ),
        },
    },
    "CardCheckRequest": {
        "type": "object",
        "required": ["maThe", "hoTen", "ngaySinh", "hoTenCb", "cccdCb"],
        "properties": {
            "maThe": {"type": "string", "description": "card code (15), CCCD (12) or BHXH (10)"},
            "hoTen": {"type": "string", "description": "the holder's name as the patient gives it"},
            "ngaySinh": {"type": "string", "description": "dd/MM/yyyy, ddMMyyyy, MM/yyyy or yyyy"},
            "hoTenCb": {"type": "string", "description": "the checking officer's name"},
            "cccdCb": {"type": "string", "description": "the checking officer's CCCD"},
        },
    },
    "CardCheckResponse": {
        "type": "object",
        "description": "The VSS gateway's answer, field for field; HTTP 200 whatever the "
        "verdict. Card fields are null for 050, 054, 055, 060, 061, 070, 205 and 401. `maTheCu`, "
        "`maTheMoi`, `gtTheTuMoi`, `gtTheDenMoi`, `maDKBDMoi` are set for 003/004. "
        "`tenDKBDMoi`, `dsLichSuKCB2018`, `dsLichSuKT2018` are always null.",
        "properties": {
            "maKetQua": {
                "type": "string",
                "description": RESULT_CODES + " 054 / 055 the officer (`cccdCb`) is not one the "
                "login's facility registered / not under this `hoTenCb`. 401 bad token.",
            },
            "ghiChu": {"type": "string", "description": "Vietnamese verdict"},
            "maThe": NSTR,
            "hoTen": NSTR,
            "ngaySinh": {**NSTR, "description": "dd/MM/yyyy, or MM/yyyy / yyyy as stored"},
            "gioiTinh": {"enum": ["Nam", "Nữ", None]},
            "diaChi": NSTR,
            "maDKBD": NSTR,
            "cqBHXH": NSTR,
            "gtTheTu": {**NSTR, "description": "dd/MM/yyyy"},
            "gtTheDen": {**NSTR, "description": "dd/MM/yyyy"},
            "maKV": NSTR,
            "ngayDu5Nam": {**NSTR, "description": "dd/MM/yyyy"},
            "maSoBHXH": NSTR,
            "maTheCu": NSTR,
            "maTheMoi": NSTR,
            "gtTheTuMoi": NSTR,
            "gtTheDenMoi": NSTR,
            "maDKBDMoi": NSTR,
            "tenDKBDMoi": NSTR,
            "dsLichSuKCB2018": {"type": "null"},
            "dsLichSuKT2018": {"type": "null"},
        },
    },
}


def _error(description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


RESPONSES: dict[str, Schema] = {
    "BadRequest": _error("bad input; `error.code` names the field"),
    "Unauthorized": {
        **_error("no or bad key (with `WWW-Authenticate: Bearer`)"),
        "headers": {"WWW-Authenticate": {"schema": STR}},
    },
    "Forbidden": _error("the key lacks this route's scope"),
    "NotFound": _error("unknown path"),
    "MethodNotAllowed": _error("method not allowed (with `Allow`)"),
    "TooLarge": _error("request body too large"),
    "Timeout": _error("the request body did not arrive in time (`request_timeout`)"),
    "RateLimited": {
        **_error("rate limited"),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    },
    "NotReady": _error(
        "not ready: no snapshot published yet (`not_ready`) or the audit log cannot be written "
        "(`audit_unavailable`): no lookup is answered without its audit record"
    ),
}


def _responses(ok: Schema, *errors: str) -> Schema:
    out: Schema = {"200": ok}
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "Timeout": "408",
        "TooLarge": "413",
        "RateLimited": "429",
        "NotReady": "503",
    }
    for name in errors:
        out[codes[name]] = {"$ref": f"#/components/responses/{name}"}
    return out


def _json(schema: Schema, description: str) -> Schema:
    return {
        "description": description,
        "headers": {"X-Snapshot": {"schema": STR, "description": "the snapshot that answered"}},
        "content": {"application/json": {"schema": schema}},
    }


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or STR,
    }


DATE_PARAM = _query(
    "date", "the visit date, YYYY-MM-DD (left out: today in Vietnam; empty: 400)", ASKED_DATE
)
FACILITY_PARAM = _query(
    "facility", "the asking facility's code; sets `in_route` (empty: 400)", FACILITY
)
# A path parameter is one non-empty segment: `/v1/entitlements/` (an empty id) or an id holding
# a `/` is another path, which no route serves (404, not an answer 205).
PATH_SEGMENT: Schema = {"type": "string", "minLength": 1, "pattern": "^[^/]*$"}
LOOKUP_ERRORS = ("BadRequest", "Unauthorized", "Forbidden", "RateLimited", "NotReady")
# Where a body is read: it may not arrive in time, or be too large. A body that cannot be read at
# all (a bad Content-Encoding, multipart without a boundary) is a 400 `body`, even on the
# gateway pair, whose verdicts are otherwise HTTP 200.
BODY_ERRORS = ("Timeout", "TooLarge")
FORM = "application/x-www-form-urlencoded"


def _paths(max_batch: int) -> dict[str, Schema]:
    return {
        "/v1/entitlements/{id}": {
            "get": {
                "summary": "One entitlement",
                "description": "Scope `his`. A person not found is result 050 and a malformed "
                "id result 205, both with status 200.",
                "operationId": "getEntitlement",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": PATH_SEGMENT,
                        "description": "CCCD (12 digits), social insurance number (10) or card "
                        "code (15); spaces and lower case are forgiven",
                    },
                    DATE_PARAM,
                    FACILITY_PARAM,
                ],
                "responses": _responses(
                    _json(_ref("Entitlement"), "the entitlement"), *LOOKUP_ERRORS, "NotFound"
                ),
            }
        },
        "/v1/entitlements/batch": {
            "post": {
                "summary": f"Up to {max_batch} entitlements at once",
                "description": "Scope `batch`. Results in request order, all from one snapshot.",
                "operationId": "batchEntitlements",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("BatchRequest")}},
                },
                "responses": _responses(
                    _json(_ref("BatchResponse"), "one result per id"),
                    *LOOKUP_ERRORS,
                    *BODY_ERRORS,
                ),
            }
        },
        "/v1/vneid/cards/{cccd}": {
            "get": {
                "summary": "The card as the VNeID app shows it",
                "description": "Scope `vneid`. Checked for today in Vietnam.",
                "operationId": "getVneidCard",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "cccd",
                        "in": "path",
                        "required": True,
                        "schema": PATH_SEGMENT,
                        "description": "the holder's CCCD (12 digits)",
                    },
                ],
                "responses": _responses(
                    _json(_ref("VneidCard"), "the card"),
                    *LOOKUP_ERRORS[1:],  # no parameters: no 400
                    "NotFound",
                ),
            }
        },
        "/api/token/take": {
            "post": {
                "summary": "VSS gateway: take a token",
                "description": "DOMAIN 5. The token works on every worker until it expires.",
                "operationId": "gatewayTakeToken",
                "tags": ["VSS gateway"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("TokenRequest")},
                        FORM: {"schema": _ref("TokenRequest")},
                    },
                },
                "responses": _responses(
                    {
                        "description": "see maKetQua",
                        "content": {"application/json": {"schema": _ref("TokenResponse")}},
                    },
                    "BadRequest",
                    *BODY_ERRORS,
                ),
            }
        },
        "/api/egw/KQNhanLichSuKCB2024": {
            "post": {
                "summary": "VSS gateway: check a card",
                "description": "DOMAIN 5, SPEC 3.1. Needs a client with scope `his`. When the "
                "facility registry lists officers for the login's facility (`<code>_BV`), the "
                "officer is checked first (054/055, after malformed fields: 205), then the name "
                "and birth date before the card (060/061/070).",
                "operationId": "gatewayCheckCard",
                "tags": ["VSS gateway"],
                "parameters": [
                    _query("token", "access_token from /api/token/take"),
                    _query("id_token", "id_token from /api/token/take"),
                    _query("username", "the gateway login"),
                    _query("password", "MD5 hex of the password"),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("CardCheckRequest")},
                        FORM: {"schema": _ref("CardCheckRequest")},
                    },
                },
                "responses": _responses(
                    {**_json(_ref("CardCheckResponse"), "see maKetQua")},
                    "BadRequest",
                    *BODY_ERRORS,
                    "RateLimited",
                    "NotReady",
                ),
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "operationId": "healthz",
                "tags": ["operations"],
                "responses": {
                    "200": {
                        "description": "alive",
                        "content": {"application/json": {"schema": _ref("Health")}},
                    }
                },
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: a snapshot is open and the audit log writable",
                "operationId": "readyz",
                "tags": ["operations"],
                "responses": {
                    "200": {
                        "description": "ready",
                        "content": {"application/json": {"schema": _ref("Readiness")}},
                    },
                    "503": {
                        "description": "not ready (same body)",
                        "content": {"application/json": {"schema": _ref("Readiness")}},
                    },
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (all workers)",
                "operationId": "metrics",
                "tags": ["operations"],
                "security": [{"bearer": []}],
                "description": "Scope `admin`.",
                "responses": _responses(
                    {
                        "description": "text exposition format 0.0.4",
                        "content": {"text/plain": {"schema": STR}},
                    },
                    "Unauthorized",
                    "Forbidden",
                    "RateLimited",
                ),
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This description",
                "operationId": "openapi",
                "tags": ["operations"],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/docs": {
            "get": {
                "summary": "A page that renders this description (works offline)",
                "operationId": "docs",
                "tags": ["operations"],
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": STR}}}
                },
            }
        },
    }


def spec(*, max_batch: int = 1000) -> dict[str, Any]:
    """Return the OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "BHYT entitlement lookup",
            "version": "1",
            "description": "Vietnamese health insurance (BHYT) entitlement lookups by CCCD, "
            "social insurance number or card code, and the VSS gateway's card check. Every "
            "response carries `X-Request-Id` (the caller's own when it is 1-64 characters of "
            "`A-Za-z0-9._:-` with no run of 9 or more digits, else a fresh one) and, where a "
            "snapshot answered, `X-Snapshot`. "
            "Bodies are JSON (`application/json; charset=utf-8`). Any path may also answer "
            "404 (unknown path), 405 (wrong method) or 400 (`headers`: a request line or "
            "header over the limit), all with the Error body.",
        },
        "tags": [
            {
                "name": "VSS gateway",
                "description": "Drop-in for the VSS gateway (DOMAIN 5): "
                "HTTP 200 with the verdict in `maKetQua`, as HIS software expects.",
            },
            {"name": "operations"},
        ],
        "paths": _paths(max_batch),
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key from `lookup keys add`",
                },
            },
        },
    }
