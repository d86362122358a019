"""What every `hogo-gateway` command shares: the one-line error, the output, the operating-system
actor every action is recorded with, the store options and the store opened for one command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import pwd
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from gateway.context import Gateway, open_gateway
from gateway.settings import Settings

Handler = Callable[[argparse.Namespace, Gateway], Awaitable[Any]]
# `cmd(parent, name, func, help)`: one command with the common options (gateway.cli makes it)
Command = Callable[..., argparse.ArgumentParser]


class CommandError(Exception):
    """A failure to report in one line (exit 1)."""


@contextlib.contextmanager
def one_line(*refusals: type[BaseException], text: Callable[[Any], str] = str) -> Iterator[None]:
    """The refusals named, raised inside, as the command's one-line error (exit 1), worded by
    `text`; anything else is not the operator's to fix and keeps its traceback."""
    try:
        yield
    except refusals as exc:
        raise CommandError(text(exc)) from None


def os_actor() -> str:
    """The operating-system user running the command; run through sudo (deploy/hogo), the
    operator who called sudo, with the account it ran as."""
    host = socket.gethostname()
    try:
        effective = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        effective = str(os.geteuid())
    invoker = os.environ.get("SUDO_USER")
    if invoker and invoker != effective:
        return f"os:{invoker}@{host} (sudo as {effective})"
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"os:{user}@{host}"


def store_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The store options given on the command line (see Settings.from_env)."""
    return {
        "redis_url": getattr(args, "redis_url", None),
        "redis_sentinel": getattr(args, "redis_sentinel", None),
        "redis_service": getattr(args, "redis_service", None),
        "redis_cluster": getattr(args, "redis_cluster", None),
        "wait_replicas": getattr(args, "redis_wait_replicas", None),
        "wait_timeout": getattr(args, "redis_wait_timeout", None),
    }


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        upstream_url=getattr(args, "upstream_url", None),
        **store_overrides(args),
        **extra,
    )


@contextlib.asynccontextmanager
async def opened(args: argparse.Namespace) -> AsyncIterator[Gateway]:
    """The store for one command: --redis-url, or the data dir's embedded one (started if need be)."""
    from gateway.embedded import EmbeddedRedis

    settings = settings_from(args, store_timeout=10.0)
    embedded = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir, owner="command")
        url = embedded.running_url()
        if url is None:
            url = await asyncio.to_thread(embedded.start)
        else:
            embedded = None
    gw = await open_gateway(settings, url)
    try:
        yield gw
    finally:
        await gw.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def print_errors(errors: list[str]) -> None:
    """Every bad row of a refused file, one line each on stderr: the operator fixes them all,
    so none is left out (the one-line error that follows gives the count)."""
    for line in errors:
        print(line, file=sys.stderr)


def emit(args: argparse.Namespace, data: object, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(text)


def store_options(p: argparse.ArgumentParser, top: bool) -> None:
    """The options every command takes (before or after its name): the store, the data dir, the
    upstream and --json."""
    d = None if top else argparse.SUPPRESS
    p.add_argument(
        "--redis-url", default=d, help="Redis URL (HOGO_REDIS_URL); else the embedded store"
    )
    p.add_argument(
        "--data-dir", default=d, help="keys and embedded store (HOGO_DATA_DIR, default ./var)"
    )
    p.add_argument(
        "--redis-sentinel",
        default=d,
        metavar="HOST:PORT,...",
        help="the sentinels of a Sentinel-managed store (HOGO_REDIS_SENTINEL)",
    )
    p.add_argument(
        "--redis-service",
        default=d,
        metavar="NAME",
        help="the master's name at the sentinels (HOGO_REDIS_SERVICE)",
    )
    p.add_argument(
        "--redis-cluster",
        default=d,
        metavar="HOST:PORT,...",
        help="startup nodes of a Redis Cluster (HOGO_REDIS_CLUSTER)",
    )
    p.add_argument(
        "--redis-wait-replicas",
        type=int,
        default=d,
        metavar="N",
        help="replicas an acknowledged write must reach (HOGO_REDIS_WAIT_REPLICAS; "
        "default 1 with Sentinel or Cluster, else 0)",
    )
    p.add_argument(
        "--redis-wait-timeout",
        type=float,
        default=d,
        metavar="SECONDS",
        help="how long to wait for them (HOGO_REDIS_WAIT_TIMEOUT, default 0.25)",
    )
    p.add_argument("--upstream-url", default=d, help="the upstream endpoint (HOGO_UPSTREAM_URL)")
    p.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="machine-readable output",
    )
