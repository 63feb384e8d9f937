"""Publishing a new snapshot under load (SPEC 3, lookup.web.snapshots): no request fails, every
answer and every batch comes from exactly one snapshot, and the new one is served within 2 s."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from lookup.web.app import ServiceConfig

from helpers.server import LiveServer, add_key, build_data, person

PEOPLE = 40
CLIENTS = 8
SWITCH_WITHIN = 2.0  # seconds, SPEC: a published snapshot is served within 2 s


def rows(prefix: str) -> list[dict[str, str]]:
    return [person(n, full_name=f"{prefix} Văn {n}") for n in range(1, PEOPLE + 1)]


def cccd(n: int) -> str:
    return f"001085{n:06d}"


class Hammer:
    """Clients asking in a loop; every answer is kept as (sent at, snapshot, names)."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.answers: list[tuple[float, str, set[str]]] = []
        self.failures: list[str] = []
        self.stop = False

    async def client(self, session: aiohttp.ClientSession, index: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        n = index
        while not self.stop:
            n = n % PEOPLE + 1
            sent = time.monotonic()
            try:
                if n % 3:
                    url = f"{self.url}/v1/entitlements/{cccd(n)}"
                    async with session.get(url, headers=headers) as resp:
                        body, status, snapshot = await resp.json(), resp.status, resp.headers
                    results = [body] if status == 200 else []
                else:
                    ids = [cccd(k) for k in range(1, PEOPLE + 1)]
                    url = f"{self.url}/v1/entitlements/batch"
                    async with session.post(url, json={"ids": ids}, headers=headers) as resp:
                        body, status, snapshot = await resp.json(), resp.status, resp.headers
                    results = body.get("results", [])
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            if status != 200:
                self.failures.append(f"{status}: {body}")
                continue
            header = snapshot["X-Snapshot"]
            if {r["snapshot"] for r in results} != {header}:
                self.failures.append(f"X-Snapshot {header} but bodies from {results}")
            names = {r["person"]["full_name"].split()[0] for r in results}
            self.answers.append((sent, header, names))


async def hammer_while_publishing(server: LiveServer, key: str, folder, data) -> dict:
    hammer = Hammer(server.url, key)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = [asyncio.create_task(hammer.client(session, i)) for i in range(CLIENTS)]
        await asyncio.sleep(0.5)
        old = data.current_id()
        await asyncio.to_thread(build_data, folder, rows("Beta"), "b.csv")
        published = time.monotonic()  # build() returns right after CURRENT was renamed
        new = data.current_id()
        # Keep asking until the switch is well past the promise.
        while time.monotonic() < published + SWITCH_WITHIN + 0.5:
            await asyncio.sleep(0.05)
        hammer.stop = True
        await asyncio.gather(*tasks)
    return {"hammer": hammer, "old": old, "new": new, "published": published}


def test_switch_under_load(tmp_path):
    data = build_data(tmp_path, rows("Alpha"), "a.csv")
    key = add_key(data, "load", ["his", "batch"])
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as server:
        run = asyncio.run(hammer_while_publishing(server, key, tmp_path, data))
    hammer, old, new, published = run["hammer"], run["old"], run["new"], run["published"]

    assert hammer.failures == []
    assert old != new
    expected = {old: {"Alpha"}, new: {"Beta"}}
    seen = {snapshot for _, snapshot, _ in hammer.answers}
    assert seen == {old, new}
    for _, snapshot, names in hammer.answers:
        assert names == expected[snapshot]  # one answer, or one whole batch, one snapshot
    first_new = min(sent for sent, snapshot, _ in hammer.answers if snapshot == new)
    assert first_new - published <= SWITCH_WITHIN
    late = [s for sent, s, _ in hammer.answers if sent > published + SWITCH_WITHIN]
    assert late and set(late) == {new}
    assert len(hammer.answers) > 100


def test_a_rollback_is_served_within_2_s(tmp_path):
    data = build_data(tmp_path, rows("Alpha"), "a.csv")
    first = data.current_id()
    with LiveServer(ServiceConfig(data_dir=str(data.root))) as server:
        build_data(tmp_path, rows("Beta"), "b.csv")
        second = data.current_id()
        assert wait_for_snapshot(server, second) <= SWITCH_WITHIN
        data.rollback()
        assert wait_for_snapshot(server, first) <= SWITCH_WITHIN


def wait_for_snapshot(server: LiveServer, snapshot: str) -> float:
    start = time.monotonic()
    while server.get("/readyz").json()["snapshot"] != snapshot:
        assert time.monotonic() - start < 5, "the new snapshot was never served"
        time.sleep(0.02)
    return time.monotonic() - start
