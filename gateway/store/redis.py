"""The connection to Redis, the Lua scripts, and the rule that every call answers in time.

Every store call runs under one deadline (`store_timeout`). Past it, or on any connection error,
the caller gets `StoreUnavailable`: the flag state is then unknown and nothing may be answered
automatically. The client reconnects by itself on the next call, so recovery needs no restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.settings import Settings
from gateway.store.keys import Keys

LUA_DIR = Path(__file__).with_name("lua")
T = TypeVar("T")


class StoreUnavailable(Exception):
    """The flag store did not answer, or not in time."""


def cancel_requested() -> bool:
    """Whether the current task was asked to stop. Background loops check this after each round:
    redis-py (8.1) can swallow a cancellation that arrives during a command, and a loop relying on
    the CancelledError alone would then never stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def now() -> tuple[str, int]:
    """The current time as (ISO 8601 UTC with milliseconds, milliseconds since the epoch)."""
    ms = time.time_ns() // 1_000_000
    iso = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return iso.replace("+00:00", "Z"), ms


AUDIT_ON = "local AUDIT = true"
AUDIT_OFF = "local AUDIT = false"


@cache
def script_source(name: str, audit: bool = True) -> str:
    """The script with the prelude in front; with the audit off (the benchmark's comparison
    only), `emit` records nothing."""
    prelude = (LUA_DIR / "prelude.lua").read_text()
    if AUDIT_ON not in prelude:
        raise RuntimeError("prelude.lua lost its audit switch")
    if not audit:
        prelude = prelude.replace(AUDIT_ON, AUDIT_OFF, 1)
    return prelude + "\n" + (LUA_DIR / f"{name}.lua").read_text()


def connect(url: str, settings: Settings) -> aioredis.Redis:
    """A client whose every socket operation gives up after the store timeout (no retries)."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=settings.store_timeout,
        socket_connect_timeout=settings.store_timeout,
        retry_on_timeout=False,
        retry=None,
        health_check_interval=0,
        max_connections=512,
    )


class Redis:
    """The client, the deadline and the scripts, shared by every store module of one process."""

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.timeout = settings.store_timeout
        self._scripts: dict[str, Any] = {}

    async def call(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Await one store operation under the deadline; any failure is StoreUnavailable."""
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                return await awaitable
        except TimeoutError:
            raise StoreUnavailable("the flag store did not answer in time") from None
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"the flag store failed: {type(exc).__name__}") from None

    async def script(
        self, name: str, keys: Sequence[str], args: Sequence[object], timeout: float | None = None
    ) -> Any:
        """Run one Lua script (prelude included) with the standard ARGV head: prefix, now, now_ms."""
        script = self._scripts.get(name)
        if script is None:
            script = self.client.register_script(script_source(name, self.settings.audit_enabled))
            self._scripts[name] = script
        iso, ms = now()
        argv = [self.keys.prefix, iso, ms, *args]
        return await self.call(script(keys=list(keys), args=argv), timeout)

    async def ping(self) -> bool:
        try:
            return bool(await self.call(self.client.ping()))
        except StoreUnavailable:
            return False

    async def close(self) -> None:
        await self.client.aclose()
