"""Processes for the benchmark: start, pin, wait for, measure and stop them.

Everything listens on loopback. CPU time is read from /proc so that each row can say how much
processor each part spent per request, which is steadier on a shared machine than wall time.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

CLK_TCK = os.sysconf("SC_CLK_TCK")
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    """`cmd` run on the given CPU list (taskset), or as it is when not pinning."""
    if cpus is None or not shutil.which("taskset"):
        return cmd
    return ["taskset", "-c", cpus, *cmd]


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants (for workers: the parent and every child)."""
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            for child in children:
                out += tree_pids(int(child))
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process tree so far (the tree as it is now)."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    return total


def machine_busy_seconds() -> float:
    """CPU time all processes of the machine have spent (all cores), from /proc/stat."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Processes:
    """Every process the benchmark started, stopped in reverse order at the end."""

    started: list[Service] = field(default_factory=list)

    def start(
        self,
        name: str,
        cmd: list[str],
        port: int,
        *,
        cpus: str | None = None,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        cwd: Path | None = None,
    ) -> Service:
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (child keeps it)
        proc = subprocess.Popen(
            pinned(cmd, cpus),
            stdout=out,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        service = Service(name, proc, port)
        self.started.append(service)
        wait_port(port, proc)
        return service

    def stop_all(self) -> None:
        for service in reversed(self.started):
            service.stop()
        self.started.clear()


def start_redis(
    procs: Processes, directory: Path, fsync: str, cpus: str | None
) -> tuple[Service, str]:
    """A redis-server like the embedded one: append-only, `appendfsync <fsync>`, RDB snapshots."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [
        shutil.which("redis-server") or "redis-server",
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(directory),
        "--appendonly", "yes",
        "--appendfsync", fsync,
        "--save", "900 1",
        "--daemonize", "no",
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip
    service = procs.start("redis", cmd, port, cpus=cpus)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=5)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.BusyLoadingError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return service, url


def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        redis_version = (
            subprocess.run(
                ["redis-server", "--version"], capture_output=True, text=True, check=False
            )
            .stdout.split()[2]
            .removeprefix("v=")
        )
    except (OSError, IndexError):
        redis_version = "unknown"
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk_version = (wrk.stdout or wrk.stderr).split()[1]
    except (OSError, IndexError):
        wrk_version = "absent"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "redis": redis_version,
        "wrk": wrk_version,
        "kernel": platform.release(),
    }
