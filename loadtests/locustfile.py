"""Load test of the BHYT entitlement lookup service (SPEC.md 6; loadtests/README.md).

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8080 --headless -u 200 -r 50 -t 60s

Settings come from the environment: LOOKUP_API_KEY (scopes his,batch,vneid, rate 0),
LOOKUP_GATEWAY_USER / LOOKUP_GATEWAY_PASSWORD (that client's gateway login, the password in
clear: it is sent as its MD5 hex, as a HIS does), LOOKUP_EXTRACT (the extract the served snapshot
was built from) and LOOKUP_DATE (default today in Vietnam). Every answer is checked against the
reference rules over that extract (expected.py); a wrong answer is a failure, and with
--headless the run exits 1 when any threshold breaks (verdicts.py).

The callers (DOMAIN.md 6: ~1.2 million lookups a working day, ~45/s on average in the morning
peak, bursts of several hundred per second). With the default think times a user makes about
1.3 requests/s, so ~35 users are the national morning average and ~300 a burst;
`LOOKUP_PACE` scales every think time (0: none, each user flat out).

| user          | weight  | think (s) | does                                                  |
|---------------|---------|-----------|-------------------------------------------------------|
| ReceptionDesk | 40      | 0.5-1.5   | gateway card check; token once, renewed on maKetQua   |
|               |         |           | 401; right cards mostly, some name or birth-date      |
|               |         |           | typos (060/061/070), expired, cut off, old cards      |
| HisSystem     | 40      | 0.25-0.75 | GET /v1/entitlements/{id}?date=&facility=, its own    |
| VneidCitizen  | 15      | 1-3       | GET /v1/vneid/cards/{cccd}                            |
| BadTraffic    | 5       | 1-3       | malformed ids (205), wrong keys (401), oversized (413) |
| NightlyBatch  | 1 fixed | 0.5-1.5   | POST /v1/entitlements/batch, 1000 ids                 |

Pick classes by naming them: `locust -f loadtests/locustfile.py ... HisSystem VneidCitizen`. The
morning-peak shape is a separate file so a plain -u/-r/-t run is never taken over by it:
`locust -f loadtests/locustfile.py,loadtests/morning_peak.py ...`.
"""

from __future__ import annotations  # noqa: I001 - the last block is local modules

import gc
import hashlib
import os
import random
import sys
import time
from typing import Any
from urllib.parse import quote, urlencode

import gevent
import gevent.event
import orjson
from locust import FastHttpUser, events, task
from locust.runners import MasterRunner, WorkerRunner

# Modules beside this file (Locust puts its folder on sys.path while importing it).
import expected as ex
import verdicts

# Request names (`name=`): variable URLs grouped, one line each in the stats.
ENTITLEMENT = "/v1/entitlements/[id]"
VNEID = "/v1/vneid/cards/[cccd]"
BATCH = "/v1/entitlements/batch"
TOKEN = "/api/token/take"
CHECK = "/api/egw/KQNhanLichSuKCB2024"
CHECK_FIRST = "/api/egw/KQNhanLichSuKCB2024 [first after token]"
MALFORMED = "/v1/entitlements/[malformed id]"
WRONG_KEY = "/v1/entitlements/[id] [wrong key]"
OVERSIZED = "/v1/entitlements/batch [oversized body]"
# Threshold kinds (verdicts.LIMITS). The first check after a token verifies the login once on
# that worker (scrypt, ~70 ms): a login, not a lookup.
KINDS = {BATCH: "batch", TOKEN: "login", CHECK_FIRST: "login"}

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BATCH_SIZE = 1000
OVERSIZED_BYTES = 300 * 1024  # over the service's 256 KiB body limit
PACE = float(os.environ.get("LOOKUP_PACE") or 1.0)
BATCH_PACE = float(os.environ.get("LOOKUP_BATCH_PACE") or 1.0)
BATCH_FULL_CHECK = 10  # one answer in this many is compared field by field

SETTINGS: ex.Settings | None = None
EXPECTED: ex.Expected | None = None
# Set once the expected answers are loaded. A worker yields while loading (its heartbeats to
# the master go on), so the master may already have sent users: they wait for this.
LOADED = gevent.event.Event()
VERDICT = verdicts.Verdict(KINDS)


