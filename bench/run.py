"""The benchmark: the gateway's lean path and its old aiohttp path against the bare pass-throughs.

    .venv/bin/python -m bench.run [--duration 10] [--rounds 3] [--fsync always|everysec]
                                  [--workers N] [--layout pinned|shared] [--quick]

Starts on loopback: a redis-server like the embedded one (append-only, `appendfsync always` unless
told otherwise), a lean upstream (bench/upstream.py), `hogo-gateway serve` twice as real processes
(the lean path, the default; and HOGO_PROVISION_ON_AIOHTTP=1, the old path, on its own Redis
database), the bare aiohttp proxy (bench/bare_proxy.py) and the bare lean pass-through
(bench/lean_proxy.py). For each scenario (only unflagged subjects; then 1 % of them flagged) each
round drives every row in turn with wrk at saturation; then every row again open-loop at a quarter
of the lean gateway's saturation rate. The summary gives per row the median req/s, the median of
the rounds' ratios to the bare aiohttp proxy of the same round, CPU µs per request (from /proc),
and the p50/p99 each row adds to the upstream called directly at the same rate.
See docs/performance.md for the numbers and the layout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis

from bench.procs import (
    PYTHON,
    Processes,
    Service,
    free_port,
    machine_busy_seconds,
    machine_info,
    start_redis,
)
from gateway.directory_import import import_pairs
from gateway.eventloop import chosen

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("gateway", "old", "compare", "bare", "lean", "upstream")
LABELS = {
    "gateway": "gateway, lean path",
    "old": "gateway on aiohttp (old path)",
    "compare": "gateway (--compare)",
    "bare": "bare aiohttp proxy",
    "lean": "bare lean pass-through",
    "upstream": "upstream direct",
}
GATEWAYS = ("gateway", "old", "compare")  # rows that are a gateway (their outcomes are checked)
REQUESTER = "1310000000000001"


@dataclass
class Run:
    scenario: str
    mode: str  # saturation | open-loop
    target: str
    round: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: dict[str, float] = field(default_factory=dict)  # CPU µs per request, by process
    others_pct: float = 0.0  # share of the machine's cores used by processes not ours
    outcomes: dict[str, int] = field(default_factory=dict)
    rate: float = 0.0
    rewrites: int = 0  # Redis AOF rewrites (forks) that began during the measured run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# -- set-up ------------------------------------------------------------------------------------
async def load_data(data_dir: Path, redis_url: str, residents: int, flagged: int) -> None:
    """Requester, directory and flags, through the gateway's own store code."""
    from gateway.context import open_gateway
    from gateway.demo import flag_resident
    from gateway.settings import Settings
    from gateway.simulator import synthetic_residents

    gw = await open_gateway(Settings(data_dir=data_dir, store_timeout=30.0), redis_url)
    try:
        await gw.requesters.add(REQUESTER, "見本市 子ども家庭課", "bench")
        # rights are deny-by-default (issue 7): without this every query is refused, unmeasured
        await gw.requesters.grant(REQUESTER, "JM00000000000001", [], "bench")
        people = list(synthetic_residents(residents))
        pairs = ((p.atena_number, p.subject_code) for p in people)
        await import_pairs(gw.directory, gw.events, pairs, "bench")
        for p in people[:flagged]:
            await flag_resident(gw, p, actor="bench")
    finally:
        await gw.close()


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_get(url + "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} never became ready")


def outcomes(url: str) -> dict[str, int]:
    """hogo_queries_total by outcome and hogo_faults_total by code, from /metrics (all workers)."""
    _, text = http_get(url + "/metrics")
    out: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("hogo_queries_total{"):
            label = line.split('outcome="', 1)[1].split('"', 1)[0]
        elif line.startswith("hogo_faults_total{"):  # which fault: e.g. TEMPORARILY_UNAVAILABLE
            label = "fault " + line.split('code="', 1)[1].split('"', 1)[0]
        else:
            continue
        out[label] = out.get(label, 0) + int(float(line.rsplit(" ", 1)[1]))
    return out


