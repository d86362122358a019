"""The store layer's client CPU per script call, against a bare pipelining sketch.

    .venv/bin/python -m bench.lean_redis [--calls 16000] [--concurrency 32]

Runs the real admission script (`QueryStore.admit`, lua/admit.lua) from `concurrency` coroutines
at once, first through the gateway's store layer (`Redis.script`: script batches, one pipeline
per loop turn on a pooled redis-py connection; phase 1's store layer used one pooled connection
and one round trip per call), then through a bare sketch of an auto-pipelining client: one
connection, every coroutine's command written in the same loop turn goes out in one write,
replies are matched to callers in order (hiredis parses them). Both run each call under the
same store deadline. It prints this process's CPU per call for each, which is what the gateway
spends on each of its two store steps per request.

The sketch leaves out what the store layer must do (reconnection, AUTH/TLS from the URL, NOSCRIPT
reload, dropping the connection after a timed-out batch, WAIT, Sentinel and Cluster); it stays
as the yardstick. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import tempfile
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

import hiredis

from bench.procs import Processes, start_redis
from gateway.clock import SYSTEM_CLOCK
from gateway.crypto import Keyring
from gateway.directory_import import import_pairs
from gateway.eventloop import chosen, run
from gateway.model import SubmitQuery
from gateway.settings import Settings
from gateway.simulator import synthetic_residents
from gateway.store.directory import DirectoryStore
from gateway.store.events import EventLog
from gateway.store.keys import Keys
from gateway.store.queries import QueryStore
from gateway.store.redis import Redis, StoreUnavailable, connect
from gateway.store.requesters import RequesterStore
from gateway.store.scripts import script_source


class PipelinedConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.out: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            fut = self.waiting.popleft()
            if fut.done():
                continue  # its caller gave up (deadline); the reply is dropped in order
            if isinstance(reply, hiredis.ReplyError):
                fut.set_exception(reply)
            else:
                fut.set_result(reply)

    def call(self, *args: Any) -> asyncio.Future[Any]:
        if not self.out:
            self.loop.call_soon(self._flush)
        self.out.append(hiredis.pack_command(args))
        fut = self.loop.create_future()
        self.waiting.append(fut)
        return fut

    def _flush(self) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(self.out))
        self.out.clear()


class LeanStore:
    """Just enough of gateway.store.redis.Redis for QueryStore.admit to run on the sketch."""

    def __init__(self, conn: PipelinedConnection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.timeout = settings.store_timeout
        self._sha: dict[str, str] = {}

    async def script(
        self, name: str, keys: list[str], args: list[object], timeout=None, *, acknowledged=True
    ) -> Any:
        # (no replicas here, so `acknowledged` asks for nothing)
        sha = self._sha.get(name)
        if sha is None:
            sha = hashlib.sha1(script_source(name).encode()).hexdigest()
            await self.conn.call("SCRIPT", "LOAD", script_source(name))
            self._sha[name] = sha
        iso, ms = SYSTEM_CLOCK.stamp()
        try:
            async with asyncio.timeout(self.timeout):
                reply = await self.conn.call(
                    "EVALSHA", sha, len(keys), *keys, self.keys.prefix, iso, ms, *args
                )
        except TimeoutError:
            raise StoreUnavailable("the flag store did not answer in time") from None
        return _decode(reply)


def _decode(reply: Any) -> Any:
    if isinstance(reply, bytes):
        return reply.decode()
    if isinstance(reply, list):
        return [_decode(x) for x in reply]
    return reply


async def measure(url: str, data_dir: Path, calls: int, concurrency: int) -> list[str]:
    settings = Settings(data_dir=data_dir, store_timeout=5.0)
    keyring = Keyring(settings.keys_dir)
    r = Redis(connect(url, settings), settings)
    resident = next(synthetic_residents(1))
    await RequesterStore(r).add("1310000000000001", "見本市 子ども家庭課", "bench")
    await RequesterStore(r).grant("1310000000000001", "JM00000000000001", [], "bench")
    pair = (resident.atena_number, resident.subject_code)
    await import_pairs(DirectoryStore(r, keyring), EventLog(r), [pair], "b")
    q = SubmitQuery(
        processing_number="L",
        requester_org_code="1310000000000001",
        affair_code="JM00000000000001",
        procedure_code="JT00000000000001",
        item_code="TM00000000000001",
        subject_code=resident.subject_code,
        requested_at="2026-11-26T10:00:00+09:00",
        requester_user_id="user_7",
    )
    subject_keys = keyring.person_keys("subject", q.subject_code)
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    _, conn = await asyncio.get_running_loop().create_connection(
        PipelinedConnection, host, int(port)
    )
    lean = LeanStore(conn, settings)
    out = []
    counter = iter(range(10**9))  # processing numbers unique over all rounds
    for label, store in (
        ("the gateway's store layer (script batches)", QueryStore(r, keyring)),
        ("pipelined sketch (one connection)", QueryStore(lean, keyring)),  # type: ignore[arg-type]
    ) * 2:

        async def worker(store: QueryStore = store) -> None:
            for _ in range(calls // concurrency):
                adm = await store.admit(
                    replace(q, processing_number=f"L{next(counter)}"), subject_keys
                )
                assert adm.facts.flags is not None

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = calls // concurrency * concurrency
        out.append(f"| {label} | {cpu / n * 1e6:.1f} | {n / wall:.0f} |")
    await r.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.lean_redis")
    p.add_argument("--calls", type=int, default=16000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--loop", default="uvloop")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hogo-lean-"))
    procs = Processes()
    try:
        _, url = start_redis(procs, tmp / "redis", "always", "0")
        rows: list[str] = []

        async def go() -> None:
            rows.extend(await measure(url, tmp / "data", a.calls, a.concurrency))

        run(go(), a.loop)
        print(f"# admit script, {a.concurrency} at once, event loop {chosen(a.loop)}")
        print("| client | client CPU µs per call | calls/s |\n|---|---:|---:|")
        print("\n".join(rows))
        return 0
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
