"""`hogo-gateway serve --workers N`: N gateway processes behind one port, sharing one store.

The parent owns the embedded Redis (when there is no --redis-url) and serves nothing itself: it
starts N workers, each a complete `hogo-gateway serve` run with the same arguments and its own
listening socket on the same port (SO_REUSEPORT: the kernel spreads connections across them),
restarts a worker that dies, and on SIGTERM or SIGINT stops them all before it stops the store.
Every safety step is an atomic Lua script in the shared store, so N processes decide exactly as
one does.

A listener asked for port 0 gets its port from the supervisor: it binds a socket there with
SO_REUSEPORT (and never listens on it, so the kernel gives it no connection), keeps it for its
lifetime so that the port stays theirs, and tells the workers (`HOGO_WORKER_PORTS`), which all
bind that one port.

Workers are fresh interpreters (not forks) so that each can turn on prometheus-client's
multiprocess mode before any metric exists: counters of all workers, living or dead, add up in
/metrics whichever worker answers the scrape, and never go back when a worker is replaced.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.children import METRICS_ENV, PORTS_ENV, WORKER_ENV, die_with_parent
from gateway.settings import Settings
from gateway.verify import process as checker_process
from gateway.verify.process import Checker

log = logging.getLogger("hogo.workers")

STOP_GRACE_SECONDS = 30.0
FAST_EXIT_SECONDS = 5.0  # a worker that dies sooner than this did not really start
MAX_FAST_EXITS = 5  # in a row, for one slot: the workers cannot start (port taken, bad config)


def in_worker() -> bool:
    """True in a worker process started by `supervise`."""
    return os.environ.get(WORKER_ENV) == "1"


def count(given: int | None) -> int:
    """How many workers: --workers, else HOGO_WORKERS, else 1."""
    raw = given if given is not None else os.environ.get("HOGO_WORKERS", "1")
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(
            f"--workers (HOGO_WORKERS) must be a whole number of at least 1, not {raw!r}"
        )
    return n


def wanted(count: int | None) -> bool:
    """Whether this `serve` should supervise workers rather than serve by itself."""
    return (count or 1) > 1 and not in_worker()


def reserve_ports(settings: Settings) -> tuple[list[socket.socket], dict[str, int]]:
    """A port for every listener asking for port 0, bound (SO_REUSEPORT, not listening) by the
    supervisor to keep it; the caller closes the sockets when the workers are gone."""
    held: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        for listener in settings.listeners():
            if listener.port:
                continue
            info = socket.getaddrinfo(listener.host, 0, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(info[0], socket.SOCK_STREAM)
            held.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(info[4])
            ports[listener.name] = sock.getsockname()[1]
    except BaseException:
        for sock in held:
            sock.close()
        raise
    return held, ports


def with_reserved_ports(settings: Settings) -> Settings:
    """In a worker: the settings with the ports the supervisor reserved in place of port 0."""
    ports: dict[str, int] = json.loads(os.environ.get(PORTS_ENV) or "{}") if in_worker() else {}
    if not ports:
        return settings
    return dataclasses.replace(
        settings,
        port=ports.get("main", settings.port),
        separate_listeners=tuple(
            dataclasses.replace(listener, port=ports.get(listener.name, listener.port))
            for listener in settings.separate_listeners
        ),
    )


@dataclass
class _Worker:
    slot: int
    proc: subprocess.Popen[bytes]
    started: float
    fast_exits: int = 0


class Supervisor:
    def __init__(
        self, count: int, argv: list[str], redis_url: str, ports: dict[str, int] | None = None
    ) -> None:
        self.count = count
        self.argv = argv
        self.redis_url = redis_url
        self.ports = ports or {}
        self.metrics_dir = Path(tempfile.mkdtemp(prefix="hogo-metrics-"))
        self.stopping = False
        self.workers: list[_Worker] = []
        # one flag state checker for the host, not one per worker (gateway/verify/process.py)
        self.checker: Checker | None = None

    def _spawn(self, slot: int, fast_exits: int = 0) -> _Worker:
        env = {
            **os.environ,
            WORKER_ENV: "1",
            METRICS_ENV: str(self.metrics_dir),
            # in the environment, not on the command line, where `ps` would show its password
            "HOGO_REDIS_URL": self.redis_url,
            PORTS_ENV: json.dumps(self.ports),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", *self.argv],
            env=env,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        return _Worker(slot, proc, time.monotonic(), fast_exits)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            self.workers = [self._spawn(i) for i in range(self.count)]
            print(
                f"hogo-gateway: {self.count} workers "
                f"(pids {', '.join(str(w.proc.pid) for w in self.workers)}); supervisor pid "
                f"{os.getpid()}",
                flush=True,
            )
            if self.checker is not None:
                self.checker.tend()
            while not self.stopping:
                time.sleep(0.2)
                if (failed := self._replace_dead()) is not None:
                    return failed
                if self.checker is not None and not self.stopping:
                    self.checker.tend()
            return 0
        finally:
            if self.checker is not None:
                self.checker.stop()
            self._stop_all()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _replace_dead(self) -> int | None:
        from prometheus_client import multiprocess

        for i, w in enumerate(self.workers):
            code = w.proc.poll()
            if code is None or self.stopping:
                continue
            multiprocess.mark_process_dead(w.proc.pid, str(self.metrics_dir))
            lived = time.monotonic() - w.started
            fast = w.fast_exits + 1 if lived < FAST_EXIT_SECONDS else 0
            if fast >= MAX_FAST_EXITS:
                print(
                    f"hogo-gateway: error: worker {w.slot} exited {fast} times in a row right "
                    "after starting; stopping",
                    file=sys.stderr,
                )
                return 1
            log.warning("worker %d (pid %d) exited with %s; restarting", w.slot, w.proc.pid, code)
            time.sleep(min(5.0, 0.1 * 2**fast) if fast else 0)
            self.workers[i] = self._spawn(w.slot, fast)
        return None

    def _stop_all(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for w in self.workers:
            try:
                w.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop in time; killing it", w.slot)
                w.proc.kill()
                w.proc.wait()


def supervise(count: int, argv: list[str], redis_url: str, settings: Settings) -> int:
    """Run `count` workers serving `hogo-gateway <argv>` until SIGTERM/SIGINT; the exit status."""
    held, ports = reserve_ports(settings)
    try:
        supervisor = Supervisor(count, argv, redis_url, ports)
        if checker_process.wanted(settings):
            supervisor.checker = Checker(argv, redis_url, supervisor.metrics_dir)
        return supervisor.run()
    finally:
        for sock in held:
            sock.close()
