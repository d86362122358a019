"""A load generator in its own process, for what wrk cannot do (and instead of wrk when it is not
installed): open-loop load at a fixed rate, so that p99 means something (latency is counted from
the moment a request was due, not from when a busy client got round to sending it), or closed-loop
load with a fixed number of connections.

    python -m bench.load URL --rate R --duration S [--warmup S] --prefix P --residents N ...
    python -m bench.load URL --connections C --duration S ...

Prints one JSON line with the same fields as bench/submit.lua's done() (microseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import aiohttp

from gateway.eventloop import run

TEMPLATE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<q:SubmitQueryRequest xmlns:q="urn:hogo-gateway:provision:1">'
    "<q:processingNumber>{pn}</q:processingNumber>"
    "<q:requesterOrgCode>1310000000000001</q:requesterOrgCode>"
    "<q:requesterDeptCode>D01</q:requesterDeptCode><q:requesterUserId>user_7</q:requesterUserId>"
    "<q:affairCode>JM00000000000001</q:affairCode><q:procedureCode>JT00000000000001</q:procedureCode>"
    "<q:itemCode>TM00000000000001</q:itemCode><q:subjectCode>SIM{subject:013d}</q:subjectCode>"
    "<q:requestedAt>2026-11-26T10:00:00+09:00</q:requestedAt>"
    "</q:SubmitQueryRequest></soap:Body></soap:Envelope>"
)
HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": '"urn:hogo-gateway:provision:1/SubmitQuery"',
}


class Bodies:
    """Unique SubmitQuery bodies, drawn like bench/submit.lua draws them."""

    def __init__(self, prefix: str, residents: int, flagged: int, mix: bool) -> None:
        self.prefix = prefix
        self.first = 1 if mix else flagged + 1
        self.residents = residents
        self.n = 0

    def next(self) -> bytes:
        self.n += 1
        subject = random.randint(self.first, self.residents)
        return TEMPLATE.format(pn=f"{self.prefix}-{self.n}", subject=subject).encode()


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


async def drive(args: argparse.Namespace) -> dict[str, object]:
    bodies = Bodies(args.prefix, args.residents, args.flagged, args.mix)
    connector = aiohttp.TCPConnector(limit=args.max_connections, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=30)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    lag_max = 0.0
    measuring_from = 0.0

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(due: float) -> None:
            nonlocal errors
            try:
                async with session.post(args.url, data=bodies.next(), headers=HEADERS) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                return
            done = time.perf_counter()
            if due >= measuring_from:
                latencies.append(done - due)
                statuses[status] = statuses.get(status, 0) + 1

        start = time.perf_counter()
        measuring_from = start + args.warmup
        end = measuring_from + args.duration
        tasks: set[asyncio.Task[None]] = set()
        if args.rate:
            interval = 1.0 / args.rate
            k = 0
            while True:
                now = time.perf_counter()
                due = start + k * interval
                if due >= end:
                    break
                if due > now:
                    await asyncio.sleep(due - now)
                    continue
                lag_max = max(lag_max, now - due)
                t = asyncio.create_task(one(due))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                k += 1
        else:

            async def worker() -> None:
                while time.perf_counter() < end:
                    await one(time.perf_counter())

            await asyncio.gather(*(worker() for _ in range(args.connections)))
        if tasks:
            await asyncio.wait(tasks, timeout=35)

    latencies.sort()
    us = [x * 1e6 for x in latencies]
    ok = statuses.get(200, 0)
    return {
        "requests": len(latencies),
        "duration_us": int(args.duration * 1e6),
        "connect_errors": errors,
        "read_errors": 0,
        "write_errors": 0,
        "status_errors": len(latencies) - ok,
        "timeouts": 0,
        "p50": percentile(us, 50),
        "p90": percentile(us, 90),
        "p99": percentile(us, 99),
        "max": us[-1] if us else 0.0,
        "mean": sum(us) / len(us) if us else 0.0,
        "rate": args.rate,
        "send_lag_max_us": lag_max * 1e6,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--rate", type=float, default=0.0, help="requests per second (open loop)")
    p.add_argument("--connections", type=int, default=32, help="closed loop, when no --rate")
    p.add_argument("--max-connections", type=int, default=512)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--prefix", required=True)
    p.add_argument("--residents", type=int, required=True)
    p.add_argument("--flagged", type=int, default=0)
    p.add_argument("--mix", action="store_true")
    p.add_argument("--loop", default="uvloop")
    args = p.parse_args()
    result: dict[str, object] = {}

    async def go() -> None:
        result.update(await drive(args))

    run(go(), args.loop)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
