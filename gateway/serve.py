"""`hogo-gateway serve` and `hogo-gateway demo`: run the gateway, on an embedded store if need be."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from gateway import eventloop, workers
from gateway.app import build_app
from gateway.settings import Settings

log = logging.getLogger("hogo.serve")


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8080)")
    p.add_argument(
        "--insecure-http",
        action="store_true",
        help="allow plain HTTP on a non-loopback address (never in production)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gateway processes sharing the port and the store (HOGO_WORKERS, default 1)",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        redis_url=getattr(args, "redis_url", None),
        upstream_url=getattr(args, "upstream_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
    )


async def _run_app(app: web.Application, host: str, port: int, banner: str) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=workers.in_worker())
    await site.start()
    print(banner, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.embedded import EmbeddedRedis

    settings = _settings(args)
    logging.getLogger("hogo").setLevel(logging.INFO)
    if not settings.upstream_url:
        print(
            "hogo-gateway: error: --upstream-url (or HOGO_UPSTREAM_URL) is required",
            file=sys.stderr,
        )
        return 2
    if not _is_loopback(settings.host) and not getattr(args, "insecure_http", False):
        print(
            f"hogo-gateway: error: refusing plain HTTP on {settings.host}; configure TLS or pass "
            "--insecure-http",
            file=sys.stderr,
        )
        return 2
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
            return workers.supervise(worker_count, args.argv, url)
        app = build_app(settings, url)
        banner = (
            f"hogo-gateway listening on http://{settings.host}:{settings.port} "
            f"(plain HTTP{', loopback only' if _is_loopback(settings.host) else ', INSECURE'}); "
            f"upstream {settings.upstream_url}; pid {os.getpid()}"
        )
        eventloop.run(_run_app(app, settings.host, settings.port, banner))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway import demo

    return demo.run(args)