# -- start and end -------------------------------------------------------------------------------
@events.init.add_listener
def _load(environment: Any, **_: Any) -> None:
    """Read the settings and the expected answers (not on a master: it sends no requests)."""
    global SETTINGS, EXPECTED
    if isinstance(environment.runner, MasterRunner):
        return
    try:
        settings = ex.Settings.from_env()
        desks = any(u.__name__ == "ReceptionDesk" for u in environment.user_classes)
        if desks and not (settings.gateway_user and settings.gateway_password):
            raise ex.ConfigError(
                "set LOOKUP_GATEWAY_USER and LOOKUP_GATEWAY_PASSWORD (the key's gateway login), "
                "or leave ReceptionDesk out by naming the user classes to run"
            )
        sample = ex.load_sample(
            settings.extract,
            settings.sample,
            seed=settings.seed,
            cache_dir=settings.cache_dir,
            pause=cooperate,
        )
        EXPECTED = ex.Expected(sample, settings.date, pause=cooperate, registry=settings.registry())
        SETTINGS = settings
        # Hundreds of thousands of long-lived objects: keep them out of the garbage collector's
        # full passes, each of which would stall every user (and the timings) for tens of ms.
        gc.collect()
        gc.freeze()
        LOADED.set()
    except ex.ConfigError as exc:
        print(f"loadtests: {exc}", file=sys.stderr)
        sys.exit(1)
    s = sample.stats
    took = "from the cache" if s.get("cache") else f"in {s['seconds']} s"
    print(
        f"loadtests: {len(sample.people):,} people sampled from {settings.extract} "
        f"({s['lines_read']:,} lines, {took}), answers expected for {settings.date_iso}: "
        + ", ".join(f"{k} {len(v):,}" for k, v in EXPECTED.groups.items()),
        file=sys.stderr,
    )


