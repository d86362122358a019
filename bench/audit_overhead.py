"""What the audit trail costs the automatic path: requests/s with the audit on vs off, same run.

Starts its own redis-server (append-only, fsync always, as deployed), the simulated upstream
(gateway/simulator.py) in its own process, and two gateways on loopback: A with the audit on
(emit + the sealer chaining and signing, in the same process), B with it off (HOGO_AUDIT_ENABLED=0),
each on its own Redis database. Then drives them alternately, A B A B ..., with the same load from
a separate process (wrk: SubmitQuery for unflagged residents, every request a new processing
number, so each one is a full admit -> upstream -> complete), and prints requests/s for each round
and the median of the per-pair ratios on/off. At the end it checks that A's trail verifies and
holds every request, and that B recorded nothing.

    python bench/audit_overhead.py [--rounds 5] [--seconds 10] [--connections 32]

Needs redis-server and wrk on PATH. The ratio, not the absolute numbers, is the result: the
machine may be shared, so rounds alternate and the median is taken.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUESTER = "1310000000000001"
AFFAIR = "JM00000000000001"
RESIDENTS = 200

UPSTREAM = """
import sys
from aiohttp import web
from gateway.simulator import Simulator
sim = Simulator.with_residents(int(sys.argv[2]), record_calls=False)
web.run_app(sim.app(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

# wrk: each request a SubmitQuery with a processing number never used before
WRK_SCRIPT = """
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end
function init(args)
  prefix = args[1]
  counter = 0
end
function request()
  counter = counter + 1
  local pn = prefix .. "-" .. tid .. "-" .. counter
  local subject = string.format("SIM%%013d", (counter %% %(residents)d) + 1)
  local body = '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    .. '<q:SubmitQueryRequest xmlns:q="urn:hogo-gateway:provision:1">'
    .. '<q:processingNumber>' .. pn .. '</q:processingNumber>'
    .. '<q:requesterOrgCode>%(requester)s</q:requesterOrgCode>'
    .. '<q:affairCode>JM00000000000001</q:affairCode><q:procedureCode>JT00000000000001</q:procedureCode>'
    .. '<q:itemCode>TM00000000000001</q:itemCode><q:subjectCode>' .. subject .. '</q:subjectCode>'
    .. '<q:requestedAt>2026-11-26T10:00:00+09:00</q:requestedAt></q:SubmitQueryRequest>'
    .. '</soap:Body></soap:Envelope>'
  return wrk.format("POST", "/soap/provision", {["Content-Type"] = "text/xml; charset=utf-8"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return float("nan")


class Bench:
    def __init__(self, work: Path, fsync: str) -> None:
        self.work = work
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pids: dict[str, int] = {}
        self.redis_port = free_port()
        self.spawn(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--dir", str(work), "--appendonly", "yes", "--appendfsync", fsync,
                "--save", "", "--daemonize", "no",
            ],
            "redis",
        )  # fmt: skip
        self.upstream_port = free_port()
        self.spawn(
            [sys.executable, "-c", UPSTREAM, str(self.upstream_port), str(RESIDENTS)], "upstream"
        )
        time.sleep(0.5)
        wait_http(f"http://127.0.0.1:{self.upstream_port}/")

    def spawn(self, cmd: list[str], name: str, env: dict[str, str] | None = None) -> None:
        log = (self.work / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **(env or {})}
        )
        self.procs.append(proc)
        self.pids[name] = proc.pid

    def hogo(self, data: Path, db: int, *args: str, env: dict[str, str] | None = None) -> str:
        res = subprocess.run(
            [
                sys.executable, "-m", "gateway", "--data-dir", str(data),
                "--redis-url", f"redis://127.0.0.1:{self.redis_port}/{db}", *args,
            ],
            capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})},
            timeout=600,
        )  # fmt: skip
        if res.returncode != 0:
            raise SystemExit(f"hogo-gateway {' '.join(args)} failed: {res.stderr.strip()}")
        return res.stdout

    def gateway(self, name: str, db: int, audit: bool) -> str:
        data = self.work / name
        csv = self.work / "residents.csv"
        if not csv.exists():
            csv.write_text(
                "atena_number,subject_code\n"
                + "".join(
                    f"{900000000000000 + i:015d},SIM{i:013d}\n" for i in range(1, RESIDENTS + 1)
                )
            )
        env = {"HOGO_AUDIT_ENABLED": "1" if audit else "0"}
        self.hogo(data, db, "requesters", "add", REQUESTER, "--name", "bench", env=env)
        self.hogo(data, db, "requesters", "grant", REQUESTER, "--affair", AFFAIR, env=env)
        self.hogo(data, db, "directory", "import", str(csv), env=env)
        port = free_port()
        self.spawn(
            [
                sys.executable, "-m", "gateway", "serve", "--data-dir", str(data),
                "--redis-url", f"redis://127.0.0.1:{self.redis_port}/{db}",
                "--upstream-url", f"http://127.0.0.1:{self.upstream_port}/", "--port", str(port),
            ],
            name,
            env=env,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz")
        return url

    def load(self, url: str, prefix: str, seconds: float, connections: int) -> tuple[float, int]:
        script = self.work / "audit_submit.lua"
        if not script.exists():
            script.write_text(WRK_SCRIPT % {"residents": RESIDENTS, "requester": REQUESTER})
        res = subprocess.run(
            [
                "wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s",
                "-s", str(script), url, "--", prefix,
            ],
            capture_output=True, text=True, timeout=seconds + 60,
        )  # fmt: skip
        rate = re.search(r"Requests/sec:\s+([\d.]+)", res.stdout)
        if rate is None:
            raise SystemExit(f"wrk failed: {res.stdout}{res.stderr}")
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", res.stdout)
        sockets = re.search(r"Socket errors:([^\n]*)", res.stdout)
        errors = int(bad.group(1)) if bad else 0
        errors += sum(int(n) for n in re.findall(r"\d+", sockets.group(1))) if sockets else 0
        return float(rate.group(1)), errors

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="A/B pairs (default 5)")
    ap.add_argument("--seconds", type=float, default=10, help="per round (default 10)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--fsync", choices=["always", "everysec"], default="always")
    args = ap.parse_args()
    for tool in ("redis-server", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    work = Path(tempfile.mkdtemp(prefix="hogo-audit-bench-"))
    bench = Bench(work, args.fsync)
    try:
        on = bench.gateway("audit_on", 0, audit=True)
        off = bench.gateway("audit_off", 1, audit=False)
        print(f"cpus {os.cpu_count()}  load average {os.getloadavg()[0]:.2f} at start", flush=True)
        for url, name in ((on, "warm-on"), (off, "warm-off")):
            bench.load(url, name, 3, args.connections)
        rows: list[dict[str, float]] = []
        for r in range(1, args.rounds + 1):
            pair: dict[str, float] = {}
            for url, label, name in ((on, "on", "audit_on"), (off, "off", "audit_off")):
                watched = (bench.pids[name], bench.pids["redis"])
                cpu_before = [cpu_seconds(pid) for pid in watched]
                rate, bad = bench.load(url, f"R{r}{label}", args.seconds, args.connections)
                cpu = [cpu_seconds(pid) - b for pid, b in zip(watched, cpu_before, strict=True)]
                done = max(rate * args.seconds, 1)
                unsealed = metric(on, "hogo_audit_unsealed_events")
                pair[label] = rate
                pair[f"{label}_cpu"] = (cpu[0] + cpu[1]) / done * 1e6
                print(
                    f"round {r}  audit {label:<3}  {rate:8.1f} req/s  errors {bad}  CPU per "
                    f"request: gateway {cpu[0] / done * 1e6:5.0f} us, redis "
                    f"{cpu[1] / done * 1e6:4.0f} us  (A unsealed right after: {unsealed:.0f})",
                    flush=True,
                )
            rows.append(pair)
        ratios = [p["on"] / p["off"] for p in rows]
        print()
        print(f"median audit on  {statistics.median(p['on'] for p in rows):8.1f} req/s")
        print(f"median audit off {statistics.median(p['off'] for p in rows):8.1f} req/s")
        print(f"per-pair ratios on/off: {', '.join(f'{x:.3f}' for x in ratios)}")
        print(f"MEDIAN RATIO on/off: {statistics.median(ratios):.3f}")
        cpu_on = statistics.median(p["on_cpu"] for p in rows)
        cpu_off = statistics.median(p["off_cpu"] for p in rows)
        print(
            f"median CPU per request (gateway + redis): on {cpu_on:.0f} us, off {cpu_off:.0f} us "
            f"(x{cpu_on / cpu_off:.3f}; less sensitive to other load on the machine than req/s)"
        )
        print(f"load average {os.getloadavg()[0]:.2f} at end")
        time.sleep(1)
        report = json.loads(bench.hogo(work / "audit_on", 0, "audit", "verify", "--json"))
        print(
            f"audit-on trail: {'whole' if report['ok'] else 'BROKEN'}, {report['events']} events "
            f"sealed, {report.get('unsealed', 0)} unsealed"
        )
        off_events = bench.hogo(
            work / "audit_off", 1, "audit", "verify", "--json", env={"HOGO_AUDIT_ENABLED": "0"}
        )
        print(f"audit-off trail: {json.loads(off_events)['events']} events")
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
