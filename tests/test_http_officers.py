"""Gateway officer checks (DOMAIN.md 4, SPEC.md 3.1: 054 / 055) through real servers: a facility
that registered officers (lookup facilities import) has every other officer refused; a new
import takes effect in running workers without a restart, in-process and under `lookup serve`;
no officer CCCD or name reaches a log, the audit log or an answer."""

from __future__ import annotations

import http.client
import json
import logging
import signal
import socket
import subprocess
import sys
import time
import unicodedata

import pytest

from lookup.facilities.importer import import_registry
from lookup.service.audit import AuditLog, load_secret
from lookup.service.clients import md5_hex
from lookup.web.app import ServiceConfig
from lookup.web.gateway import login_facility
from lookup.web.gateway_rules import ANSWER_FIELDS
from lookup.web.gateway_rules import NOTES as OFFICER_NOTES

from helpers.cli import lookup
from helpers.facilities import OFFICERS, REGISTRY, write_registry
from helpers.server import LiveServer, add_key, build_data, days_from_today, person

TOKEN = "/api/token/take"
CHECK = "/api/egw/KQNhanLichSuKCB2024"
PASSWORD = "mật khẩu"
NAME, DOB = "Nguyễn Văn An", "12/04/1985"
DUNG = {"cccdCb": "001190000777", "hoTenCb": "Phạm Thị Dung"}  # Bạch Mai's officer
THUY = {"cccdCb": "079190000999", "hoTenCb": "Trần Thị Thúy"}  # Chợ Rẫy's
STRANGER = {"cccdCb": "001085123456", "hoTenCb": "Lê Văn Khách"}  # nobody's
ROWS = [person(n, valid_from=days_from_today(-100), valid_to=days_from_today(200)) for n in (1, 2)]
CARD = ROWS[0]["card_no"]
UNKNOWN_CARD = "DN4010199999999"
LOGINS = {"bv-bach-mai": "01832_BV", "bv-cho-ray": "79024_BV", "tram-phu-thuong": "01C51_BV",
          "his-vendor": "his_vendor"}  # fmt: skip


def take_token(server, username: str) -> dict[str, str]:
    reply = server.post(TOKEN, form={"username": username, "password": md5_hex(PASSWORD)})
    key = reply.json()["APIKey"]
    return {
        "token": key["access_token"],
        "id_token": key["id_token"],
        "username": username,
        "password": md5_hex(PASSWORD),
    }


def check(server, login, officer, ma_the=CARD, ho_ten=NAME, **extra):
    fields = {"maThe": ma_the, "hoTen": ho_ten, "ngaySinh": DOB, **officer, **extra}
    reply = server.post(CHECK, query=server.logins[login], form=fields)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert list(body) == list(ANSWER_FIELDS)
    return body


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    folder = tmp_path_factory.mktemp("officers")
    data = build_data(folder, ROWS)
    for name, username in LOGINS.items():
        add_key(data, name, ["his"], username=username, password=PASSWORD)
    import_registry(data.root, str(write_registry(folder / "registry.csv")))
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as server:
        server.data = data  # type: ignore[attr-defined]
        server.folder = folder  # type: ignore[attr-defined]
        server.logins = {u: take_token(server, u) for u in LOGINS.values()}  # type: ignore[attr-defined]
        yield server


def test_a_registered_officer_checks_cards(gw):
    body = check(gw, "01832_BV", DUNG)
    assert body["maKetQua"] == "000" and body["hoTen"] == NAME and body["maThe"] == CARD
    other = {"cccdCb": "001090000888", "hoTenCb": "Nguyễn Văn Hòa"}
    assert check(gw, "01832_BV", other)["maKetQua"] == "000"


def test_an_officer_the_facility_did_not_register_answers_054(gw):
    for officer in (STRANGER, THUY):  # Thúy is registered, at Chợ Rẫy
        body = check(gw, "01832_BV", officer)
        assert body["maKetQua"] == "054"
        assert body["ghiChu"] == OFFICER_NOTES["054"]
        assert body["maThe"] == CARD
        assert all(body[f] is None for f in ANSWER_FIELDS[3:])  # no card data at all
    assert check(gw, "79024_BV", THUY)["maKetQua"] == "000"


