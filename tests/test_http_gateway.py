"""The VSS gateway pair (DOMAIN.md 5) through a real server: tokens, and the card check field by
field for every result code, driven the way HIS software drives the real gateway."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from lookup.service.audit import load_secret
from lookup.service.clients import ClientStore, md5_hex
from lookup.web.app import ServiceConfig
from lookup.web.gateway import TokenSigner
from lookup.web.gateway_rules import ANSWER_FIELDS, compare_dob, compare_names

from helpers.server import (
    LiveServer,
    WorkerProcess,
    add_key,
    build_data,
    days_from_today,
    dmy,
    person,
)

TOKEN = "/api/token/take"
CHECK = "/api/egw/KQNhanLichSuKCB2024"
USER, PASSWORD = "01832_BV", "mật khẩu bệnh viện"
OFFICER = {"hoTenCb": "Phạm Thị Dung", "cccdCb": "001190000777"}
FROM, TO = days_from_today(-200), days_from_today(165)


def bhxh(n: int) -> str:
    return f"01{n:08d}"


def row(n: int, **overrides: str) -> dict[str, str]:
    """A person valid today unless overridden; name 'Nguyễn Văn An', born 12/04/1985."""
    return person(n, **{"valid_from": FROM, "valid_to": TO, **overrides})


ROWS = [
    row(1, region_code="K1", five_year_date="2024-01-01", address="Số 1 Tràng Thi, Hà Nội"),
    row(2, card_no=f"QN501{bhxh(2)}", managed_by="defence"),
    row(3, card_no=f"CA501{bhxh(3)}", managed_by="police"),
    row(4, prev_card_no="DN4019900000004", prev_valid_to=days_from_today(-201)),
    row(5, prev_card_no="DN4019900000005", prev_valid_to=days_from_today(30)),
    row(6, valid_to=days_from_today(-1)),
    row(7, status="revoked"),
    row(8, status="reduced"),
    row(9, status="reduced_out_province"),
    row(10, status="reduced_in_province"),
    row(11, status="reduced_rejoined"),
    row(12, status="reduced_stopped"),
    row(13, full_name="Trần  thị   BÌNH", gender="2", dob="1950"),
    row(14, full_name="Lê Văn Cường", dob="1950-03"),
]
NAME, DOB = "Nguyễn Văn An", "12/04/1985"


def card(n: int) -> str:
    return f"DN401{bhxh(n)}"


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gateway")
    data = build_data(folder, ROWS)
    add_key(data, "bv-01832", ["his"], username=USER, password=PASSWORD)
    add_key(data, "vneid-app", ["vneid"], username="vneid_app", password="x")
    add_key(data, "slow-his", ["his"], username="slow_BV", password="x", rate_per_s=0.2, burst=1)
    api_key = add_key(data, "his-api", ["his"])
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as server:
        server.data = data  # type: ignore[attr-defined]
        server.api_key = api_key  # type: ignore[attr-defined]
        server.login = take_token(server)  # type: ignore[attr-defined]
        yield server


def take_token(server, username=USER, password=PASSWORD, form=True):
    fields = {"username": username, "password": md5_hex(password)}
    reply = server.post(TOKEN, form=fields) if form else server.post(TOKEN, json=fields)
    assert reply.status == 200
    return reply.json()


def credentials(login, password=PASSWORD):
    key = login["APIKey"]
    return {
        "token": key["access_token"],
        "id_token": key["id_token"],
        "username": key["username"],
        "password": md5_hex(password),
    }


def check(server, ma_the, ho_ten=NAME, ngay_sinh=DOB, *, form=True, query=None, **extra):
    fields = {"maThe": ma_the, "hoTen": ho_ten, "ngaySinh": ngay_sinh, **OFFICER, **extra}
    fields = {k: v for k, v in fields.items() if v is not None}
    query = credentials(server.login) if query is None else query
    kwargs = {"form": fields} if form else {"json": fields}
    reply = server.post(CHECK, query=query, **kwargs)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert list(body) == list(ANSWER_FIELDS)
    return body


def core_body(server, asked):
    """The SPEC 3 body for today, through the ordinary API (the gateway's source)."""
    return server.get(f"/v1/entitlements/{asked}", key=server.api_key).json()


# -- tokens --------------------------------------------------------------------------------------
def test_token_take_answers_an_api_key(gw):
    for form in (True, False):
        answer = take_token(gw, form=form)
        assert answer["maKetQua"] == "200"
        key = answer["APIKey"]
        assert set(key) == {"access_token", "id_token", "token_type", "username", "expires_in"}
        assert key["token_type"] == "Bearer" and key["username"] == USER
        assert key["expires_in"] == 3600 and key["access_token"] != key["id_token"]


@pytest.mark.parametrize(
    ("username", "password"),
    [(USER, "wrong"), ("nobody_BV", PASSWORD), ("vneid_app", "x")],  # last: no `his` scope
)
def test_a_bad_login_is_maketqua_401_with_status_200(gw, username, password):
    answer = take_token(gw, username, password)
    assert answer["maKetQua"] == "401" and answer["APIKey"] is None


def test_a_login_missing_a_field_is_205(gw):
    reply = gw.post(TOKEN, form={"username": USER})
    assert reply.status == 200
    assert reply.json()["maKetQua"] == "205" and reply.json()["APIKey"] is None


def test_drives_the_gateway_as_a_his_client_does(gw):
    """Form-urlencoded login with the MD5 password, then a form-urlencoded check with the
    credentials in the query string: the exact calls of the HIS code written for VSS."""
    login = gw.post(
        TOKEN,
        body=f"username={USER}&password={md5_hex(PASSWORD)}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).json()
    key = login["APIKey"]
    query = urlencode(
        {
            "token": key["access_token"],
            "id_token": key["id_token"],
            "username": USER,
            "password": md5_hex(PASSWORD),
        }
    )
    body = urlencode({"maThe": card(1), "hoTen": NAME, "ngaySinh": DOB, **OFFICER}).encode()
    reply = gw.post(
        f"{CHECK}?{query}", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    answer = reply.json()
    assert answer["maKetQua"] == "000" and answer["maThe"] == card(1)
    assert answer["maKetQua"] in {"000", "001", "002", "004"}  # what a HIS admits on
    assert reply.headers["X-Snapshot"] and reply.headers["X-Request-Id"]


def test_a_token_works_on_every_worker(gw):
    """Tokens are stateless: one taken from worker 0 works on worker 1, another process."""
    with WorkerProcess(str(gw.data.root), worker_index=1, workers=2) as other:
        other.login = gw.login
        assert check(other, card(1))["maKetQua"] == "000"


@pytest.mark.parametrize(
    "spoil",
    [
        lambda q: q.pop("token"),
        lambda q: q.update(token=q["token"][:-2] + "xx"),
        lambda q: q.update(token=q["id_token"]),  # an id_token is not an access token
        lambda q: q.update(username="other_BV"),
        lambda q: q.update(password=md5_hex("wrong")),
        lambda q: q.update(id_token="garbage"),
        lambda q: q.pop("password"),
    ],
)
def test_a_bad_token_or_login_on_the_check_is_401(gw, spoil):
    query = credentials(take_token(gw))  # a fresh token: no verified login cached for it
    spoil(query)
    answer = check(gw, card(1), query=query)
    assert answer["maKetQua"] == "401" and answer["ghiChu"].startswith("Xác thực")
    assert all(answer[f] is None for f in ANSWER_FIELDS if f not in ("maKetQua", "ghiChu"))


def test_a_revoked_client_is_refused_within_a_poll(gw):
    add_key(gw.data, "bv-79001", ["his"], username="79001_BV", password="pw")
    query = credentials(take_token(gw, "79001_BV", "pw"), password="pw")
    assert check(gw, card(1), query=query)["maKetQua"] == "000"
    ClientStore(gw.data.root).revoke("bv-79001")
    deadline = time.monotonic() + 2
    while check(gw, card(1), query=query)["maKetQua"] == "000":
        assert time.monotonic() < deadline, "a revoked client's token still works after 2 s"
        time.sleep(0.05)
    assert check(gw, card(1), query=query)["maKetQua"] == "401"


def test_an_expired_token_is_401(gw):
    signer = TokenSigner(load_secret(gw.data.root))
    access, id_token = signer.issue("bv-01832", USER, now=time.time() - 3601)
    query = {"token": access, "id_token": id_token, "username": USER, "password": md5_hex(PASSWORD)}
    assert check(gw, card(1), query=query)["maKetQua"] == "401"


def test_the_check_is_rate_limited_with_429(gw):
    query = credentials(take_token(gw, "slow_BV", "x"), password="x")
    assert check(gw, card(1), query=query)["maKetQua"] == "000"
    reply = gw.post(
        CHECK, query=query, form={"maThe": card(1), "hoTen": NAME, "ngaySinh": DOB, **OFFICER}
    )
    assert reply.status == 429 and int(reply.headers["Retry-After"]) >= 1
    assert reply.json()["error"]["code"] == "rate_limited"


# -- the answer, field by field ------------------------------------------------------------------
def test_000_every_field(gw):
    answer = check(gw, card(1))
    assert answer == {
        "maKetQua": "000",
        "ghiChu": "Thẻ còn giá trị sử dụng",
        "maThe": card(1),
        "hoTen": NAME,
        "ngaySinh": DOB,
        "gioiTinh": "Nam",
        "diaChi": "Số 1 Tràng Thi, Hà Nội",
        "maDKBD": "01832",
        "cqBHXH": "BHXH thành phố Hà Nội",
        "gtTheTu": dmy(FROM),
        "gtTheDen": dmy(TO),
        "maKV": "K1",
        "ngayDu5Nam": "01/01/2024",
        "maSoBHXH": bhxh(1),
        "maTheCu": None,
        "maTheMoi": None,
        "gtTheTuMoi": None,
        "gtTheDenMoi": None,
        "maDKBDMoi": None,
        "tenDKBDMoi": None,
        "dsLichSuKCB2018": None,
        "dsLichSuKT2018": None,
    }


@pytest.mark.parametrize("asked", ["001085000001", bhxh(1), " dn4010100000001 "])
def test_the_card_may_be_asked_by_cccd_or_bhxh_code(gw, asked):
    answer = check(gw, asked)
    assert answer["maKetQua"] == "000" and answer["maThe"] == card(1)


def test_the_body_may_be_json(gw):
    assert check(gw, card(1), form=False)["maKetQua"] == "000"


@pytest.mark.parametrize(
    ("n", "code", "note", "ma_the"),
    [
        (2, "001", "Thẻ do BHXH Bộ Quốc phòng quản lý", f"QN501{bhxh(2)}"),
        (3, "002", "Thẻ do BHXH Bộ Công an quản lý", f"CA501{bhxh(3)}"),
        (6, "010", "Thẻ hết giá trị sử dụng", card(6)),
        (7, "110", "Thẻ đã bị thu hồi", card(7)),
        (8, "120", "Thẻ đã báo giảm", card(8)),
        (9, "121", "Thẻ đã báo giảm: chuyển ngoại tỉnh", card(9)),
        (10, "122", "Thẻ đã báo giảm: chuyển nội tỉnh", card(10)),
        (11, "123", "Thẻ đã báo giảm: tăng lại cùng đơn vị", card(11)),
        (12, "124", "Thẻ đã báo giảm: dừng tham gia", card(12)),
    ],
)
def test_card_verdicts_come_with_the_card(gw, n, code, note, ma_the):
    answer = check(gw, f"001085{n:06d}")
    assert answer["maKetQua"] == code and answer["ghiChu"].startswith(note)
    assert answer["maThe"] == ma_the and answer["maSoBHXH"] == bhxh(n)
    assert answer["hoTen"] == NAME and answer["gtTheTu"] == dmy(FROM)
    assert answer["gtTheDen"] == dmy(ROWS[n - 1]["valid_to"])
    assert answer["maTheMoi"] is None and answer["maTheCu"] is None


@pytest.mark.parametrize(("n", "code"), [(4, "003"), (5, "004")])
def test_an_old_card_code_answers_the_new_card(gw, n, code):
    old = f"DN40199{n:08d}"
    answer = check(gw, old)
    assert answer["maKetQua"] == code
    assert answer["ghiChu"].startswith("Thẻ cũ")
    assert answer["maThe"] == old and answer["maTheCu"] == old
    assert answer["gtTheDen"] == dmy(ROWS[n - 1]["prev_valid_to"]) and answer["gtTheTu"] is None
    assert answer["maTheMoi"] == card(n) and answer["maDKBDMoi"] == "01832"
    assert answer["gtTheTuMoi"] == dmy(FROM) and answer["gtTheDenMoi"] == dmy(TO)
    assert answer["tenDKBDMoi"] is None and answer["hoTen"] == NAME


def assert_no_card(answer, code, ma_the):
    assert answer["maKetQua"] == code and answer["ghiChu"] and answer["maThe"] == ma_the
    assert all(answer[f] is None for f in ANSWER_FIELDS if f not in ("maKetQua", "ghiChu", "maThe"))


def test_050_no_card(gw):
    answer = check(gw, "001085999999")
    assert_no_card(answer, "050", "001085999999")
    assert answer["ghiChu"] == "Không có thông tin thẻ"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Trần Văn An", "060"),
        ("Nguyễn Văn Ân", "061"),
        ("Nguyen Van An", "061"),  # tone marks matter (Unicode NFC, not ASCII folding)
        ("Nguyễn Văn", "061"),
    ],
)
def test_a_wrong_name_is_060_or_061_with_no_card_data(gw, name, code):
    answer = check(gw, card(1), ho_ten=name)
    assert_no_card(answer, code, card(1))
    assert answer["ghiChu"].startswith("Họ tên không đúng")


@pytest.mark.parametrize(
    "name",
    [
        "nguyễn văn an",
        "  NGUYỄN   VĂN  AN ",
        "Nguye\u0302\u0303n Va\u0306n An",
    ],  # case, spaces, NFD
)
def test_names_compare_after_nfc_case_folding_and_spaces(gw, name):
    assert check(gw, card(1), ho_ten=name)["maKetQua"] == "000"


@pytest.mark.parametrize("dob", ["12/04/1985", "12041985", "04/1985", "1985", "12/4/1985"])
def test_every_birth_date_format_matches(gw, dob):
    assert check(gw, card(1), ngay_sinh=dob)["maKetQua"] == "000"


@pytest.mark.parametrize("dob", ["13/04/1985", "13041985", "05/1985", "1986"])
def test_a_wrong_birth_date_in_any_format_is_070(gw, dob):
    answer = check(gw, card(1), ngay_sinh=dob)
    assert_no_card(answer, "070", card(1))
    assert answer["ghiChu"] == "Ngày sinh không đúng"


@pytest.mark.parametrize(
    ("n", "name", "dob", "code"),
    [
        (13, "Trần Thị Bình", "05/03/1950", "000"),  # stored 1950 matches a full date
        (13, "Trần Thị Bình", "1950", "000"),
        (13, "Trần Thị Bình", "1951", "070"),
        (14, "Lê Văn Cường", "1950", "000"),  # stored 1950-03: compared at the year
        (14, "Lê Văn Cường", "17/03/1950", "000"),
        (14, "Lê Văn Cường", "17/04/1950", "070"),
        (14, "Lê Văn Cường", "04/1950", "070"),
    ],
)
def test_partial_birth_dates_compare_at_the_coarser_precision(gw, n, name, dob, code):
    answer = check(gw, f"001085{n:06d}", ho_ten=name, ngay_sinh=dob)
    assert answer["maKetQua"] == code
    if code == "000":
        stored = ROWS[n - 1]["dob"]
        assert answer["ngaySinh"] == "/".join(reversed(stored.split("-")))
        assert answer["gioiTinh"] == ("Nữ" if n == 13 else "Nam")


def test_identity_checks_come_before_the_card_verdict(gw):
    """SPEC 3.1: 060/061/070 answer before 003/004/001/002/110/120-124/010."""
    for asked in (f"QN501{bhxh(2)}", "DN4019900000004", card(6), card(7), card(12)):
        assert check(gw, asked, ho_ten="Trần Văn An")["maKetQua"] == "060"
        assert check(gw, asked, ngay_sinh="1990")["maKetQua"] == "070"


@pytest.mark.parametrize(
    "fields",
    [
        {"maThe": "12345"},
        {"maThe": "DN40101000000X"},
        {"maThe": ""},
        {"maThe": None},
        {"hoTen": None},
        {"hoTen": "   "},
        {"ngaySinh": "1985-04-12"},
        {"ngaySinh": "31/02/1985"},
        {"ngaySinh": "12/04/85"},
        {"ngaySinh": "١٩٨٥"},
        {"ngaySinh": None},
        {"hoTenCb": None},
        {"cccdCb": None},
        {"cccdCb": "12345"},
    ],
)
def test_a_missing_or_malformed_field_is_205(gw, fields):
    args = {"maThe": card(1), "ho_ten": NAME, "ngay_sinh": DOB}
    extra = {}
    for name, value in fields.items():
        mapped = {"maThe": "maThe", "hoTen": "ho_ten", "ngaySinh": "ngay_sinh"}.get(name)
        if mapped:
            args[mapped] = value
        else:
            extra[name] = value
    answer = check(gw, args.pop("maThe"), **args, **extra)
    assert answer["maKetQua"] == "205" and answer["ghiChu"].startswith("Sai định dạng tham số")
    assert all(answer[f] is None for f in ANSWER_FIELDS if f not in ("maKetQua", "ghiChu", "maThe"))


def test_205_comes_before_050(gw):
    assert check(gw, "001085999999", ngay_sinh="yesterday")["maKetQua"] == "205"


def test_a_body_that_is_not_json_or_a_form_is_205(gw):
    reply = gw.post(
        CHECK,
        query=credentials(gw.login),
        body=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 200 and reply.json()["maKetQua"] == "205"


def test_each_check_is_audited_with_the_officer_hashed(gw):
    def records():  # this worker's (w0) file
        return [
            json.loads(line)
            for p in sorted((gw.data.root / "audit").glob("*-w0.jsonl"))
            for line in p.read_text().splitlines()
            if line
        ]

    before = len(records())
    check(gw, card(7))
    (record,) = records()[before:]
    assert record["endpoint"] == "gateway" and record["client"] == "bv-01832"
    assert record["results"] == ["110"] and record["officer"]
    text = json.dumps(record)
    assert OFFICER["cccdCb"] not in text and card(7) not in text


# -- the rules as functions ----------------------------------------------------------------------
def test_compare_names():
    assert compare_names("Nguyễn Văn An", "NGUYỄN VĂN AN") is None
    assert compare_names("Đỗ An", "Đinh An") == "061"
    assert compare_names("ĐỖ AN", "Đinh An") == "061"
    assert compare_names("Đỗ An", "Hà An") == "060"


def test_compare_dob():
    assert compare_dob((1950, 3, 5), "1950")
    assert compare_dob((1950, 0, 0), "1950-03-05")
    assert compare_dob((1950, 3, 0), "1950-03-05")
    assert not compare_dob((1950, 4, 0), "1950-03-05")
    assert not compare_dob((1951, 3, 5), "1950")


def test_concurrent_logins_share_one_scrypt(gw, monkeypatch):
    # A HIS restarted at opening time logs its desks in at once: before the login cache fills,
    # every one of them would otherwise run its own 70 ms scrypt on the service's cores.
    import lookup.service.clients

    add_key(gw.data, "bv-48001", ["his"], username="48001_BV", password="pw-48001")
    calls = []
    stretch = lookup.service.clients._stretch

    def counted(*args):
        calls.append(time.monotonic())
        time.sleep(0.2)  # keep the first one running while the others arrive
        return stretch(*args)

    monkeypatch.setattr(lookup.service.clients, "_stretch", counted)
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: take_token(gw, "48001_BV", "pw-48001"), range(12)))
    assert [a["maKetQua"] for a in answers] == ["200"] * 12
    assert len(calls) == 1


def test_single_flight_shares_results_and_errors_and_survives_a_cancelled_caller():
    from lookup.web.gateway import SingleFlight

    async def scenario():
        flights: SingleFlight[int] = SingleFlight()
        started = []

        async def slow(value):
            started.append(value)
            await asyncio.sleep(0.05)
            if value < 0:
                raise ValueError("bad")
            return value * 2

        first = asyncio.ensure_future(flights.run("k", slow, 1))
        second = asyncio.ensure_future(flights.run("k", slow, 1))
        other = asyncio.ensure_future(flights.run("other", slow, 5))
        await asyncio.sleep(0.01)
        first.cancel()  # one caller goes away: the call goes on for the rest
        assert await second == 2 and await other == 10
        assert started == [1, 5]
        assert await flights.run("k", slow, 3) == 6  # done: the next call runs anew
        failing = [asyncio.ensure_future(flights.run("e", slow, -1)) for _ in range(3)]
        results = await asyncio.gather(*failing, return_exceptions=True)
        assert all(isinstance(r, ValueError) for r in results)
        assert started == [1, 5, 3, -1]

    asyncio.run(scenario())
