"""The lean gateway's latency tail at a fixed rate: where the slow requests are, second by second.

    python bench/tail.py [--rate 344] [--seconds 60] [--pre-saturate 40] [--tree DIR] [VAR=VALUE ...]

Starts the bench stack (bench/run.py's `start_stack`: Redis with the bench's data, the upstream,
`hogo-gateway serve` pinned to CPU 1), saturates the gateway with wrk for `--pre-saturate` seconds
(the trail then holds what a busy minute writes), forces a Redis AOF rewrite and waits for it (so
that the rewrite's own pause is out of the way), then runs an open loop at `--rate` requests a
second (latency counted from when each request was due) and prints p50/p99/max and every second
with requests over 20 ms. The flag state check's first round comes one interval (60 s) after the
gateway started: inside the open loop with the defaults.

`--tree DIR` runs the gateway (and the bench's upstream) from another source tree, e.g. a checkout
of main, for a before/after with the same command; VAR=VALUE pairs go into the gateway's
environment (e.g. HOGO_VERIFY_IN_PROCESS=1). Speed is never asserted: this prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402
import redis  # noqa: E402

from bench.load import HEADERS, Bodies  # noqa: E402
from bench.procs import Processes  # noqa: E402
from bench.run import ROOT, parse_args, start_stack  # noqa: E402

SLOW_SECONDS = 0.02


async def drive(
    url: str, rate: float, seconds: float, residents: int, flagged: int
) -> list[tuple[float, float]]:
    """(wall time due, latency) of every request of an open loop at `rate`/s for `seconds`."""
    bodies = Bodies("P", residents, flagged, False)
    out: list[tuple[float, float]] = []
    offset = time.time() - time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as s:

        async def one(due: float) -> None:
            async with s.post(url, data=bodies.next(), headers=HEADERS) as r:
                await r.read()
            out.append((due + offset, time.perf_counter() - due))

        start = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        k = 0
        while (due := start + k / rate) <= start + seconds:
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
                continue
            t = asyncio.create_task(one(due))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            k += 1
        if tasks:
            await asyncio.wait(tasks, timeout=30)
    return out


def rewrite_aof(port: int) -> None:
    rc = redis.Redis(port=port)
    while rc.info("persistence")["aof_rewrite_in_progress"]:
        time.sleep(0.1)
    rc.bgrewriteaof()
    time.sleep(0.2)
    while rc.info("persistence")["aof_rewrite_in_progress"]:
        time.sleep(0.1)


def report(out: list[tuple[float, float]], started: float) -> None:
    lat = sorted(x for _, x in out)
    n = len(lat)
    print(
        f"n={n} p50={lat[n // 2] * 1e3:.2f} ms p99={lat[int(n * 0.99)] * 1e3:.2f} ms "
        f"max={lat[-1] * 1e3:.1f} ms"
    )
    by_second: dict[int, list[float]] = {}
    for due, x in out:
        if x > SLOW_SECONDS:
            by_second.setdefault(int(due - started), []).append(x)
    print(f"seconds with requests over {SLOW_SECONDS * 1e3:.0f} ms (since the gateway started):")
    for sec in sorted(by_second):
        xs = by_second[sec]
        print(f"  +{sec:4d} s: {len(xs):4d} slow, max {max(xs) * 1e3:.0f} ms")
    if not by_second:
        print("  none")


def check_rounds(gateway_url: str) -> str:
    """What /metrics says of the flag state check: when its last round ended (seconds since the
    gateway started are printed by the caller) and how long it took."""
    import urllib.request

    with urllib.request.urlopen(gateway_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    wanted = ("hogo_flag_verify_last_run_timestamp_seconds", "hogo_flag_verify_seconds")
    values = {
        line.split()[0]: float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(wanted)
    }
    return " ".join(f"{k}={v:.3f}" for k, v in values.items())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=344.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--pre-saturate", type=int, default=40, help="seconds of wrk first (0: none)")
    p.add_argument("--tree", type=Path, default=HERE, help="source tree the gateway runs from")
    p.add_argument("env", nargs="*", help="VAR=VALUE for the gateway's environment")
    args = p.parse_args()
    os.environ.update(kv.split("=", 1) for kv in args.env)
    # the stack's processes import `gateway` from that tree (before any installed copy)
    os.environ["PYTHONPATH"] = str(args.tree.resolve())
    os.chdir(tempfile.gettempdir())  # `python -m` puts the working directory first
    a = parse_args(["--only", "gateway,upstream"])
    tmp = Path(tempfile.mkdtemp(prefix="tail-"))
    procs = Processes()
    try:
        svcs = start_stack(a, tmp, procs, "1", "0")
        started = time.time()
        url = svcs["gateway"].url + "/soap/provision"
        if args.pre_saturate:
            subprocess.run(
                ["taskset", "-c", "0", "wrk", "-t1", "-c32", f"-d{args.pre_saturate}s",
                 "-s", str(ROOT / "bench" / "submit.lua"), url,
                 "--", "P", str(a.residents), str(a.flagged_count), "0"],
                capture_output=True,
                check=True,
            )  # fmt: skip
        rewrite_aof(svcs["redis"].port)
        print(f"tree {args.tree}; pre-saturated {args.pre_saturate} s; AOF rewritten", flush=True)
        load_before = os.getloadavg()[0]
        out = asyncio.run(drive(url, args.rate, args.seconds, a.residents, a.flagged_count))
        report(out, started)
        print(f"load average (1 min) before/after the open loop: {load_before:.2f} / "
              f"{os.getloadavg()[0]:.2f}")  # fmt: skip
        rounds = check_rounds(svcs["gateway"].url)
        print(f"the check (gateway started at {started:.3f}): {rounds}")
    finally:
        procs.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