@events.init.add_listener
def _listen_for_worker_cpu(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(
            "loadtest_cpu", lambda msg, **_: VERDICT.on_worker_cpu(msg.node_id, msg.data)
        )


@events.test_start.add_listener
def _start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # Each worker reports its own CPU over 5-second spans: the master's verdict names a
        # saturated worker (Locust's own heartbeat figure is sampled too rarely to rely on).
        def report_cpu() -> None:
            last, at = verdicts.cpu_seconds(), time.monotonic()
            while True:
                gevent.sleep(5)
                now, t = verdicts.cpu_seconds(), time.monotonic()
                if now is not None and last is not None:
                    runner.send_message("loadtest_cpu", 100 * (now - last) / (t - at))
                last, at = now, t

        gevent.spawn(report_cpu)
        return
    VERDICT.on_test_start()
    if VERDICT.server_pid:

        def sample_memory() -> None:
            while True:
                gevent.sleep(10)
                VERDICT.sample_memory()

        gevent.spawn(sample_memory)


@events.quitting.add_listener
def _quitting(environment: Any, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        VERDICT.judge(environment)


# -- helpers -------------------------------------------------------------------------------------
def paced(low: float, high: float, pace: float = PACE) -> Any:
    """A think time uniform in [low, high] seconds, times `pace` (LOOKUP_PACE)."""

    def wait_time(user: Any) -> float:
        return pace * user.rng.uniform(low, high)

    return wait_time


def cooperate() -> None:
    """Let the other users run in the middle of a long computation.

    Locust times every user on this one event loop: a batch's 10-30 ms of checking in one go
    would add that much to whichever responses arrive meanwhile. gevent.sleep(0) is not enough
    (it runs ready greenlets but may not poll the sockets); a timer forces a loop iteration.
    """
    gevent.sleep(0.0001)


def wrong(resp: Any, why: str) -> None:
    resp.failure(f"wrong answer: {why}")


def json_body(resp: Any) -> Any:
    """The response's JSON, or None after marking it failed."""
    try:
        return orjson.loads(resp.content or b"")
    except orjson.JSONDecodeError:
        resp.failure(f"HTTP {resp.status_code}: not JSON")
        return None


def pasted(asked: str, rng: random.Random) -> str:
    """An id as staff paste it now and then: lower case, or grouped with spaces (DOMAIN 1)."""
    roll = rng.random()
    if roll < 0.05:
        return asked.lower()
    if roll < 0.10:
        return " ".join(asked[i : i + 3] for i in range(0, len(asked), 3))
    return asked


class _Caller(FastHttpUser):
    abstract = True
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        LOADED.wait(600)
        if EXPECTED is None or SETTINGS is None:
            raise RuntimeError("the expected answers were not loaded (see the init output)")
        self.x = EXPECTED
        self.settings = SETTINGS
        self.rng = random.Random()
        self.auth = {"Authorization": f"Bearer {SETTINGS.api_key}"}

    def pick(self, kinds: tuple[tuple[str, float], ...]) -> tuple[str, int | None]:
        """A person's id (or an unknown id): (asked, person index or None)."""
        rng, x = self.rng, self.x
        roll = rng.random()
        if roll < 0.02:  # nobody has it: 050
            kind = rng.choice(("cccd", "bhxh_code", "card_no"))
            return rng.choice(x.unknown[kind]), None
        group = (
            "valid"
            if roll < 0.86
            else "expired"
            if roll < 0.91
            else "cut_off"
            if roll < 0.96
            else "replaced"
        )
        i = x.person(group, rng)
        if group == "replaced":  # asked by the previous card code: 003 / 004
            return x.ask(i, "prev_card_no"), i
        return x.ask(i, rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]), i


# -- HIS systems (REST) ----------------------------------------------------------------------------
class HisSystem(_Caller):
    """A hospital information system: GET /v1/entitlements/{id} with its own facility code."""

    weight = 40
    wait_time = paced(0.25, 0.75)
    KINDS = (("cccd", 0.7), ("card_no", 0.2), ("bhxh_code", 0.1))

    def on_start(self) -> None:
        super().on_start()
        self.facility = self.rng.choice(self.x.facilities)

    @task
    def entitlement(self) -> None:
        asked, i = self.pick(self.KINDS)
        asked = pasted(asked, self.rng)
        facility = self.facility if self.rng.random() < 0.8 else None
        query = {"date": self.settings.date_iso}
        if facility:
            query["facility"] = facility
        url = f"/v1/entitlements/{quote(asked, safe='')}?{urlencode(query)}"
        with self.rest("GET", url, name=ENTITLEMENT, headers=self.auth) as resp:
            if resp.js is None:
                return
            if resp.status_code != 200:
                return wrong(resp, f"HTTP {resp.status_code}")
            expected = self.x.body(asked, self.settings.date, facility, i)
            check_body(resp, resp.js, expected)


def check_body(resp: Any, actual: Any, expected: dict[str, Any]) -> None:
    diff = ex.first_difference(ex.without_snapshot(actual), ex.without_snapshot(expected))
    if diff:
        return wrong(resp, diff)
    if actual.get("snapshot") != resp.headers.get("X-Snapshot"):
        wrong(resp, "snapshot differs from X-Snapshot")


# -- VNeID ----------------------------------------------------------------------------------------
class VneidCitizen(_Caller):
    """A citizen opening their card in the VNeID app: GET /v1/vneid/cards/{cccd}."""

    weight = 15
    wait_time = paced(1.0, 3.0)

    @task
    def card(self) -> None:
        asked, i = self.pick((("cccd", 1.0),))
        if i is None:
            asked = self.rng.choice(self.x.unknown["cccd"])
        elif not asked.isdigit():  # the replaced group answers by card code; VNeID takes CCCDs
            asked = self.x.people[i][0]
        with self.rest("GET", f"/v1/vneid/cards/{asked}", name=VNEID, headers=self.auth) as resp:
            if resp.js is None:
                return
            if resp.status_code != 200:
                return wrong(resp, f"HTTP {resp.status_code}")
            # No date parameter: the service answers for today in Vietnam.
            expected = ex.vneid_fields(self.x.body(asked, self.x.today(), None, i))
            diff = ex.subset_difference(resp.js, expected)
            if diff:
                wrong(resp, diff)


# -- HIS reception desks on the VSS gateway call -------------------------------------------------
class ReceptionDesk(_Caller):
    """A reception desk whose HIS speaks the VSS gateway's card check (DOMAIN 5)."""

    weight = 40
    wait_time = paced(0.5, 1.5)
    KINDS = (("card_no", 0.55), ("cccd", 0.4), ("bhxh_code", 0.05))

    def on_start(self) -> None:
        super().on_start()
        self.username = self.settings.gateway_user
        self.password_md5 = hashlib.md5(
            (self.settings.gateway_password or "").encode(), usedforsecurity=False
        ).hexdigest()
        registered = self.x.registry.officers.get((self.username or "")[:5])
        self.officer_name, self.officer_cccd = ex.officer(self.rng, registered)
        self.query: str | None = None
        self.first = True
        self.take_token()

    def take_token(self) -> bool:
        body = urlencode({"username": self.username, "password": self.password_md5})
        self.query = None
        with self.client.request(
            "POST", TOKEN, data=body, headers=FORM, name=TOKEN, catch_response=True
        ) as resp:
            js = json_body(resp)
            if js is None:
                return False
            key = js.get("APIKey") if isinstance(js, dict) else None
            if resp.status_code != 200 or js.get("maKetQua") != "200" or not key:
                resp.failure(
                    f"token refused: HTTP {resp.status_code}, maKetQua "
                    f"{js.get('maKetQua') if isinstance(js, dict) else None}"
                )
                return False
            self.query = urlencode(
                {
                    "token": key["access_token"],
                    "id_token": key["id_token"],
                    "username": self.username,
                    "password": self.password_md5,
                }
            )
            self.first = True
            return True

    def case(self) -> tuple[dict[str, str], int | None, str | None]:
        """The fields a desk sends, the person, and the step-2 code they must answer (or None)."""
        rng = self.rng
        asked, i = self.pick(self.KINDS)
        fields = {"maThe": asked, "hoTenCb": self.officer_name, "cccdCb": self.officer_cccd}
        if i is None:
            fields.update(hoTen="Nguyễn Văn An", ngaySinh="01/01/1980")
            return fields, None, None
        _, rec = self.x.record(i)
        roll = rng.random()
        if roll < 0.04:
            fields.update(hoTen=ex.misspell(rec.full_name, False, rng))
            step2 = "060"
        elif roll < 0.08:
            fields.update(hoTen=ex.misspell(rec.full_name, True, rng))
            step2 = "061"
        else:
            fields.update(hoTen=ex.same_name_variant(rec.full_name, rng))
            step2 = None
        if step2 is None and rng.random() < 0.04:
            fields.update(ngaySinh=ex.wrong_birth_date(rec.dob, rng))
            step2 = "070"
        else:
            fields.update(ngaySinh=ex.birth_date_text(rec.dob, rng))
        return fields, i, step2

    @task
    def check_card(self) -> None:
        if self.query is None and not self.take_token():
            return
        fields, i, step2 = self.case()
        body = urlencode(fields)
        for attempt in (1, 2):
            renew = False
            with self.client.request(
                "POST",
                f"{CHECK}?{self.query}",
                data=body,
                headers=FORM,
                catch_response=True,
                name=CHECK_FIRST if self.first else CHECK,
            ) as resp:
                self.first = False
                js = json_body(resp)
                if js is None:
                    return
                if resp.status_code != 200 or not isinstance(js, dict):
                    return wrong(resp, f"HTTP {resp.status_code}")
                if js.get("maKetQua") == "401" and attempt == 1:
                    renew = True  # the token expired: take a new one and ask again (DOMAIN 5)
                else:
                    self.check(resp, js, fields["maThe"], i, step2)
            if not renew or not self.take_token():
                return

    def check(self, resp: Any, js: dict[str, Any], asked: str, i: int | None, step2: str | None):
        if step2 is not None:  # a failed identity check gives no card data (SPEC 3.1 step 2)
            expected = ex.gateway_fields(step2, None)
            expected["maThe"] = asked
        else:
            body = self.x.body(asked, self.x.today(), None, i)
            code = body["result"]["code"]
            if body["person"] is None:
                expected = ex.gateway_fields(code, None)
                expected["maThe"] = asked
            else:
                expected = ex.gateway_fields(code, body)
            expected["ghiChu"] = body["result"]["message"]
        diff = ex.subset_difference(js, expected)
        if diff:
            wrong(resp, diff)


# -- nightly re-checks ---------------------------------------------------------------------------
class NightlyBatch(_Caller):
    """A nightly job re-checking a list of patients: POST /v1/entitlements/batch, 1000 ids.

    Every answer's id, CCCD and result code is checked, and one in BATCH_FULL_CHECK field by
    field: checking all 1000 bodies in full costs Locust ~70 ms of CPU per batch, which would
    steal the core the other users are timed on. It keeps its cadence whatever LOOKUP_PACE is
    (LOOKUP_BATCH_PACE scales it): a flat-out batch job would be a benchmark, not a caller.
    """

    fixed_count = 1
    wait_time = paced(0.5, 1.5, BATCH_PACE)
    KINDS = (("cccd", 0.8), ("card_no", 0.15), ("bhxh_code", 0.05))

    @task
    def recheck(self) -> None:
        picks = []
        for n in range(BATCH_SIZE):
            if n % 100 == 99:
                cooperate()
            if self.rng.random() < 0.01:
                picks.append((self.rng.choice(MALFORMED_IDS), None))  # answered 205 in place
            else:
                picks.append(self.pick(self.KINDS))
        ids = [asked for asked, _ in picks]
        date = self.settings.date
        payload = orjson.dumps({"ids": ids, "date": self.settings.date_iso})
        headers = {**self.auth, "Content-Type": "application/json"}
        with self.client.request(
            "POST", BATCH, data=payload, headers=headers, name=BATCH, catch_response=True
        ) as resp:
            if resp.status_code != 200:
                return wrong(resp, f"HTTP {resp.status_code}")
            results = batch_results(resp.content or b"")
            if results is None:
                js = json_body(resp)
                results = js.get("results") if isinstance(js, dict) else None
            if not isinstance(results, list) or len(results) != len(ids):
                return wrong(resp, "results is not one answer per id")
            snapshot = resp.headers.get("X-Snapshot")
            full = self.rng.randrange(BATCH_FULL_CHECK)
            for n, ((asked, i), raw) in enumerate(zip(picks, results, strict=True)):
                if n % 50 == 49:
                    cooperate()
                actual = orjson.loads(raw) if isinstance(raw, bytes) else raw
                if n % BATCH_FULL_CHECK == full or i is None or self.x.answers_apart(i, asked):
                    diff = ex.first_difference(
                        ex.without_snapshot(actual),
                        ex.without_snapshot(self.x.body(asked, date, None, i)),
                    )
                else:
                    diff = self.x.quick_difference(actual, asked, i)
                if diff:
                    return wrong(resp, f"results[]: {diff}")
                if actual.get("snapshot") != snapshot:
                    return wrong(resp, "results[]: snapshot differs from X-Snapshot")


def batch_results(content: bytes) -> list[bytes] | None:
    """Split a batch answer into its bodies, unparsed, or None if it is not shaped as expected.

    Parsing ~800 KB in one go costs Locust 10-30 ms, during which no other user's response is
    timed; parsed one by one, between yields, it costs the same and stalls nothing. Each body
    starts with its `id` key (DESIGN 6 key order), and `{"id":` cannot occur inside a JSON
    string (its quote would be escaped), so the split is exact; anything else is parsed whole.
    """
    head, tail, sep = b'{"results":[{"id":', b"}]}", b'},{"id":'
    if not (content.startswith(head) and content.endswith(tail)):
        return None
    parts = content[len(head) : -len(tail)].split(sep)
    return [b'{"id":' + part + b"}" for part in parts]


# -- bad traffic ---------------------------------------------------------------------------------
MALFORMED_IDS = (
    "12345",  # too short
    "0010850123456",  # 13 digits
    "00108501234A",  # a letter among digits
    "DN9010123456789",  # benefit level 9
    "D14010123456789",  # a digit in the group
    "001-085-012-345",  # punctuation
    "\uff10\uff10\uff11\uff10\uff18\uff15\uff10\uff11\uff12\uff13\uff14\uff15",  # full-width
    "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",  # Arabic-Indic digits
)


class BadTraffic(_Caller):
    """The small share of bad requests every public service gets."""

    weight = 5
    wait_time = paced(1.0, 3.0)

    @task(4)
    def malformed_id(self) -> None:
        asked = self.rng.choice(MALFORMED_IDS)
        url = f"/v1/entitlements/{quote(asked, safe='')}?date={self.settings.date_iso}"
        with self.rest("GET", url, name=MALFORMED, headers=self.auth) as resp:
            if resp.js is None:
                return
            if resp.status_code != 200:
                return wrong(resp, f"HTTP {resp.status_code}")
            check_body(resp, resp.js, self.x.body(asked, self.settings.date, None, None))

    @task(3)
    def wrong_key(self) -> None:
        asked, _ = self.pick((("cccd", 1.0),))
        headers = {"Authorization": f"Bearer lk_wrong{self.rng.getrandbits(64):016x}"}
        with self.rest(
            "GET", f"/v1/entitlements/{quote(asked, safe='')}", name=WRONG_KEY, headers=headers
        ) as resp:
            expect_error(resp, 401, "unauthorized")

    @task(1)
    def oversized_body(self) -> None:
        filler = "0" * 12
        ids = [filler] * (OVERSIZED_BYTES // 15)
        headers = {**self.auth, "Content-Type": "application/json"}
        with self.client.request(
            "POST",
            BATCH,
            data=orjson.dumps({"ids": ids}),
            headers=headers,
            name=OVERSIZED,
            catch_response=True,
        ) as resp:
            expect_error(resp, 413, "body_too_large")


def expect_error(resp: Any, status: int, code: str) -> None:
    """The answer must be HTTP `status` with the SPEC 3 error body naming `code`."""
    if resp.status_code != status:
        return resp.failure(f"wrong answer: HTTP {resp.status_code}, expected {status}")
    try:
        error = orjson.loads(resp.content or b"")["error"]["code"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return resp.failure("wrong answer: not the SPEC 3 error body")
    if error != code:
        return resp.failure(f"wrong answer: error.code {error!r}, expected {code!r}")
    resp.success()
