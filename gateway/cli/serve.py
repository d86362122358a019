"""`hogo-gateway serve`: run the gateway, on an embedded store if need be."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway import eventloop, metrics, workers
from gateway.app import build_app
from gateway.cli.common import Command, store_overrides
from gateway.listeners import check_plain_http, describe, start_listeners
from gateway.settings import SEPARABLE, Settings, SettingsError
from gateway.verify import process as checker_process

log = logging.getLogger("hogo.serve")


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="main listener's address (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=None, help="main listener's port (default 8080; 0: any free)"
    )
    p.add_argument(
        "--ready-file",
        type=Path,
        metavar="PATH",
        help="once every listener listens, write their addresses there as JSON (with port 0, "
        "how a supervisor or a test learns the ports)",
    )
    p.add_argument(
        "--insecure-http",
        action="store_true",
        default=None,
        help="allow plain HTTP on a non-loopback address (never in production)",
    )
    _tls_arguments(p, "", "the main listener")
    for service in SEPARABLE:
        p.add_argument(
            f"--{service}-listen",
            metavar="HOST:PORT",
            help=f"serve the {service} endpoints on their own listener "
            f"(HOGO_{service.upper()}_LISTEN)",
        )
        _tls_arguments(p, f"{service}-", f"the {service} listener")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gateway processes sharing the port and the store (HOGO_WORKERS, default 1)",
    )


def _tls_arguments(p: argparse.ArgumentParser, prefix: str, what: str) -> None:
    env = f"HOGO_{prefix.upper().replace('-', '_')}TLS_"
    p.add_argument(f"--{prefix}tls-cert", metavar="PEM", help=f"certificate of {what} ({env}CERT)")
    p.add_argument(f"--{prefix}tls-key", metavar="PEM", help=f"its private key ({env}KEY)")
    p.add_argument(
        f"--{prefix}tls-client-ca",
        metavar="PEM",
        help=f"require client certificates chaining to this CA ({env}CLIENT_CA)",
    )
    p.add_argument(
        f"--{prefix}tls-client-crl",
        metavar="PEM",
        help=f"revoked client certificates ({env}CLIENT_CRL)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    listener_args = {
        name: value
        for name, value in vars(args).items()
        if name.startswith(("tls_", *(f"{s}_" for s in SEPARABLE)))
    }
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        upstream_url=getattr(args, "upstream_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        insecure_http=getattr(args, "insecure_http", None),
        **store_overrides(args),
        **listener_args,
    )


async def _run_app(
    app: web.Application,
    settings: Settings,
    banner: str,
    ready_file: Path | None,
    checker: checker_process.Checker | None = None,
) -> None:
    listening = await start_listeners(app, settings, reuse_port=workers.in_worker())
    tending = None
    if checker is not None:
        checker.tend()  # started once the store answers and the listeners listen
        tending = asyncio.create_task(checker_process.tend_forever(checker))
    lines = [f"  listening on {describe(listener)}" for listener in listening.listeners]
    print("\n".join([banner, *lines]), flush=True)
    if ready_file is not None:
        listening.write_ready_file(ready_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if tending is not None:
            tending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tending
        if checker is not None:
            # (blocks this loop up to its grace: the listeners are draining anyway)
            await asyncio.to_thread(checker.stop)
        await listening.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.embedded import EmbeddedRedis

    try:
        settings = workers.with_reserved_ports(_settings(args))
    except SettingsError as exc:
        print(f"hogo-gateway: error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("hogo").setLevel(logging.INFO)
    if checker_process.in_checker():
        # a checker process started by the `serve` below: same arguments, same settings
        return checker_process.run(settings, settings.redis_url)
    if not settings.upstream_url:
        print(
            "hogo-gateway: error: --upstream-url (or HOGO_UPSTREAM_URL) is required",
            file=sys.stderr,
        )
        return 2
    refusal = check_plain_http(settings)
    if refusal:
        print(f"hogo-gateway: error: {refusal}", file=sys.stderr)
        return 2
    if not settings.audit_enabled:
        print(
            "hogo-gateway: WARNING: THE AUDIT TRAIL IS OFF (HOGO_AUDIT_ENABLED=0): no decision, "
            "release or flag change is recorded. This is for benchmarks only, never production.",
            file=sys.stderr,
            flush=True,
        )
    try:
        worker_count = workers.count(args.workers)
    except ValueError as exc:
        print(f"hogo-gateway: error: {exc}", file=sys.stderr)
        return 2
    embedded = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir, owner="serve")
        url = embedded.running_url() or embedded.start()
        if embedded.proc is None:
            embedded = None  # attached to one already running; not ours to stop
        print(f"embedded store under {Path(settings.data_dir) / 'redis'} (append-only)", flush=True)
    try:
        if workers.wanted(worker_count):
            return workers.supervise(worker_count, args.argv, url, settings)
        checker = None
        if checker_process.wanted(settings) and not workers.in_worker():
            checker_dir = Path(tempfile.mkdtemp(prefix="hogo-checker-metrics-"))
            metrics.checker_metrics_dir = str(checker_dir)
            checker = checker_process.Checker(args.argv, url, checker_dir)
        app = build_app(settings, url, verify=settings.verify_in_process)
        waits = settings.replicas_to_wait_for
        banner = "\n".join(
            [
                f"hogo-gateway pid {os.getpid()}; upstream {settings.upstream_url}",
                f"  store {redact(url)}"
                + (
                    f" (acknowledged writes wait for {waits} replica(s), "
                    f"{settings.wait_timeout:g} s)"
                    if waits
                    else " (no replicas waited for)"
                ),
            ]
        )
        eventloop.run(_run_app(app, settings, banner, getattr(args, "ready_file", None), checker))
    finally:
        if metrics.checker_metrics_dir:
            shutil.rmtree(metrics.checker_metrics_dir, ignore_errors=True)
        if getattr(args, "ready_file", None) is not None:
            args.ready_file.unlink(missing_ok=True)  # (it says where a running gateway listens)
        if embedded is not None:
            embedded.stop()
    return 0


def redact(url: str) -> str:
    """A store URL fit to print: no password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return scheme + sep + rest


def add_commands(sub: Any, cmd: Command) -> None:
    p = cmd(sub, "serve", cmd_serve, "run the gateway")
    add_serve_arguments(p)
    p.set_defaults(standalone=True)
