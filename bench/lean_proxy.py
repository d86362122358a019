"""The lean pass-through: gateway/lean's server and upstream pool with no checks at all, in
front of the same upstream as bench/bare_proxy.py (the aiohttp baseline). It is the floor of the
lean automatic path: what the transport alone costs. SIGTERM drains it.

    python -m bench.lean_proxy --port P --upstream-url URL [--loop uvloop|asyncio]

With --port 0 it listens on a free port; either way its first line on standard output is
`listening on 127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse

from gateway.eventloop import run
from gateway.lean.http import Request, Response
from gateway.lean.pool import UpstreamPool
from gateway.lean.server import LeanServer, Routes, run_until_signal

_DEFAULT_TYPE = b"text/xml; charset=utf-8"


async def serve(port: int, upstream_url: str) -> None:
    pool = UpstreamPool(upstream_url, timeout=10.0, idle_timeout=30.0)

    async def forward(request: Request) -> Response:
        headers = (
            (b"content-type", request.header(b"content-type") or _DEFAULT_TYPE),
            (b"soapaction", request.header(b"soapaction") or b'""'),
        )
        answer = await pool.request("POST", request.body, headers)
        return Response(answer.status, answer.body, answer.header(b"content-type") or b"text/xml")

    server = LeanServer(Routes({("POST", "/soap/provision"): forward}))
    await server.start("127.0.0.1", port, backlog=1024)
    print(f"listening on 127.0.0.1:{server.port}", flush=True)
    try:
        await run_until_signal(server, grace=10.0)
    finally:
        await pool.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream-url", required=True)
    p.add_argument("--loop", default="uvloop")
    args = p.parse_args()
    run(serve(args.port, args.upstream_url), args.loop)


if __name__ == "__main__":
    main()
