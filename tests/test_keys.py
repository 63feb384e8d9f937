"""API clients (lookup/service/clients.py): keys shown once and stored hashed, scopes, gateway
logins, revocation seen by other workers, and the per-worker token bucket."""

from __future__ import annotations

import json
import os
import stat

import pytest

from lookup.service.clients import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    Client,
    ClientError,
    ClientStore,
    InvalidClient,
    RateLimiter,
    md5_hex,
)

from helpers.cli import lookup


def test_key_is_returned_once_and_stored_only_as_a_hash(tmp_path):
    store = ClientStore(tmp_path)
    key = store.add("bv-bach-mai", ["his", "vneid"])
    assert key.startswith("lk_") and len(key) > 40
    text = (tmp_path / "clients.json").read_text()
    assert key not in text and key[3:] not in text
    assert stat.S_IMODE(os.stat(tmp_path / "clients.json").st_mode) == 0o600
    listed = store.list()
    assert [c["name"] for c in listed] == ["bv-bach-mai"]
    assert not any("sha256" in k or "hash" in k for k in listed[0])
    assert key not in json.dumps(listed)


def test_authenticate_right_wrong_and_revoked(tmp_path):
    store = ClientStore(tmp_path)
    key = store.add("his-1", ["his"])
    other = store.add("batch-1", ["batch"], rate_per_s=500, burst=1000)
    client = store.authenticate(key)
    assert client == Client("his-1", frozenset({"his"}), DEFAULT_RATE, DEFAULT_BURST, None)
    assert store.authenticate(other).scopes == {"batch"}
    assert store.authenticate(other).rate_per_s == 500
    assert store.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.authenticate("") is None
    store.revoke("his-1")
    assert store.authenticate(key) is None
    assert store.authenticate(other) is not None
    assert [c["revoked_at"] is not None for c in store.list()] == [True, False]


def test_revocation_reaches_another_instance_on_reload(tmp_path):
    worker = ClientStore(tmp_path)  # as a serving worker holds it
    admin = ClientStore(tmp_path)  # as `lookup keys` does
    key = admin.add("his-1", ["his"])
    assert worker.authenticate(key) is None  # not seen before the reload...
    assert worker.reload_if_changed() is True
    assert worker.authenticate(key).name == "his-1"
    assert worker.reload_if_changed() is False  # unchanged file: only a stat
    admin.revoke("his-1")
    assert worker.reload_if_changed() is True
    assert worker.authenticate(key) is None


def test_broken_file_keeps_the_loaded_clients(tmp_path):
    store = ClientStore(tmp_path)
    key = store.add("his-1", ["his"])
    (tmp_path / "clients.json").write_text("{ not json")
    assert store.reload_if_changed() is False
    assert store.authenticate(key) is not None
    with pytest.raises(ClientError, match="cannot read"):
        ClientStore(tmp_path)


def test_gateway_login_takes_the_md5_of_the_password(tmp_path):
    store = ClientStore(tmp_path)
    store.add("his-gw", ["his"], username="01832_BV", password="mật khẩu")
    text = (tmp_path / "clients.json").read_text()
    assert md5_hex("mật khẩu") not in text and "mật khẩu" not in text
    client = store.gateway_login("01832_BV", md5_hex("mật khẩu"))
    assert client is not None and client.name == "his-gw" and client.gateway_username == "01832_BV"
    assert store.gateway_login("01832_BV", md5_hex("mật khẩu").upper()) == client
    assert store.gateway_login("01832_BV", md5_hex("mat khau")) is None
    assert store.gateway_login("01832_BV", "mật khẩu") is None  # the clear password is not it
    assert store.gateway_login("99999_BV", md5_hex("mật khẩu")) is None
    other = ClientStore(tmp_path)
    assert other.gateway_login("01832_BV", md5_hex("mật khẩu")) == client
    store.revoke("his-gw")
    other.reload_if_changed()
    assert other.gateway_login("01832_BV", md5_hex("mật khẩu")) is None  # the cache is dropped


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("x", ["his", "root"]), {}, "unknown scope 'root'"),
        (("x", []), {}, "at least one scope"),
        (("bad name", ["his"]), {}, "client name"),
        (("x", ["his"]), {"username": "01832_BV"}, "go together"),
        (("x", ["his"]), {"rate_per_s": -1}, "--rate"),
        (("x", ["his"]), {"burst": 0}, "--burst"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path, args, kwargs, message):
    with pytest.raises(InvalidClient, match=message):
        ClientStore(tmp_path).add(*args, **kwargs)


