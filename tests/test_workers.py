"""`hogo-gateway serve --workers N`: one port, N processes, one store; a dead worker is replaced;
SIGTERM stops them all; /metrics adds up every worker's counters."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from gateway.context import open_gateway
from gateway.directory_import import import_pairs
from gateway.settings import Settings
from gateway.simulator import Simulator
from tests.support import (
    AFFAIR,
    REQUESTER,
    GatewayProcess,
    Query,
    alive,
    children,
    is_checker,
    parse_answer,
    serve_app,
)
from tests.support import until as _until

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    """`pid`'s children but its flag state checker (gateway/verify/process.py, one beside the
    workers: tests/test_checker_process.py)."""
    return {p for p in children(pid) if not is_checker(p)}


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on (its sockets, matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    session: aiohttp.ClientSession
    data_dir: Path

    async def submit(self, pn: str, subject: str) -> str | None:
        async with self.session.post(
            self.url + "/soap/provision",
            data=Query(pn, subject).xml(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        ) as resp:
            return parse_answer(resp.status, await resp.read()).status

    async def provided_total(self) -> float:
        async with self.session.get(self.url + "/metrics") as resp:
            for line in (await resp.text()).splitlines():
                if line.startswith('hogo_queries_total{outcome="provided"}'):
                    return float(line.split()[-1])
        raise AssertionError("no hogo_queries_total in /metrics")


@contextlib.asynccontextmanager
async def _serve(
    tmp_path: Path, residents, redis_url: str | None, workers: int = 2
) -> AsyncIterator[Served]:
    upstream = await serve_app(Simulator(residents={r.subject_code: r for r in residents}).app())
    data_dir = tmp_path / "data"
    if redis_url:
        gw = await open_gateway(Settings(data_dir=data_dir), redis_url)
        await gw.requesters.add(REQUESTER, "見本市 子ども家庭課", "test")
        await gw.requesters.grant(REQUESTER, AFFAIR, [], "test")  # deny by default otherwise
        pairs = ((r.atena_number, r.subject_code) for r in residents)
        await import_pairs(gw.directory, gw.events, pairs, "test")
        await gw.close()
    # --port 0: the supervisor reserves a free port and every worker listens on it
    gateway = GatewayProcess(data_dir, redis_url, upstream.url + "/", "--workers", str(workers))
    # a fresh connection for every request, so that the kernel spreads them over the workers
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    try:
        await gateway.wait_ready()
        served = Served(gateway.proc, gateway.url, session, data_dir)

        async def ready() -> bool:
            try:
                async with session.get(served.url + "/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await _until(ready, 60, "readiness")
        yield served
    finally:
        await session.close()
        gateway.kill9()
        await upstream.cleanup()


async def test_workers_share_the_port_and_store_and_add_up_their_metrics(
    tmp_path, redis_url, residents
) -> None:
    async with _serve(tmp_path, residents, redis_url) as s:
        workers = _children(s.proc.pid)
        assert len(workers) == 2
        # asked for port 0, they listen on the one port the supervisor got (which does not listen)
        port = int(s.url.rsplit(":", 1)[1])

        async def both_listen() -> bool:
            return [_listening_ports(pid) for pid in workers] == [{port}, {port}]

        await _until(both_listen, 60, "both workers listening on the port")
        assert _listening_ports(s.proc.pid) == set()
        answers = [await s.submit(f"W-{i}", residents[i % 10].subject_code) for i in range(30)]
        assert answers == ["PROVIDED"] * 30
        # whichever worker answers the scrape, it counts every worker's queries
        assert [await s.provided_total() for _ in range(6)] == [30.0] * 6

        # a worker killed outright is replaced, and the service goes on
        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            now = _children(s.proc.pid)
            return len(now) == 2 and victim not in now

        await _until(replaced, 30, "a replacement worker")
        await _until(lambda: _ready(s), 60, "readiness after the restart")
        assert [await s.submit(f"W2-{i}", residents[1].subject_code) for i in range(10)] == [
            "PROVIDED"
        ] * 10
        # the dead worker's counts stay in the sum: counters never go back
        assert await s.provided_total() == 40.0

        # SIGTERM stops every worker and then the supervisor, cleanly
        workers = _children(s.proc.pid)
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(40) == 0
        assert not any(alive(pid) for pid in workers)


async def _ready(s: Served) -> bool:
    for _ in range(4):  # several fresh connections: every worker must answer
        try:
            async with s.session.get(s.url + "/readyz") as resp:
                if resp.status != 200:
                    return False
        except aiohttp.ClientError:
            return False
    return True


async def test_workers_share_the_embedded_store_the_supervisor_owns(tmp_path, residents) -> None:
    async with _serve(tmp_path, residents, None) as s:
        endpoint = s.data_dir / "redis" / "endpoint.json"
        assert endpoint.exists()
        workers = _children(s.proc.pid)
        redis_pids = workers - {
            p for p in workers if b"gateway" in Path(f"/proc/{p}/cmdline").read_bytes()
        }
        assert len(workers - redis_pids) == 2 and len(redis_pids) == 1
        assert await _ready(s)
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(40) == 0
        assert not endpoint.exists()  # the supervisor stopped its store after its workers
        assert not any(alive(pid) for pid in workers)


def test_a_worker_count_below_one_is_a_bad_argument(tmp_path, capsys) -> None:
    from gateway.cli import main

    argv = ["serve", "--data-dir", str(tmp_path), "--upstream-url", "http://127.0.0.1:9/"]
    assert main([*argv, "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "redis").exists()  # refused before any store was started
