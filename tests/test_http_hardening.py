"""Bad traffic through a real server on loopback (issue 16): bodies that cannot be read, clients
that hang up, and the log lines they leave. Every answer is a SPEC.md 3 JSON error, never a 500,
and the log holds one line per refused body, without a traceback."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import time
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookup.service.clients import md5_hex
from lookup.service.limits import ConnectionLimits
from lookup.web.app import ServiceConfig

from helpers.server import LiveServer, add_key, build_data, days_from_today, parse_raw, person

JSON = "application/json; charset=utf-8"
TOKEN = "/api/token/take"
CHECK = "/api/egw/KQNhanLichSuKCB2024"
BATCH = "/v1/entitlements/batch"
USER, PASSWORD = "01832_BV", "secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hardening")
    rows = [person(1, valid_from=days_from_today(-10), valid_to=days_from_today(10))]
    data = build_data(folder, rows)
    add_key(data, "hospital", ["his"], username=USER, password=PASSWORD)
    batch_key = add_key(data, "batch", ["batch"])
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as live:
        login = live.post(TOKEN, form={"username": USER, "password": md5_hex(PASSWORD)}).json()
        key = login["APIKey"]
        query = f"token={key['access_token']}&username={USER}&password={md5_hex(PASSWORD)}"
        live.paths = {  # type: ignore[attr-defined]
            "token": (TOKEN, {}),
            "check": (f"{CHECK}?{query}", {}),
            "batch": (BATCH, {"Authorization": f"Bearer {batch_key}"}),
        }
        yield live


def send(server, route: str, body: bytes, headers: dict[str, str]) -> bytes:
    """POST raw bytes to a route (with its credentials) on a fresh connection; return the reply."""
    path, extra = server.paths[route]
    head = {
        "Host": "x",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **extra,
        **headers,
    }
    lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
    return server.raw(f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1") + body)


def web_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("lookup", "aiohttp", "asyncio"))]


def body_error(reply: bytes) -> str:
    """Assert a 400 `body` error that closes the connection; return its message."""
    status, headers, body = parse_raw(reply)
    assert status == 400, reply
    assert headers["content-type"] == JSON and headers["x-request-id"]
    assert headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert error["code"] == "body", error
    return str(error["message"])


FORM = "application/x-www-form-urlencoded"
BAD_BODIES = {
    "multipart-without-boundary": (
        b"username=a&password=b",
        {"Content-Type": "multipart/form-data"},
    ),
    "multipart-wrong-boundary": (
        b"--other\r\nContent-Disposition: form-data; name=username\r\n\r\na\r\n--other--\r\n",
        {"Content-Type": "multipart/form-data; boundary=expected"},
    ),
    "multipart-part-without-name": (
        b"--b\r\nContent-Disposition: form-data\r\n\r\na\r\n--b--\r\n",
        {"Content-Type": "multipart/form-data; boundary=b"},
    ),
    "form-unknown-charset": (b"username=a", {"Content-Type": f"{FORM}; charset=no-such"}),
    "form-not-utf8": (b"username=\xff\xfe", {"Content-Type": FORM}),
    "deflate-over-plain-text": (
        b'{"username": "a", "password": "b"}',
        {"Content-Type": "application/json", "Content-Encoding": "deflate"},
    ),
    "gzip-over-plain-text": (
        b"username=a&password=b",
        {"Content-Type": FORM, "Content-Encoding": "gzip"},
    ),
    "unsupported-encoding": (
        gzip.compress(b'{"username": "a"}'),
        {"Content-Type": "application/json", "Content-Encoding": "x-unknown"},
    ),
    "two-encodings": (
        gzip.compress(gzip.compress(b'{"ids": []}')),
        {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"},
    ),
}
ROUTES = ("token", "check", "batch")
# The batch reads any body as JSON (a form there is JSON that does not parse: below).
CASES = [
    (route, case)
    for case, (_, headers) in BAD_BODIES.items()
    for route in ROUTES
    if route != "batch" or headers["Content-Type"] == "application/json"
]


@pytest.mark.parametrize(("route", "case"), CASES)
def test_a_body_that_cannot_be_read_is_400_with_one_log_line(server, caplog, route, case):
    caplog.set_level(logging.DEBUG)
    body, headers = BAD_BODIES[case]
    message = body_error(send(server, route, body, headers))
    assert message.startswith("body: ")
    records = web_records(caplog)
    assert [(r.name, r.levelname) for r in records] == [("lookup.web", "WARNING")], records
    assert records[0].getMessage().split(": ", 1)[1].startswith("body refused: ")
    assert records[0].exc_info is None and records[0].exc_text is None


def test_a_compressed_body_is_read(server):
    """The encodings aiohttp decodes still work: the check above refuses only failures."""
    fields = f"username={USER}&password={md5_hex(PASSWORD)}".encode()
    for encoding, compress in (("gzip", gzip.compress), ("deflate", zlib.compress)):
        headers = {"Content-Type": FORM, "Content-Encoding": encoding, "Connection": "close"}
        status, _, body = parse_raw(send(server, "token", compress(fields), headers))
        assert status == 200 and json.loads(body)["maKetQua"] == "200"


def test_a_form_on_the_batch_is_400_body_not_500(server):
    reply = send(server, "batch", b"ids=1", {"Content-Type": "multipart/form-data"})
    status, _, body = parse_raw(reply)
    assert status == 400 and json.loads(body)["error"]["code"] == "body"


_ENCODINGS = st.sampled_from([None, "gzip", "deflate", "br", "identity", "x-zip", "gzip, br"])
_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        FORM,
        f"{FORM}; charset=latin-9",
        "multipart/form-data",
        "multipart/form-data; boundary=b",
        'multipart/form-data; boundary="' + "x" * 80 + '"',
        "text/plain",
    ]
)
_BODIES = st.one_of(
    st.binary(max_size=200),
    st.builds(gzip.compress, st.binary(max_size=100)),
    st.builds(zlib.compress, st.binary(max_size=100)),
    st.just(b"--b\r\nContent-Disposition: form-data; name=maThe\r\n\r\nx\r\n--b--\r\n"),
    st.just(
        b"--b\r\nContent-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\n!!\r\n--b--\r\n"
    ),
    st.just(b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx"),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=st.sampled_from(ROUTES), ctype=_TYPES, encoding=_ENCODINGS, body=_BODIES)
def test_no_body_gets_a_500_or_a_traceback(server, caplog, route, ctype, encoding, body):
    caplog.clear()
    headers = {}
    if ctype is not None:
        headers["Content-Type"] = ctype
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    status, headers_back, answer = parse_raw(send(server, route, body, headers))
    assert status in (200, 400), answer
    assert headers_back["content-type"] == JSON
    json.loads(answer)
    assert all(r.levelno < logging.ERROR and not r.exc_info for r in web_records(caplog))


# -- a client that hangs up ------------------------------------------------------------------
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("ctype", ["application/json", "multipart/form-data; boundary=b", FORM])
def test_a_client_that_hangs_up_mid_body_is_no_error(server, caplog, route, ctype):
    caplog.set_level(logging.DEBUG)
    path, extra = server.paths[route]
    head = {"Host": "x", "Content-Type": ctype, "Content-Length": "1000", **extra}
    lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode() + b"--b\r\n{")
        time.sleep(0.2)  # the handler is waiting for the rest
    deadline = time.monotonic() + 5
    while not web_records(caplog) and time.monotonic() < deadline:
        time.sleep(0.02)
    records = web_records(caplog)
    assert len(records) == 1, records
    assert records[0].levelno <= logging.INFO and not records[0].exc_info
    assert "closed the connection" in records[0].getMessage()


# -- slow and idle connections -----------------------------------------------------------------
# The keep-alive timeout also closes a connection waiting for a request: longer here, so the
# head tests below see the header timeout at work.
QUICK = ConnectionLimits(keepalive_timeout=3.0, header_timeout=1.0, body_timeout=1.0)


@pytest.fixture(scope="module")
def quick(server):
    """A second server on the same data with one-second bounds, the same routes and keys."""
    config = ServiceConfig(data_dir=server.config.data_dir, limits=QUICK)
    with LiveServer(config) as live:
        live.paths = server.paths  # type: ignore[attr-defined]
        yield live


def closed_within(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """Read until the server closes; return what it sent and how long it took."""
    start = time.monotonic()
    sock.settimeout(seconds)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s") from None
    except ConnectionResetError:
        pass
    return b"".join(chunks), time.monotonic() - start


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_shorter_than_its_content_length_is_408_within_the_timeout(quick, route):
    path, extra = quick.paths[route]
    head = {"Host": "x", "Content-Type": "application/json", "Content-Length": "100", **extra}
    lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
    with socket.create_connection(("127.0.0.1", quick.port)) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode() + b'{"ids": ["0010')
        reply, took = closed_within(sock, 5)
    assert took < 3
    status, headers, body = parse_raw(reply)
    assert status == 408 and headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == "request_timeout"


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"G"],
    ids=["nothing", "headers-unfinished", "one-byte"],
)
def test_a_request_head_that_does_not_arrive_in_time_is_closed(quick, sent):
    with socket.create_connection(("127.0.0.1", quick.port)) as sock:
        sock.sendall(sent)
        _, took = closed_within(sock, 5)
    assert took < 2  # the header timeout, not the keep-alive one


def test_headers_dribbled_byte_by_byte_are_cut_off_at_the_header_timeout(quick):
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", quick.port)) as sock:
        start = time.monotonic()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)  # each byte in time, the whole head not
        assert time.monotonic() - start < 2


def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(quick):
    with socket.create_connection(("127.0.0.1", quick.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        _, took = closed_within(sock, 6)
    assert 2.5 < took < 5


def test_a_normal_client_is_still_served_in_time_by_the_quick_server(quick):
    # Bounds that close the idle and the slow must leave an ordinary request alone.
    for _ in range(3):
        assert quick.get("/healthz").status == 200


# -- the connection cap ------------------------------------------------------------------------
def is_closed(sock: socket.socket, wait: float) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_at_the_cap_the_longest_idle_connections_make_room(server):
    # Timeouts long enough that only the cap closes anything during the test.
    limits = ConnectionLimits(keepalive_timeout=60, header_timeout=60, max_connections=50)
    config = ServiceConfig(data_dir=server.config.data_dir, limits=limits)
    with LiveServer(config) as capped:
        idle = []
        try:
            for _ in range(300):
                idle.append(socket.create_connection(("127.0.0.1", capped.port)))
                time.sleep(0.002)  # each one seen idle before the next (idle order = age)
            for _ in range(5):
                assert capped.get("/healthz").status == 200
            # The oldest were closed for room, the newest are still open.
            assert all(is_closed(sock, 2) for sock in idle[:200])
            assert not any(is_closed(sock, 0.05) for sock in idle[-20:])
        finally:
            for sock in idle:
                sock.close()