def test_names_and_gateway_usernames_stay_unique(tmp_path):
    store = ClientStore(tmp_path)
    store.add("a", ["his"], username="01832_BV", password="p")
    with pytest.raises(InvalidClient, match="another active client"):
        store.add("b", ["his"], username="01832_BV", password="q")
    store.revoke("a")
    with pytest.raises(InvalidClient, match="already exists"):
        store.add("a", ["his"])
    store.add("b", ["his"], username="01832_BV", password="q")  # free again after revoke
    with pytest.raises(ClientError, match="no client named"):
        store.revoke("nobody")


def test_rate_limiter_splits_the_rate_over_workers_with_an_injected_clock():
    client = Client("c", frozenset({"his"}), rate_per_s=10.0, burst=20, gateway_username=None)
    limiter = RateLimiter(workers=2)  # this worker: 5/s, bursts of 10
    now = 1000.0
    assert all(limiter.check(client, now) == 0.0 for _ in range(10))
    wait = limiter.check(client, now)
    assert wait == pytest.approx(0.2)  # one token at 5/s
    assert limiter.check(client, now + 0.1) == pytest.approx(0.1)
    assert limiter.check(client, now + 0.2) == 0.0
    assert limiter.check(client, now + 0.2) > 0
    # Idle time refills up to the burst, not beyond.
    later = now + 100
    assert sum(limiter.check(client, later) == 0.0 for _ in range(15)) == 10
    # Sustained: 5 per second per worker (3 s of requests every 10 ms, bucket empty at start).
    allowed = sum(limiter.check(client, later + i * 0.01) == 0.0 for i in range(1, 301))
    assert 14 <= allowed <= 15
    unlimited = Client("u", frozenset({"batch"}), 0.0, 1, None)
    assert all(limiter.check(unlimited, now) == 0.0 for _ in range(10_000))


def test_rate_limiter_keeps_clients_apart():
    limiter = RateLimiter(workers=1)
    a = Client("a", frozenset({"his"}), 1.0, 1, None)
    b = Client("b", frozenset({"his"}), 1.0, 1, None)
    assert limiter.check(a, 0.0) == 0.0
    assert limiter.check(a, 0.0) == pytest.approx(1.0)
    assert limiter.check(b, 0.0) == 0.0


def test_cli_keys_add_prints_the_key_alone_then_list_and_revoke(tmp_path):
    data = ["--data", str(tmp_path)]
    added = lookup("keys", "add", "his-1", "--scopes", "his,vneid", *data)
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert added.stdout == key + "\n" and key.startswith("lk_")
    assert ClientStore(tmp_path).authenticate(key).scopes == {"his", "vneid"}

    added = lookup(
        "keys",
        "add",
        "gw",
        "--scopes",
        "his",
        "--username",
        "01832_BV",
        "--password",
        "pw",
        "--rate",
        "0",
        "--json",
        *data,
    )
    body = json.loads(added.stdout)
    assert body["key"].startswith("lk_") and body["gateway_username"] == "01832_BV"
    assert body["rate_per_s"] == 0

    listed = lookup("keys", "list", *data)
    assert listed.returncode == 0 and "his-1" in listed.stdout and key not in listed.stdout
    assert lookup("keys", "revoke", "his-1", *data).returncode == 0
    assert ClientStore(tmp_path).authenticate(key) is None
    assert [
        c["revoked_at"] is None for c in json.loads(lookup("keys", "list", "--json", *data).stdout)
    ] == [False, True]

    unknown = lookup("keys", "add", "x", "--scopes", "his,root", *data)
    assert unknown.returncode == 2 and "unknown scope 'root'" in unknown.stderr
    missing = lookup("keys", "revoke", "nobody", *data)
    assert missing.returncode == 1 and "no client named 'nobody'" in missing.stderr
    half = lookup("keys", "add", "y", "--scopes", "his", "--username", "01832_BV", *data)
    assert half.returncode == 2 and "go together" in half.stderr
