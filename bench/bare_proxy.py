"""The baseline: a bare aiohttp pass-through proxy with no checks at all, in front of the same
upstream and with the same client settings as the gateway (`gateway/context.py`).

    python -m bench.bare_proxy --port P --upstream-url URL [--loop uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

from gateway.eventloop import run


async def serve(port: int, upstream_url: str) -> None:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
        skip_auto_headers=("User-Agent",),
    )

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            "Content-Type": request.headers.get("Content-Type", "text/xml; charset=utf-8"),
            "SOAPAction": request.headers.get("SOAPAction", '""'),
        }
        async with session.post(upstream_url, data=body, headers=headers) as resp:
            payload = await resp.read()
            return web.Response(
                body=payload,
                status=resp.status,
                headers={"Content-Type": resp.headers.get("Content-Type", "text/xml")},
            )

    app = web.Application(client_max_size=1024 * 1024 + 1)
    app.router.add_post("/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream-url", required=True)
    p.add_argument("--loop", default="uvloop")
    args = p.parse_args()
    run(serve(args.port, args.upstream_url), args.loop)


if __name__ == "__main__":
    main()
