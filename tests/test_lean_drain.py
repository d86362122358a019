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
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]


async def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert proc.poll() is None, "the server exited"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("nothing listens")


@pytest.mark.slow
async def test_sigterm_answers_the_request_in_flight_then_exits(tmp_path: Path) -> None:
    async def slow_upstream(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(1.0)
        return web.Response(body=b"upstream:" + body, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/provision", slow_upstream)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    upstream_url = f"http://127.0.0.1:{runner.addresses[0][1]}/provision"
    port = free_port()
    log = open(tmp_path / "lean.log", "wb")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.lean_proxy",
            "--port",
            str(port),
            "--upstream-url",
            upstream_url,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        await wait_listening(port, proc)
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
        log.close()
        await runner.cleanup()
