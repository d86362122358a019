"""What the auditors' pictures cost: the page /staff/audit/patterns over an event log of 90 days.

    .venv/bin/python -m bench.patterns [--events 300000] [--views 5]

Starts its own redis-server, writes `--events` events spread evenly over the last 90 days (the
mix of a ward's log: mostly automatic answers, some holds, portal blocks, staff and flag
events), seals them as the gateway does (Ed25519, the real sealer) and moves those older than
HOGO_AUDIT_ARCHIVE_AFTER_SECONDS (31 days) into archive files with the real archiver (files of
about a day's events, as a running ward has them), so the page reads the places the log lives. Then it counts the window as the first views ever do (each
reads for at most SCAN_BUDGET_SECONDS and keeps what it counted in the store), and times GET
/staff/audit/patterns as an auditor: the views while counting, then the views after (only what
was appended since).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.procs import Processes, free_port, machine_info, start_redis
from gateway.app import build_app
from gateway.audit.archiver import Archiver
from gateway.audit.sealer import Sealer
from gateway.context import open_gateway
from gateway.services import accounts
from gateway.services.console import Console
from gateway.services.patterns import SCAN_BUDGET_SECONDS, Patterns
from gateway.settings import Settings
from gateway.store.pattern_counts import PatternCounts

DAY_MS = 86_400_000
ORGS = [f"13{i:014d}" for i in range(1, 31)]
PASSWORD = "bench-password-0001"


def _event(rng: random.Random, i: int, at_ms: int) -> dict[str, str]:
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ms / 1000)) + f".{at_ms % 1000:03d}Z"
    org = rng.choice(ORGS)
    base = {"at": at, "actor": "gateway", "query": f"q{i:012x}", "org": org, "pn": f"P-{i}"}
    roll = rng.random()
    subject = f"1.{rng.getrandbits(128):032x}"
    if roll < 0.85:
        return {**base, "kind": "query.provided", "item": "TM00000000000001", "subject": subject}
    if roll < 0.88:
        return {
            **base,
            "kind": "query.held",
            "reason": "auto_response_disabled",
            "subject": subject,
        }
    if roll < 0.89:
        return {**base, "kind": "query.held", "reason": "subject_unknown", "subject": subject}
    if roll < 0.905:
        return {**base, "kind": "query.released", "actor": "staff:appr", "outcome": "provided"}
    if roll < 0.91:
        return {**base, "kind": "query.refused", "actor": "staff:appr"}
    if roll < 0.94:
        return {"at": at, "actor": "portal", "kind": "security.portal_blocked", "subject": subject}
    if roll < 0.97:
        return {"at": at, "actor": "staff:x", "kind": "staff.login", "peer": "127.0.0.1"}
    return {
        "at": at,
        "actor": "token:t1",
        "kind": "flag.read",
        "subject": subject,
        "department": "戸籍住民課",
        "business": "住民基本台帳",
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--views", type=int, default=5)
    ap.add_argument(
        "--no-archive", action="store_true", help="keep every sealed event in the store"
    )
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hogo-bench-patterns-"))
    procs = Processes()
    try:
        _, url = start_redis(procs, tmp / "redis", "everysec", None)
        # archive files of about a day's events at this rate, as the archiver makes them in a
        # running ward (a new file a day, HOGO_AUDIT_ARCHIVE_FILE_SECONDS); here they are all
        # written at once, so the size starts the next file
        per_day = a.events // 90
        settings = Settings(
            data_dir=tmp / "data",
            audit_archive=not a.no_archive,
            audit_archive_file_bytes=max(64 * 1024, per_day * 420),
        )
        gw = await open_gateway(settings, url)
        rng = random.Random(7)
        now_ms = int(time.time() * 1000)
        start_ms = now_ms - 90 * DAY_MS
        step = (now_ms - start_ms - 60_000) / a.events
        t0 = time.perf_counter()
        pipe = gw.redis.client.pipeline(transaction=False)
        for i in range(a.events):
            at_ms = int(start_ms + i * step)
            pipe.xadd(gw.redis.keys.events, _event(rng, i, at_ms), id=f"{at_ms}-{i % 1000}")
            if len(pipe) >= 5000:
                await pipe.execute()
        await pipe.execute()
        print(f"wrote {a.events} events in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        left = await Sealer(gw.trail, gw.keyring, settings).settle(timeout=3600)
        assert left == 0
        print(f"sealed them in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        archiver, moved = Archiver(gw.trail, settings), 0
        while not a.no_archive and (n := await archiver.archive_once()):
            moved += n
        await archiver.lease.drop()
        status = await gw.trail.status()
        print(
            f"archived {moved} (older than 31 days) in {time.perf_counter() - t0:.1f} s; "
            f"{status.stored} sealed in the store"
        )

        # the counting alone: views until the window is counted, then one more
        patterns = Patterns(gw)
        t0 = time.perf_counter()
        views, read = 0, 0
        while True:
            got = await patterns.pictures()
            views, read = views + 1, read + got.events_read
            if got.complete:
                break
        counting = time.perf_counter() - t0
        t0 = time.perf_counter()
        await patterns.pictures()
        warm = time.perf_counter() - t0
        print(
            f"counting the window: {counting:.1f} s over {views} views of at most "
            f"{SCAN_BUDGET_SECONDS} s ({read} events, {read / counting:,.0f}/s); "
            f"then a view counts in {warm * 1000:.1f} ms"
        )
        await PatternCounts(gw.redis).forget()  # and once more through the page

        # the page, as an auditor sees it
        await accounts.add_user(
            Console.of(gw).users, "aud-bench", "auditor", "情報政策課", PASSWORD, "bench"
        )
        port = free_port()
        runner = web.AppRunner(build_app(settings, url, gateway=gw), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        base = f"http://127.0.0.1:{port}"
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(base + "/api/v1/session") as resp:
                pre = (await resp.json())["csrf"]
            async with http.post(
                base + "/api/v1/session",
                json={"login": "aud-bench", "password": PASSWORD},
                headers={"X-CSRF-Token": pre},
            ) as resp:
                assert resp.status == 200, await resp.text()
            counting_views: list[float] = []
            times: list[float] = []
            while len(times) < a.views:
                t0 = time.perf_counter()
                async with http.get(base + "/staff/audit/patterns") as resp:
                    body = await resp.read()
                    assert resp.status == 200
                    still = "Refresh" in resp.headers
                (counting_views if still else times).append(time.perf_counter() - t0)
        await runner.cleanup()
        await gw.close()
        print(
            f"page: {len(counting_views)} views while counting (the longest "
            f"{max(counting_views, default=0) * 1000:.0f} ms, each reloading itself), then "
            f"median {statistics.median(times) * 1000:.1f} ms ({len(body) // 1024} KiB)"
        )
        info = machine_info()
        print(f"machine: {info}")
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
