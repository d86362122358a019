"""The flag state check (照合) in a process of its own, started and watched by `hogo-gateway serve`.

A round folds every audit event written since the last one: at saturation some 100,000 events,
seconds of CPU. On the serving event loop that was a stretch of seconds in which every query waited
(docs/performance.md, "A latency tail"). So `serve` starts one checker process for the host (with
`--workers N` too: the supervisor starts it, not each worker), a fresh interpreter running `serve`
again with the same arguments and environment, so it reads exactly the settings and keys the
gateway does; `HOGO_CHECKER=1` makes that `serve` run `verify_forever` instead of listening.

What a killed checker leaves: nothing to mend. The fold is saved after each round (the next
holder carries on from it), the `verifier` lease lapses by its TTL, and every write the check makes
is one atomic script. The parent restarts it with a back-off (a log line, and
`hogo_checker_restarts_total` counted by the restarted checker), stops it with SIGTERM when it
stops, and a parent killed with kill -9 takes it along: PR_SET_PDEATHSIG, and the checker also
watches that its parent is still the one that started it (the signal is lost when the parent
died before the child set it).

`HOGO_VERIFY_IN_PROCESS=1` runs the check in the serving process(es) instead, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gateway import metrics
from gateway.children import METRICS_ENV, PORTS_ENV, WORKER_ENV, die_with_parent
from gateway.settings import Settings

log = logging.getLogger("hogo.checker")

CHECKER_ENV = "HOGO_CHECKER"  # "1" in the checker process
PARENT_ENV = "HOGO_CHECKER_PARENT"  # the pid that started it: gone means stop
RESTART_ENV = "HOGO_CHECKER_RESTART"  # "1" when it replaces one that died
STOP_GRACE_SECONDS = 30.0
STEADY_SECONDS = 60.0  # a checker that lived this long resets the back-off
MAX_BACKOFF_SECONDS = 30.0
NICENESS = 10  # the check is background work: on a busy core the serving process goes first


def in_checker() -> bool:
    return os.environ.get(CHECKER_ENV) == "1"


def wanted(settings: Settings) -> bool:
    """Whether `serve` should run the check in a checker process (none without an audit trail:
    there is nothing to check against)."""
    return settings.audit_enabled and not settings.verify_in_process


class Checker:
    """The parent's handle on its checker process: `tend()` (called every fraction of a second,
    it never blocks) starts it and restarts it with a back-off; `stop()` at the end."""

    def __init__(self, argv: list[str], redis_url: str, metrics_dir: Path) -> None:
        self.argv = argv
        self.redis_url = redis_url
        self.metrics_dir = metrics_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.failures = 0  # deaths in a row without a steady run
        self.next_start = 0.0
        self.starts = 0

    def _spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in (WORKER_ENV, PORTS_ENV)}
        env.update(
            {
                CHECKER_ENV: "1",
                PARENT_ENV: str(os.getpid()),
                RESTART_ENV: "1" if self.starts else "0",
                METRICS_ENV: str(self.metrics_dir),
                # in the environment, not on the command line, where `ps` would show a password
                "HOGO_REDIS_URL": self.redis_url,
            }
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", *self.argv],
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        self.started = time.monotonic()
        self.starts += 1

    def tend(self) -> None:
        now = time.monotonic()
        if self.proc is not None:
            code = self.proc.poll()
            if code is None:
                return
            from prometheus_client import multiprocess

            # its gauges (the `verifier` role) no longer count; its counters still do
            multiprocess.mark_process_dead(self.proc.pid, str(self.metrics_dir))
            lived = now - self.started
            self.failures = 0 if lived >= STEADY_SECONDS else self.failures + 1
            delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** (self.failures - 1)) if self.failures else 0
            log.warning(
                "flag state checker (pid %d) exited with %s after %.0f s; restarting in %.1f s",
                self.proc.pid,
                code,
                lived,
                delay,
            )
            self.proc = None
            self.next_start = now + delay
        if now >= self.next_start:
            self._spawn()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        """SIGTERM and wait (the round in hand is given up, the lease dropped), kill if stuck."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("flag state checker did not stop in time; killing it")
            proc.kill()
            proc.wait()


async def tend_forever(checker: Checker, every: float = 0.5) -> None:
    """In a serving process without workers: the checker kept running while it serves."""
    while True:
        checker.tend()
        await asyncio.sleep(every)


# -- in the checker process ----------------------------------------------------------------------
def _parent_gone(parent: int) -> bool:
    return parent > 0 and os.getppid() != parent


async def _check(settings: Settings, redis_url: str) -> None:
    from gateway.context import open_gateway
    from gateway.verify.tasks import verify_forever

    parent = int(os.environ.get(PARENT_ENV) or 0)
    if os.environ.get(RESTART_ENV) == "1":
        metrics.CHECKER_RESTARTS.inc()
    gw = await open_gateway(settings, redis_url)
    task = asyncio.create_task(verify_forever(gw))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set() and not task.done() and not _parent_gone(parent):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # its `finally` drops the lease, so the next checker takes over at once
        await gw.close()


def run(settings: Settings, redis_url: str) -> int:
    """The checker process's life: the check's loop until SIGTERM or its parent is gone."""
    from gateway import eventloop

    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    print(f"hogo-gateway: flag state checker pid {os.getpid()}", flush=True)
    eventloop.run(_check(settings, redis_url))
    return 0
