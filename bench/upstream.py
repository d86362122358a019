"""A lean stand-in for the information-provision endpoint, used by every row of the benchmark.

It answers SubmitQuery like `gateway.simulator` (PROVIDED with four synthetic fields, the same
canonical bytes) but reads the request with two byte searches instead of a hardened parse: it
shares a core with the load generator and Redis, and must not be what limits the rows it serves.

    python -m bench.upstream --port P [--loop uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import re

from aiohttp import web

from gateway.eventloop import run
from gateway.model import QueryResult
from gateway.simulator import synthetic_residents
from gateway.soap.messages import query_result_envelope

_PN = re.compile(rb"processingNumber>([A-Za-z0-9-]{1,32})<")
_SUBJECT = re.compile(rb"subjectCode>SIM([0-9]{13})<")
_FIELDS = next(synthetic_residents(1)).fields


async def answer(request: web.Request) -> web.Response:
    if request.method != "POST":
        return web.Response(text="information-provision endpoint (bench)\n")
    body = await request.read()
    pn = _PN.search(body)
    subject = _SUBJECT.search(body)
    if pn is None:
        return web.Response(status=500, text="no processingNumber")
    number = pn.group(1).decode()
    result = (
        QueryResult(number, "PROVIDED", fields=_FIELDS)
        if subject
        else QueryResult.refused(number, "NO_DATA")
    )
    return web.Response(
        body=query_result_envelope(result, "SubmitQuery"), content_type="text/xml", charset="utf-8"
    )


async def serve(port: int) -> None:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--loop", default="uvloop")
    args = p.parse_args()
    run(serve(args.port), args.loop)


if __name__ == "__main__":
    main()