# -- one run -----------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, services: dict[str, Service], cpus: str | None):
        self.args = args
        self.services = services
        self.cpus = cpus  # where the load generator runs
        self.runs: list[Run] = []
        self.tag = secrets.token_hex(3)
        self.seq = 0
        self._client: redis.Redis | None = None  # the bench's Redis, for its housekeeping

    def url(self, target: str) -> str:
        return self.services[target].url + "/soap/provision"

    def _load_cmd(self, target: str, scenario: str, seconds: float, rate: float) -> list[str]:
        self.seq += 1
        prefix = f"B{self.tag}-{self.seq}"
        mix = scenario == "flagged"
        residents, flagged = self.args.residents, self.args.flagged_count
        if rate or self.args.load == "python":
            cmd = [
                PYTHON, "-m", "bench.load", self.url(target),
                "--duration", str(seconds), "--warmup", str(self.args.warmup),
                "--prefix", prefix, "--residents", str(residents), "--flagged", str(flagged),
                "--loop", self.args.loop,
            ]  # fmt: skip
            cmd += ["--rate", str(rate)] if rate else ["--connections", str(self.args.connections)]
            return cmd + (["--mix"] if mix else [])
        return [
            "wrk", "-t1", f"-c{self.args.connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(ROOT / "bench" / "submit.lua"), self.url(target), "--",
            prefix, str(residents), str(flagged), "1" if mix else "0",
        ]  # fmt: skip

    def _drive(self, cmd: list[str]) -> dict[str, float]:
        if self.cpus:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"load generator failed: {done.stderr or done.stdout}")
        return json.loads(lines[-1])

    def _store(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis(port=self.services["redis"].port, socket_timeout=60)
        return self._client

    def _rewrite_first(self) -> None:
        """Redis's AOF rewrite (a fork, then the whole data set written beside the fsyncs
        `appendfsync always` waits on) stalls every store call for a few seconds; it starts by
        itself whenever the file has doubled, i.e. every 15-25 s at the gateway's saturation, in
        whichever row is running then. Measured 2026-12-04: a rewrite inside an open-loop run
        took the lean gateway's p99 from ~6 ms to 100-290 ms. So each gateway row starts with a
        rewrite just done (the same state of the store for every row), and a rewrite that still
        begins during a run is counted in its row (column "AOF rewrites")."""
        r = self._store()

        def busy() -> bool:
            info = r.info("persistence")
            return bool(info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled"))

        while busy():
            time.sleep(0.1)
        r.bgrewriteaof()
        time.sleep(0.1)
        while busy():
            time.sleep(0.1)

    def _forks(self) -> int:
        return int(self._store().info("stats").get("total_forks", 0))

    def run(self, target: str, scenario: str, mode: str, rnd: int, rate: float = 0.0) -> Run:
        a = self.args
        if mode == "saturation" and a.load == "wrk" and a.warmup:
            self._drive(self._load_cmd(target, scenario, a.warmup, 0))  # warm-up, discarded
        if target in GATEWAYS:
            self._rewrite_first()
        forks_before = self._forks()
        gw_url = self.services[target].url
        before_outcomes = outcomes(gw_url) if target in GATEWAYS else {}
        cpu_before = {name: s.cpu() for name, s in self.services.items()}
        busy_before = machine_busy_seconds()
        children_before = os.times().children_user + os.times().children_system
        started = time.monotonic()
        res = self._drive(self._load_cmd(target, scenario, a.duration, rate))
        wall = time.monotonic() - started
        busy = machine_busy_seconds() - busy_before
        children = os.times().children_user + os.times().children_system - children_before
        cpu = {name: s.cpu() - cpu_before[name] for name, s in self.services.items()}
        n = max(1, int(res["requests"]))
        ours = sum(cpu.values()) + children
        cores = os.cpu_count() or 1
        run = Run(
            scenario=scenario,
            mode=mode,
            target=target,
            round=rnd,
            requests=int(res["requests"]),
            seconds=res["duration_us"] / 1e6,
            p50_ms=res["p50"] / 1000,
            p99_ms=res["p99"] / 1000,
            errors=int(
                res["connect_errors"]
                + res["read_errors"]
                + res["write_errors"]
                + res["status_errors"]
                + res["timeouts"]
            ),
            cpu_us={name: v * 1e6 / n for name, v in cpu.items() if v > 0},
            others_pct=max(0.0, (busy - ours) / (wall * cores) * 100),
            rate=rate,
            rewrites=self._forks() - forks_before,
        )
        run.cpu_us["loadgen"] = children * 1e6 / n
        if target in GATEWAYS:
            after = outcomes(gw_url)
            run.outcomes = {k: after.get(k, 0) - before_outcomes.get(k, 0) for k in after}
            # Only provided and held are the automatic path; anything else (refused, a fault)
            # means the run measured something cheaper or broken: count it as errors, loudly.
            # ("fault CODE" repeats "fault" by code)
            wrong = sum(
                v
                for k, v in run.outcomes.items()
                if k not in ("provided", "held") and not k.startswith("fault ")
            )
            if wrong:
                run.errors += wrong
                print(
                    f"# WARNING: {wrong} gateway answers were neither provided nor held", flush=True
                )
        self.runs.append(run)
        print(row(run), flush=True)
        return run


# -- reporting ---------------------------------------------------------------------------------
HEADER = (
    "| scenario | load | row | round | req/s | p50 ms | p99 ms | errors | CPU µs/req: SUT · "
    "upstream · redis · load gen | others' CPU | AOF rewrites | outcomes |\n"
    "|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---|"
)


def row(r: Run) -> str:
    sut = r.cpu_us.get(r.target if r.target != "upstream" else "upstream", 0.0)
    cpu = " · ".join(
        f"{v:.0f}"
        for v in (
            sut,
            r.cpu_us.get("upstream", 0.0),
            r.cpu_us.get("redis", 0.0),
            r.cpu_us.get("loadgen", 0.0),
        )
    )
    load = "saturation" if r.mode == "saturation" else f"{r.rate:.0f}/s open"
    outs = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items()) if v)
    return (
        f"| {r.scenario} | {load} | {LABELS[r.target]} | {r.round} | {r.rps:.0f} | "
        f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {cpu} | {r.others_pct:.0f} % | {r.rewrites} | {outs} |"
    )


