"""SIGTERM on a process serving with the lean listener (bench/lean_proxy.py, the lean server and
pool with no checks): the request in flight is answered, idle keep-alive connections are closed
at once, no new connection is accepted, and the process exits by itself."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from tests.lean_support import parse_answers, request
from tests.support import serve_app

ROOT = Path(__file__).resolve().parents[1]


async def listening_port(proc: subprocess.Popen[bytes]) -> int:
    """The port the server says it listens on (its first line), once it does."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
    assert line.startswith(b"listening on 127.0.0.1:"), (line, proc.poll())
    return int(line.rsplit(b":", 1)[1])


@pytest.mark.slow
async def test_sigterm_answers_the_request_in_flight_then_exits(tmp_path: Path) -> None:
    async def slow_upstream(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(1.0)
        return web.Response(body=b"upstream:" + body, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/provision", slow_upstream)
    runner = await serve_app(app)
    upstream_url = runner.url + "/provision"
    log = open(tmp_path / "lean.log", "wb")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.lean_proxy", "--port", "0", "--upstream-url", upstream_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        port = await listening_port(proc)
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
        busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", port)
        busy_writer.write(request(b"<q/>"))
        await busy_writer.drain()
        await asyncio.sleep(0.3)  # in flight: the upstream takes a second
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert await asyncio.wait_for(idle_reader.read(), 0.8) == b""  # closed at once
        [answer] = parse_answers(await asyncio.wait_for(busy_reader.read(), 5))
        assert (answer.status, answer.body) == (200, b"upstream:<q/>")
        assert answer.headers[b"connection"] == b"close"
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.to_thread(proc.wait, 10) == 0
        assert time.monotonic() - started < 5
        idle_writer.close()
        busy_writer.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()
        await runner.cleanup()