def test_054_comes_before_the_card_is_looked_up_and_before_the_name_checks(gw):
    # An unregistered officer learns nothing of any card, not even whether it exists.
    assert check(gw, "01832_BV", STRANGER, ma_the=UNKNOWN_CARD)["maKetQua"] == "054"
    assert check(gw, "01832_BV", DUNG, ma_the=UNKNOWN_CARD)["maKetQua"] == "050"
    assert check(gw, "01832_BV", STRANGER, ho_ten="Hà Văn Bình")["maKetQua"] == "054"
    assert check(gw, "01832_BV", DUNG, ho_ten="Hà Văn Bình")["maKetQua"] == "060"
    assert check(gw, "01832_BV", {**DUNG, "hoTenCb": "X"}, ho_ten="Hà Văn Bình")["maKetQua"] == (
        "055"
    )


def test_malformed_input_comes_before_the_officer_checks(gw):
    assert check(gw, "01832_BV", {**STRANGER, "cccdCb": "0010851234"})["maKetQua"] == "205"
    assert check(gw, "01832_BV", STRANGER, ma_the="12345")["maKetQua"] == "205"
    assert check(gw, "01832_BV", STRANGER, ngaySinh="31/02/1985")["maKetQua"] == "205"
    assert check(gw, "01832_BV", {"cccdCb": STRANGER["cccdCb"]})["maKetQua"] == "205"


def test_a_registered_officer_under_another_name_answers_055(gw):
    for name in ("Phạm Thị Dũng", "Phạm Dung", "Nguyễn Văn Hòa"):
        body = check(gw, "01832_BV", {**DUNG, "hoTenCb": name})
        assert body["maKetQua"] == "055" and body["ghiChu"] == OFFICER_NOTES["055"]
        assert body["hoTen"] is None and body["gtTheDen"] is None


@pytest.mark.parametrize(
    "name",
    ["PHẠM THỊ DUNG", "  phạm  thị   dung ", unicodedata.normalize("NFD", "Phạm Thị Dung")],
)
def test_the_officer_name_compares_as_names_do(gw, name):
    assert check(gw, "01832_BV", {**DUNG, "hoTenCb": name})["maKetQua"] == "000"


def test_the_tone_placements_of_an_officer_name_are_one_name(gw):
    for name in ("Trần Thị Thuý", "TRẦN THỊ THÚY"):
        assert check(gw, "79024_BV", {**THUY, "hoTenCb": name})["maKetQua"] == "000"
    hoa = {"cccdCb": "001090000888", "hoTenCb": "Nguyễn Văn Hoà"}
    assert check(gw, "01832_BV", hoa)["maKetQua"] == "000"


def test_a_facility_without_registered_officers_is_not_checked(gw):
    assert check(gw, "01C51_BV", STRANGER)["maKetQua"] == "000"  # registered, no officers
    assert check(gw, "his_vendor", STRANGER)["maKetQua"] == "000"  # no facility in the login


def test_login_facility():
    assert login_facility("01832_BV") == "01832"
    assert login_facility("01c51_bv") == "01C51"
    assert login_facility("his_vendor") is None
    assert login_facility("01832") is None
    assert login_facility(None) is None


def audit_records(gw) -> list[dict]:
    return [
        json.loads(line)
        for p in sorted((gw.data.root / "audit").glob("*.jsonl"))
        for line in p.read_text(encoding="utf-8").splitlines()
        if line
    ]


def test_refused_checks_are_audited_with_the_officer_hashed(gw):
    before = len(audit_records(gw))
    check(gw, "01832_BV", STRANGER)
    check(gw, "01832_BV", {**DUNG, "hoTenCb": "Phạm Thị Dũng"})
    first, second = audit_records(gw)[before:]
    audit = AuditLog(gw.data.root / "audit", worker="t", secret=load_secret(gw.data.root))
    assert first["results"] == ["054"] and first["officer"] == audit.hash_id(STRANGER["cccdCb"])
    assert second["results"] == ["055"] and second["officer"] == audit.hash_id(DUNG["cccdCb"])
    assert first["client"] == "bv-bach-mai" and first["endpoint"] == "gateway"


