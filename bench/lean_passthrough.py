"""The lean pass-through against the bare aiohttp proxy, by bench/run.py's method.

    .venv/bin/python -m bench.lean_passthrough [--duration 10] [--rounds 3] [--quick]

Starts on loopback the lean upstream (bench/upstream.py), the bare aiohttp proxy
(bench/bare_proxy.py) and the lean pass-through (bench/lean_proxy.py: gateway/lean's server and
pool, no checks). With two or more CPUs the proxy under test runs alone on CPU 1 and the rest
(upstream, load generator) on CPU 0. Each round drives lean, bare and upstream in turn with wrk
at saturation (-t1 -c32, bench/submit.lua; bench/load.py without wrk); the table gives req/s and
CPU µs per request of each process (from /proc), and the summary the median of the rounds'
lean / bare ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import run as bench_run
from bench.procs import PYTHON, Processes, free_port, machine_info
from gateway.eventloop import chosen

ROOT = Path(__file__).resolve().parents[1]
bench_run.LABELS.setdefault("lean", "lean pass-through")  # bench/run.py's rows, plus this one
TARGETS = ("lean", "bare", "upstream")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.lean_passthrough", description=__doc__.splitlines()[0]
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load first")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--load", choices=["wrk", "python"], default=None)
    p.add_argument("--quick", action="store_true", help="a smoke run: 3 s, one round")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default bench/results/)")
    a = p.parse_args(argv)
    if a.quick:
        a.duration, a.warmup, a.rounds = 3.0, 1.0, 1
    if a.load is None:
        a.load = "wrk" if shutil.which("wrk") else "python"
    # what bench/run.py's load command needs: every subject unflagged, all in the upstream
    a.residents, a.flagged_count = 10_000, 0
    return a


def start(a: argparse.Namespace, procs: Processes, sut: str | None, rest: str | None) -> dict:
    up_port, lean_port, bare_port = free_port(), free_port(), free_port()
    upstream = procs.start(
        "upstream",
        [PYTHON, "-m", "bench.upstream", "--port", str(up_port), "--loop", a.loop],
        up_port,
        cpus=rest,
    )
    upstream_url = upstream.url + "/provision"
    proxy_args = ["--upstream-url", upstream_url, "--loop", a.loop]
    lean = procs.start(
        "lean",
        [PYTHON, "-m", "bench.lean_proxy", "--port", str(lean_port), *proxy_args],
        lean_port,
        cpus=sut,
    )
    bare = procs.start(
        "bare",
        [PYTHON, "-m", "bench.bare_proxy", "--port", str(bare_port), *proxy_args],
        bare_port,
        cpus=sut,
    )
    return {"lean": lean, "bare": bare, "upstream": upstream}


def summary(runs: list[bench_run.Run]) -> list[str]:
    def med(target: str, value) -> float:
        vals = [value(r) for r in runs if r.target == target]
        return statistics.median(vals) if vals else float("nan")

    ratios = []
    for rnd in sorted({r.round for r in runs}):
        lean = [r.rps for r in runs if r.round == rnd and r.target == "lean"]
        bare = [r.rps for r in runs if r.round == rnd and r.target == "bare"]
        if lean and bare and bare[0]:
            ratios.append(lean[0] / bare[0])
    spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
    return [
        "",
        "| lean req/s | bare req/s | upstream req/s | lean / bare (median of rounds) | "
        "lean CPU µs/req | bare CPU µs/req | upstream CPU µs/req (direct) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {med('lean', lambda r: r.rps):.0f} | {med('bare', lambda r: r.rps):.0f} | "
        f"{med('upstream', lambda r: r.rps):.0f} | **{statistics.median(ratios):.2f}**{spread} | "
        f"{med('lean', lambda r: r.cpu_us.get('lean', 0.0)):.0f} | "
        f"{med('bare', lambda r: r.cpu_us.get('bare', 0.0)):.0f} | "
        f"{med('upstream', lambda r: r.cpu_us.get('upstream', 0.0)):.0f} |",
    ]


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.load == "python":
        print("note: wrk not found (apt-get install wrk); using bench/load.py", file=sys.stderr)
    pinned = (os.cpu_count() or 1) >= 2
    sut, rest = ("1", "0") if pinned else (None, None)
    info = machine_info()
    started_at = datetime.now(UTC)
    print(
        f"# lean pass-through benchmark {started_at:%Y-%m-%d %H:%M} UTC — {info['nproc']} CPUs "
        f"({info['cpu']}), Python {info['python']}, wrk {info['wrk']}, load "
        f"{Path('/proc/loadavg').read_text().split()[0]}; event loop {chosen(a.loop)}; "
        f"{'proxy alone on CPU 1' if pinned else 'not pinned'}; {a.load}, {a.connections} "
        f"connections; {a.duration:.0f} s runs",
        flush=True,
    )
    procs = Processes()
    try:
        bench = bench_run.Bench(a, start(a, procs, sut, rest), rest)
        print(bench_run.HEADER, flush=True)
        for rnd in range(1, a.rounds + 1):
            for target in TARGETS:
                bench.run(target, "unflagged", "saturation", rnd)
        lines = summary(bench.runs)
        print("\n".join(lines), flush=True)
        out = a.out or ROOT / "bench" / "results" / f"{started_at:%Y%m%dT%H%M%S}-lean.json"
        bench_run.save(out, started_at, info, a, bench.runs, lines)
        return 0
    finally:
        procs.stop_all()


if __name__ == "__main__":
    raise SystemExit(main())
