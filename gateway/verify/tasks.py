"""The check in a serving gateway: every process runs the loop, and the one holding the `verifier`
lease (gateway/audit/lease.py) checks, every `verify_interval_seconds`. One at a time: the check
opens reviews and records events, and its fold of the trail is kept in that process between
rounds (saved after each, so that the next holder carries on from it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway import metrics
from gateway.audit.lease import Lease
from gateway.context import Gateway
from gateway.store.redis import StoreUnavailable, cancel_requested
from gateway.verify.check import Verifier

log = logging.getLogger("hogo.verify")


async def verify_forever(gw: Gateway) -> None:
    lease = Lease(gw.trail, "verifier", gw.settings.audit_lease_seconds)
    verifier = Verifier(gw)
    interval = gw.settings.verify_interval_seconds
    try:
        while not cancel_requested():
            # the first round one interval after start: a gateway that restarts in a loop does
            # not fold the trail in a loop
            await asyncio.sleep(interval)
            try:
                if not await lease.hold():
                    metrics.AUDIT_ROLE.labels("verifier").set(0)
                    continue
                metrics.AUDIT_ROLE.labels("verifier").set(1)
                report = await verifier.run(lease=lease)
                if not report.ok:
                    log.warning(
                        "flag state check: %d persons and %d subjects differ from the trail; "
                        "problems: %s",
                        len(report.persons),
                        len(report.subjects),
                        "; ".join(report.problems) or "none",
                    )
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("flag state check failed")
                metrics.VERIFY_PROBLEMS.set(1)
    finally:
        metrics.AUDIT_ROLE.labels("verifier").set(0)
        with contextlib.suppress(Exception):
            await lease.drop()


def start(gw: Gateway) -> list[asyncio.Task[None]]:
    """The check's loop; none with the audit trail off (there is no trail to check against)."""
    if not gw.settings.audit_enabled:
        return []
    return [asyncio.create_task(verify_forever(gw))]
