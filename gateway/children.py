"""What the processes `hogo-gateway serve` starts (workers, the flag state checker) have in
common: the environment that tells them what they are, and dying with their parent."""

from __future__ import annotations

import ctypes
import signal

WORKER_ENV = "HOGO_WORKER"  # set in workers: listen with SO_REUSEPORT, never start workers again
PORTS_ENV = "HOGO_WORKER_PORTS"  # in workers: the ports the supervisor reserved, by listener
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a killed parent leaves no orphans
    except (OSError, AttributeError):
        pass
