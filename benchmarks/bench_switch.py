"""The live switch at national size (issue 14): a delta published while the service answers.

    python benchmarks/bench_switch.py /tmp/bench100/data /tmp/bench100/delta-100000.csv

(DELTA must apply to the current snapshot: after bench_national.py has applied it, `lookup
rollback BUILD_ID --data DATA` first.)

Serves DATA with `lookup serve --workers 2` (pinned to core 0), keeps 16 single lookups of
random existing CCCDs in flight from core 1, applies DELTA with `lookup apply` (which returns
once CURRENT is renamed), and keeps asking for 3 s more. Reports how long after the publish
the first and the last worker answered from the new snapshot (the `X-Snapshot` header of each
answer), and every answer that was not a 200 (target: the switch within 2 s, none failed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_http  # noqa: E402

IN_FLIGHT = 16


async def ask(port: int, key: str, ids: list[str], seen: list, failed: list, stop: list) -> None:
    import aiohttp

    rng = random.Random()
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        while not stop:
            url = f"http://127.0.0.1:{port}/v1/entitlements/{rng.choice(ids)}"
            try:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        failed.append(response.status)
                    seen.append((time.monotonic(), response.headers.get("X-Snapshot")))
            except aiohttp.ClientError as exc:
                failed.append(repr(exc))


async def run(data: str, delta: str, key: str, ids: list[str], port: int) -> dict:
    seen: list[tuple[float, str | None]] = []
    failed: list = []
    stop: list = []
    clients = [asyncio.create_task(ask(port, key, ids, seen, failed, stop)) for _ in range(16)]
    await asyncio.sleep(2)
    before = {s for _, s in seen}
    argv = [sys.executable, "-m", "lookup", "apply", delta, "--data", data, "--json"]
    applied = await asyncio.to_thread(subprocess.run, argv, capture_output=True, check=True)
    published = time.monotonic()
    new = orjson.loads(applied.stdout)["snapshot"]
    await asyncio.sleep(3)
    stop.append(True)
    await asyncio.gather(*clients)
    after = [t for t, s in seen if s == new]
    old_late = [t for t, s in seen if s != new and t > published]
    return {
        "answers": len(seen),
        "snapshots_before": sorted(s for s in before if s),
        "new": new,
        "apply_s": orjson.loads(applied.stdout)["seconds"],
        "first_new_after_publish_s": round(min(after) - published, 3) if after else None,
        "last_old_after_publish_s": round(max(old_late) - published, 3) if old_late else 0.0,
        "failed": failed[:10],
        "failed_count": len(failed),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("data")
    p.add_argument("delta")
    args = p.parse_args()
    from lookup.service.clients import ClientStore

    key = ClientStore(args.data).add(f"bench-switch-{os.getpid()}", ["his"], rate_per_s=0)
    ids = bench_http.sample_cccds(Path(args.data), 20_000)
    port = bench_http.free_port()
    argv = [sys.executable, "-m", "lookup", "serve", "--data", args.data, "--workers", "2"]
    server = bench_http.Server("service", [*argv, "--port", str(port)], port, 0, Path(os.devnull))
    try:
        os.sched_setaffinity(0, {1})
        result = asyncio.run(run(args.data, args.delta, key, ids, port))
    finally:
        server.stop()
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
