"""What sealing costs per event: the real sealer against a real redis-server, CPU time measured.

    .venv/bin/python -m bench.audit_seal [--events 100000] [--rounds 3] [--loop uvloop|asyncio]

Starts a redis-server of its own (append-only, `appendfsync always`, as deployed), appends
`--events` raw events shaped like the automatic path's `query.provided` (pipelined XADD, not
measured), then lets one `Sealer` (gateway/audit/sealer.py, default settings: 256 events per
sealing step) seal them all, and prints, per event, the CPU this process spent (chaining,
signing, building and sending the sealing step) and the CPU redis-server spent (the sealing
script, its fsync). Each round starts from an empty store. It drives the sealer only through
`Sealer(trail, keyring, settings).seal_once()`, so the same file measures older code too
(put that tree first on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.procs import Processes, cpu_seconds, start_redis
from gateway.audit.sealer import Sealer
from gateway.context import open_gateway
from gateway.eventloop import chosen, run
from gateway.settings import Settings

PIPELINE = 2000


def raw_event(n: int) -> dict[str, str]:
    """A raw event as complete.lua's `emit` writes it for an automatic answer."""
    return {
        "kind": "query.provided",
        "at": "2026-11-26T01:02:03.456Z",
        "actor": "gateway",
        "query": f"{n:020x}",
        "org": "1310000000000001",
        "pn": f"BENCH-{n}",
        "item": "TM00000000000001",
        "subject": f"1.{n:032x}",
        "outcome": "provided",
        "record_nd": "0",
    }


async def one_round(redis_url: str, data_dir: Path, events: int, redis_pid: int) -> dict:
    settings = Settings(data_dir=data_dir, store_timeout=10.0)
    gw = await open_gateway(settings, redis_url)
    try:
        client = gw.redis.client
        await gw.trail.head()  # the first store call checks (and records) the keyring
        await client.flushall()
        for start in range(0, events, PIPELINE):
            pipe = client.pipeline(transaction=False)
            for n in range(start, min(start + PIPELINE, events)):
                pipe.xadd(gw.redis.keys.events, raw_event(n))
            await pipe.execute()
        sealer = Sealer(gw.trail, gw.keyring, settings)
        redis_before = cpu_seconds(redis_pid)
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        sealed = 0
        while sealed < events:
            sealed += await sealer.seal_once()
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        redis_cpu = cpu_seconds(redis_pid) - redis_before
        await sealer.lease.drop()
        head = await gw.trail.head()
        assert head.seq == events, (head.seq, events)
        size = sum(len(f["e"]) for _, f in await client.xrange(gw.redis.keys.trail, count=1000))
        return {
            "cpu_us": cpu / events * 1e6,
            "redis_us": redis_cpu / events * 1e6,
            "wall_us": wall / events * 1e6,
            "bytes": size / min(events, 1000),
        }
    finally:
        await gw.close()


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.audit_seal")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--loop", default="uvloop")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hogo-seal-bench-"))
    procs = Processes()
    try:
        service, url = start_redis(procs, tmp / "redis", "always", None)
        rows = []
        for r in range(1, a.rounds + 1):
            row = run(one_round(url, tmp / f"data{r}", a.events, service.proc.pid), a.loop)
            rows.append(row)
            print(
                f"round {r}: {a.events} events sealed, per event: sealer CPU "
                f"{row['cpu_us']:.1f} us, redis CPU {row['redis_us']:.1f} us, wall "
                f"{row['wall_us']:.1f} us; {row['bytes']:.0f} bytes a sealed line",
                flush=True,
            )
        print(
            f"median per event: sealer CPU {statistics.median(x['cpu_us'] for x in rows):.1f} "
            f"us, redis CPU {statistics.median(x['redis_us'] for x in rows):.1f} us "
            f"(loop {chosen(a.loop)}, load average {os.getloadavg()[0]:.2f})"
        )
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
