"""The HTTP baseline of bench_http.py: the service's stack with nothing behind it.

    python benchmarks/minimal_app.py --port 8081 [--batch-bytes 790000]

Same aiohttp, uvloop, one process, access log off, its own SO_REUSEPORT socket, as a
`lookup serve` worker; but no keys, no snapshot, no audit, no metrics:

    GET  /v1/entitlements/{id}    a fixed 300-byte JSON body
    POST /v1/entitlements/batch   reads the request body, answers a fixed JSON body of
                                  --batch-bytes (bench_http.py passes a real 1000-id answer's size)

What the service reaches against this, in the same run on the same core, is the figure that
survives a noisy machine (issue 3: single lookups >= 0.75x of it).
"""

from __future__ import annotations

import argparse
import asyncio
import socket

import orjson
import uvloop
from aiohttp import web

JSON = "application/json; charset=utf-8"


def fixed_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (at least 16)."""
    head = orjson.dumps({"result": {"code": "000"}, "pad": ""})
    return head[:-2] + b"x" * (size - len(head)) + head[-2:]


def make_app(batch_bytes: int) -> web.Application:
    one_body = fixed_body(300)
    batch_body = fixed_body(batch_bytes)
    headers = {"Content-Type": JSON}

    async def one(request: web.Request) -> web.Response:
        return web.Response(body=one_body, headers=headers)

    async def batch(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=batch_body, headers=headers)

    app = web.Application(client_max_size=256 * 1024, handler_args={"access_log": None})
    app.router.add_get("/v1/entitlements/{id}", one)
    app.router.add_post("/v1/entitlements/batch", batch)
    return app


async def serve(host: str, port: int, batch_bytes: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    runner = web.AppRunner(make_app(batch_bytes), access_log=None, handle_signals=True)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=1024).start()
    print(f"minimal app on http://{host}:{sock.getsockname()[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--batch-bytes", type=int, default=800_000)
    args = p.parse_args()
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(args.host, args.port, args.batch_bytes))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
