"""Assembles the aiohttp application: resources in cleanup_ctx, routes, background duties."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway import flag_api
from gateway.audit import tasks as audit_tasks
from gateway.context import Gateway, open_gateway
from gateway.endpoints import (
    GATEWAY,
    healthz,
    metrics_endpoint,
    portal_endpoint,
    provision_endpoint,
    readyz,
)
from gateway.listeners import ops_guard
from gateway.mail import Mailer
from gateway.settings import Settings
from gateway.staff import routes as staff_routes
from gateway.store.redis import StoreUnavailable, cancel_requested
from gateway.verify import tasks as verify_tasks

log = logging.getLogger("hogo.app")


async def sweep_interrupted(gw: Gateway) -> int:
    """Hold the queries received longer ago than `interrupted_after_seconds` (by the gateway's
    clock) and never answered: left half-done by a crashed process; how many."""
    older_than = gw.clock.now_ms() - int(gw.settings.interrupted_after_seconds * 1000)
    held = await gw.queries.sweep_interrupted(older_than)
    if held:
        log.warning("held %d interrupted queries for staff", held)
    return held


async def sweep_interrupted_forever(gw: Gateway) -> None:
    """Hold queries left half-done by a crashed process; they never go out automatically later."""
    interval = max(1.0, gw.settings.interrupted_after_seconds / 4)
    while not cancel_requested():
        try:
            await sweep_interrupted(gw)
        except StoreUnavailable:
            pass
        except Exception:
            log.exception("sweep of interrupted queries failed")
        if not cancel_requested():
            await asyncio.sleep(interval)


def build_app(
    settings: Settings, redis_url: str, gateway: Gateway | None = None, *, verify: bool = True
) -> web.Application:
    """The whole gateway as one aiohttp application (its store opened on startup). `verify`:
    run the flag state check in this process; `serve` runs it in a process of its own
    (gateway/verify/process.py) unless HOGO_VERIFY_IN_PROCESS is on."""
    # /readyz and /metrics: the ops listener's, or loopback's (whatever listens, demo included)
    app = web.Application(client_max_size=settings.max_body_bytes + 1, middlewares=[ops_guard()])

    async def resources(app: web.Application) -> AsyncIterator[None]:
        gw = gateway or await open_gateway(settings, redis_url)
        app[GATEWAY] = gw
        sweeper = asyncio.create_task(sweep_interrupted_forever(gw))
        auditing = audit_tasks.start(gw)  # sealer and archiver: one process at a time works
        if verify:  # the flag state check: one process at a time too
            auditing += verify_tasks.start(gw)
        # the holding departments told of attempts, the pattern rules, and their mails
        telling = [asyncio.create_task(gw.notices.run_forever())]
        if gw.settings.attempts.mail_on:
            telling.append(
                asyncio.create_task(Mailer(gw.redis, gw.settings.attempts).run_forever())
            )
        yield
        await audit_tasks.stop(auditing)
        for task in (sweeper, *telling):
            task.cancel()
        for task in (sweeper, *telling):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if gateway is None:
            await gw.close()

    app.cleanup_ctx.append(resources)
    app.router.add_post("/soap/provision", provision_endpoint)
    app.router.add_post("/soap/portal", portal_endpoint)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    flag_api.add_routes(app)  # /api/v1/flags...: the departments' read API
    staff_routes.mount(app)  # the staff console /staff/ and its API /api/v1/ (after `resources`)
    return app