def summary(runs: list[Run], scenarios: list[str]) -> list[str]:
    """Per scenario and row: median req/s, the median of the rounds' ratios to the bare aiohttp
    proxy of the same round, CPU µs per request of the process under test, and in the open-loop
    runs the p50/p99 added to the upstream's own (called directly at the same rate)."""
    out = [
        "",
        "| scenario | row | req/s | ratio to bare aiohttp proxy (median of rounds, range) | "
        "CPU µs/req | open-loop rate | p50 ms | p99 ms | added p50 ms | added p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for sc in scenarios:
        sat = [r for r in runs if r.scenario == sc and r.mode == "saturation"]
        opened = [r for r in runs if r.scenario == sc and r.mode == "open-loop"]

        def med(rs: list[Run], target: str, attr: str) -> float:
            vals = [getattr(r, attr) for r in rs if r.target == target]
            return statistics.median(vals) if vals else float("nan")

        for target in dict.fromkeys(r.target for r in sat):
            ratios = [
                r.rps / b.rps
                for r in sat
                for b in sat
                if r.target == target and b.target == "bare" and b.round == r.round and b.rps
            ]
            ratio = statistics.median(ratios) if ratios else float("nan")
            spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
            cpus = [r.cpu_us.get(target, 0.0) for r in sat if r.target == target]
            rate = next((r.rate for r in opened), 0.0)
            p50, p99 = med(opened, target, "p50_ms"), med(opened, target, "p99_ms")
            up50, up99 = med(opened, "upstream", "p50_ms"), med(opened, "upstream", "p99_ms")
            out.append(
                f"| {sc} | {LABELS[target]} | {med(sat, target, 'rps'):.0f} | "
                f"**{ratio:.2f}**{spread} | {statistics.median(cpus) if cpus else 0:.0f} | "
                f"{rate:.0f}/s | {p50:.2f} | {p99:.2f} | "
                + (f"{p50 - up50:.2f} | {p99 - up99:.2f} |" if target != "upstream" else "– | – |")
            )
    return out


def start_stack(
    a: argparse.Namespace, tmp: Path, procs: Processes, sut_cpus: str | None, rest_cpus: str | None
) -> dict[str, Service]:
    """Redis with the bench's data, the upstream, the gateway and the bare proxy, all ready."""
    redis_svc, redis_url = start_redis(procs, tmp / "redis", a.fsync, rest_cpus)
    asyncio.run(load_data(tmp / "data", redis_url, a.residents, a.flagged_count))
    up_port, gw_port, bare_port = free_port(), free_port(), free_port()
    upstream = procs.start(
        "upstream",
        [PYTHON, "-m", "bench.upstream", "--port", str(up_port), "--loop", a.loop],
        up_port,
        cpus=rest_cpus,
    )
    upstream_url = upstream.url + "/provision"
    env = {"HOGO_EVENT_LOOP": a.loop}
    if getattr(a, "provision_on_aiohttp", False):
        env["HOGO_PROVISION_ON_AIOHTTP"] = "1"  # bench/profile.py's old path
    gw_cmd = [
        PYTHON, "-m", "gateway", "serve", "--redis-url", redis_url,
        "--data-dir", str(tmp / "data"), "--upstream-url", upstream_url,
        "--port", str(gw_port),
    ]  # fmt: skip
    if a.workers > 1:
        gw_cmd += ["--workers", str(a.workers)]
    gateway = procs.start(
        "gateway", gw_cmd, gw_port, cpus=sut_cpus, env=env, log=tmp / "gateway.log"
    )
    wait_ready(gateway.url)
    bare_cmd = [
        PYTHON, "-m", "bench.bare_proxy", "--port", str(bare_port),
        "--upstream-url", upstream_url, "--loop", a.loop,
    ]  # fmt: skip
    bare = procs.start("bare", bare_cmd, bare_port, cpus=sut_cpus)
    services = {"gateway": gateway, "bare": bare, "upstream": upstream, "redis": redis_svc}
    only = a.only.split(",")
    if "lean" in only:
        port = free_port()
        lean_cmd = [
            PYTHON, "-m", "bench.lean_proxy", "--port", str(port),
            "--upstream-url", upstream_url, "--loop", a.loop,
        ]  # fmt: skip
        services["lean"] = procs.start("lean", lean_cmd, port, cpus=sut_cpus)
    if "old" in only:
        # The same gateway with HOGO_PROVISION_ON_AIOHTTP=1 (provision and the upstream on
        # aiohttp, as before issue 14).
        services["old"] = _another_gateway(
            a, "old", 2, redis_url, upstream_url, tmp, sut_cpus,
            env={**env, "HOGO_PROVISION_ON_AIOHTTP": "1"}, procs=procs,
        )  # fmt: skip
    if a.compare:
        # The same gateway command from another source tree (e.g. a checkout of main).
        services["compare"] = _another_gateway(
            a, "compare", 1, redis_url, upstream_url, tmp, sut_cpus,
            env={**env, "PYTHONPATH": str(a.compare)}, procs=procs, cwd=a.compare,
        )  # fmt: skip
    return services


def _another_gateway(
    a: argparse.Namespace,
    name: str,
    db: int,
    redis_url: str,
    upstream_url: str,
    tmp: Path,
    cpus: str | None,
    *,
    env: dict[str, str],
    procs: Processes,
    cwd: Path | None = None,
) -> Service:
    """A second `hogo-gateway serve` row, on its own Redis database and data dir, so that each
    gateway seals only its own events."""
    url = redis_url.rsplit("/", 1)[0] + f"/{db}"
    asyncio.run(load_data(tmp / f"data-{name}", url, a.residents, a.flagged_count))
    port = free_port()
    cmd = [
        PYTHON, "-m", "gateway", "serve", "--redis-url", url,
        "--data-dir", str(tmp / f"data-{name}"), "--upstream-url", upstream_url,
        "--port", str(port),
    ]  # fmt: skip
    if a.workers > 1 and name == "old":
        cmd += ["--workers", str(a.workers)]
    service = procs.start(name, cmd, port, cpus=cpus, env=env, log=tmp / f"{name}.log", cwd=cwd)
    wait_ready(service.url)
    return service


def save(
    out: Path,
    started_at: datetime,
    info: dict[str, str],
    a: argparse.Namespace,
    runs: list[Run],
    lines: list[str],
) -> None:
    """The run's results as JSON (bench/results/ by default), and where they went."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "started_at": started_at.isoformat(),
                "machine": info,
                "args": {k: str(v) for k, v in vars(a).items()},
                "runs": [r.__dict__ | {"rps": r.rps} for r in runs],
                "summary": lines,
            },
            indent=1,
            ensure_ascii=False,
        )
    )
    print(f"# results: {out}", flush=True)


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load first")
    p.add_argument("--rounds", type=int, default=2, help="A B C rounds per scenario")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--residents", type=int, default=10_000, help="subjects in the directory")
    p.add_argument("--flagged-share", type=float, default=0.01)
    p.add_argument("--scenarios", default="unflagged,flagged")
    p.add_argument("--fsync", choices=["always", "everysec"], default="always")
    p.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    p.add_argument(
        "--layout",
        choices=["pinned", "shared"],
        default=None,
        help="pinned: gateway or proxy alone on CPU 1, the rest on CPU 0 (default with 1 worker)",
    )
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--load", choices=["wrk", "python"], default=None)
    p.add_argument("--no-half-load", action="store_true", help="saturation runs only")
    p.add_argument("--only", default="gateway,old,bare,lean,upstream", help="rows to run")
    p.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="source tree of another gateway (e.g. a checkout of main) to run as an extra row",
    )
    p.add_argument("--quick", action="store_true", help="a smoke run: 3 s, one round")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default bench/results/)")
    p.add_argument("--keep", action="store_true", help="leave the processes' files for a look")
    a = p.parse_args(argv)
    if a.compare:
        a.compare = a.compare.resolve()
    if a.quick:
        a.duration, a.warmup, a.rounds = 3.0, 1.0, 1
    if a.load is None:
        a.load = "wrk" if shutil.which("wrk") else "python"
    if a.layout is None:
        a.layout = "pinned" if a.workers == 1 and (os.cpu_count() or 1) >= 2 else "shared"
    a.flagged_count = max(1, round(a.residents * a.flagged_share))
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.load == "python":
        print("note: wrk not found (apt-get install wrk); using bench/load.py", file=sys.stderr)
    sut_cpus, rest_cpus = ("1", "0") if a.layout == "pinned" else (None, None)
    scenarios = a.scenarios.split(",")
    targets = [t for t in TARGETS if t in a.only.split(",") or (t == "compare" and a.compare)]
    tmp = Path(tempfile.mkdtemp(prefix="hogo-bench-"))
    procs = Processes()
    info = machine_info()
    started_at = datetime.now(UTC)
    print(
        f"# hogo-gateway benchmark {started_at:%Y-%m-%d %H:%M} UTC — {info['nproc']} CPUs "
        f"({info['cpu']}), Python {info['python']}, Redis {info['redis']}, wrk {info['wrk']}, "
        f"load {Path('/proc/loadavg').read_text().split()[0]}",
        flush=True,
    )
    print(
        f"# appendfsync {a.fsync}; {a.workers} gateway worker(s); layout {a.layout}; "
        f"event loop {chosen(a.loop)}; load generator {a.load}, {a.connections} connections; "
        f"{a.residents} residents, {a.flagged_count} flagged; {a.duration:.0f} s runs",
        flush=True,
    )
    try:
        services = start_stack(a, tmp, procs, sut_cpus, rest_cpus)
        bench = Bench(a, services, rest_cpus)
        print(HEADER, flush=True)
        for sc in scenarios:
            for rnd in range(1, a.rounds + 1):
                for t in targets:
                    bench.run(t, sc, "saturation", rnd)
            if a.no_half_load or "gateway" not in targets:
                continue
            sat = [r for r in bench.runs if r.scenario == sc and r.mode == "saturation"]
            # Latency at a quarter of the gateway's saturation (issue 14), every row at the
            # same rate: what each adds is read against the upstream called directly.
            gw_rps = statistics.median([r.rps for r in sat if r.target == "gateway"] or [0])
            rate = round(gw_rps / 4)
            for rnd in range(1, a.rounds + 1):
                for t in targets:
                    bench.run(t, sc, "open-loop", rnd, rate=rate)
        lines = summary(bench.runs, scenarios)
        print("\n".join(lines), flush=True)
        out = a.out or ROOT / "bench" / "results" / f"{started_at:%Y%m%dT%H%M%S}-{a.fsync}.json"
        save(out, started_at, info, a, bench.runs, lines)
        return 0
    except Exception:
        log = tmp / "gateway.log"
        if log.exists():
            print(log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        procs.stop_all()
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"# kept {tmp}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
