"""The audit trail's background work in a gateway process, and what it shows in /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from gateway import metrics
from gateway.audit.archiver import Archiver
from gateway.audit.sealer import Sealer
from gateway.context import Gateway

log = logging.getLogger("hogo.audit")


def start(gw: Gateway) -> list[asyncio.Task[None]]:
    """The sealer (and the archiver, where this process may archive); none with the audit off."""
    if not gw.settings.audit_enabled:
        log.warning(
            "AUDIT TRAIL OFF: no event is recorded (HOGO_AUDIT_ENABLED=0, for benchmarks only)"
        )
        return []
    tasks = [asyncio.create_task(Sealer(gw.trail, gw.keyring, gw.settings).run_forever())]
    if gw.settings.audit_archive:
        tasks.append(asyncio.create_task(Archiver(gw.trail, gw.settings).run_forever()))
    return tasks


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def update_metrics(gw: Gateway) -> None:
    """Sealing lag and trail position, read from the store when /metrics is scraped."""
    status = await gw.trail.status()
    metrics.AUDIT_UNSEALED.set(status.unsealed)
    lag = 0.0
    if status.oldest_unsealed_ms is not None:
        lag = max(0.0, time.time() - status.oldest_unsealed_ms / 1000)
    metrics.AUDIT_SEAL_LAG.set(lag)
    metrics.AUDIT_SEALED_SEQ.set(status.head.seq)
    metrics.AUDIT_STORED.set(status.stored)
    metrics.AUDIT_ARCHIVED_SEQ.set(status.head.archived_seq)