def test_no_officer_cccd_or_name_is_logged_or_audited(gw, caplog):
    with caplog.at_level(logging.DEBUG):
        for officer in (STRANGER, DUNG, {**DUNG, "hoTenCb": "Phạm Thị Dũng"}, THUY):
            check(gw, "01832_BV", officer)
        # and a new import seen by the worker, logged
        write_registry(gw.folder / "again.csv")
        import_registry(gw.data.root, str(gw.folder / "again.csv"))
        time.sleep(1.1)
        check(gw, "01832_BV", DUNG)
    logged = caplog.text
    audited = "".join(p.read_text() for p in (gw.data.root / "audit").glob("*.jsonl"))
    for cccd, name in [*OFFICERS.items(), tuple(STRANGER.values())]:
        for text in (logged, audited):
            assert cccd not in text
            assert name.casefold() not in text.casefold()
    assert "serving facility registry" in logged


def test_a_new_import_takes_effect_without_a_restart(gw):
    assert check(gw, "01832_BV", STRANGER)["maKetQua"] == "054"
    # The facility now registers the stranger too (and Dung under another name).
    rows = [*REGISTRY, {**REGISTRY[0], "officer_cccd": STRANGER["cccdCb"],
                        "officer_name": STRANGER["hoTenCb"]}]  # fmt: skip
    rows[0] = {**rows[0], "officer_name": "Phạm Thị Dung Anh"}
    import_registry(gw.data.root, str(write_registry(gw.folder / "new.csv", rows)))
    wait_for(lambda: check(gw, "01832_BV", STRANGER)["maKetQua"] == "000", 3.0)
    assert check(gw, "01832_BV", DUNG)["maKetQua"] == "055"
    # ...then none at all: the facility is no longer checked.
    plain = [{**r, "officer_cccd": "", "officer_name": ""} for r in REGISTRY]
    import_registry(gw.data.root, str(write_registry(gw.folder / "plain.csv", plain)))
    wait_for(lambda: check(gw, "79024_BV", STRANGER)["maKetQua"] == "000", 3.0)
    # and back
    import_registry(gw.data.root, str(write_registry(gw.folder / "registry.csv")))
    wait_for(lambda: check(gw, "01832_BV", STRANGER)["maKetQua"] == "054", 3.0)


def wait_for(predicate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


# -- a real `lookup serve` with two workers ------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(port: int, path: str, query: dict[str, str], fields: dict[str, str]):
    """One request on a fresh connection (the kernel spreads them over the workers)."""
    from urllib.parse import urlencode

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            f"{path}?{urlencode(query)}" if query else path,
            body=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        return response.getheader("X-Request-Id", ""), json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.slow
def test_the_workers_of_lookup_serve_pick_up_a_new_registry(tmp_path):
    data = build_data(tmp_path, ROWS)
    add_key(data, "bv-bach-mai", ["his"], username="01832_BV", password=PASSWORD)
    port = free_port()
    errors = tmp_path / "serve.err"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lookup", "serve", "--data", str(data.root), "--port",
             str(port), "--workers", "2"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("serving "), errors.read_text()
        _, token = post(port, TOKEN, {}, {"username": "01832_BV", "password": md5_hex(PASSWORD)})
        key = token["APIKey"]
        query = {"token": key["access_token"], "id_token": key["id_token"],
                 "username": "01832_BV", "password": md5_hex(PASSWORD)}  # fmt: skip
        fields = {"maThe": CARD, "hoTen": NAME, "ngaySinh": DOB, **STRANGER}

        def answers(n: int = 24) -> dict[str, set[str]]:
            """The codes each worker answered, by the worker prefix of X-Request-Id."""
            seen: dict[str, set[str]] = {}
            for _ in range(n):
                request_id, body = post(port, CHECK, query, fields)
                seen.setdefault(request_id.split("-")[0], set()).add(body["maKetQua"])
            return seen

        assert answers() == {"w0": {"000"}, "w1": {"000"}}  # no registry yet
        done = lookup("facilities", "import", str(write_registry(tmp_path / "r.csv")), "--data",
                      str(data.root))  # fmt: skip
        assert done.returncode == 0, done.stderr
        time.sleep(1.2)  # a worker looks at most once a second, at its next check
        answers()  # the first check after the second passed loads it
        assert answers() == {"w0": {"054"}, "w1": {"054"}}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert proc.stdout is not None
        proc.stdout.close()
    logged = errors.read_text(encoding="utf-8")  # warnings and errors only
    for text in (logged, *(p.read_text() for p in (data.root / "audit").glob("*.jsonl"))):
        assert STRANGER["cccdCb"] not in text and STRANGER["hoTenCb"] not in text
