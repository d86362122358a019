"""The connection to Redis and the rule that every call answers in time (the scripts' sources are
in scripts.py; concurrent script calls leave together, batches.py).

Every store call runs under one deadline (`store_timeout`). Past it, or on any connection error,
the caller gets `StoreUnavailable`: the flag state is then unknown and nothing may be answered
automatically. The client reconnects by itself on the next call, so recovery needs no restart.

The store is one server, a Sentinel-managed master with replicas, or a Cluster (see `connect`).
With replicas, a write that someone is told about (a held query, a provision record, a staff
decision, a flag change) is followed by WAIT on the same connection: it must be on
`wait_replicas` replicas before it is acknowledged, or the caller gets `StoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.settings import Settings, SettingsError, parse_addresses
from gateway.store.batches import ScriptBatches, unacknowledged
from gateway.store.keys import Keys
from gateway.store.scripts import StoreUnavailable

T = TypeVar("T")


def cancel_requested() -> bool:
    """Whether the current task was asked to stop. Background loops check this after each round:
    redis-py (8.1) can swallow a cancellation that arrives during a command, and a loop relying on
    the CancelledError alone would then never stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


Client = aioredis.Redis | RedisCluster
SENTINEL_SCHEME = "redis+sentinel://"
CLUSTER_SCHEME = "redis+cluster://"


def connect(url: str, settings: Settings) -> Client:
    """A client whose every socket operation gives up after the store timeout (no retries).

    `url` is one of
      redis://[:password@]host:port/db, rediss://..., unix://...   one server (or the embedded one)
      redis+sentinel://host:port,host:port,.../SERVICE             the master Sentinel names SERVICE
      redis+cluster://host:port,host:port,...                      a Redis Cluster (startup nodes)
    Passwords for the data nodes and the sentinels come from the settings (the environment), and
    so do the TLS files (`Settings.redis_tls_ca`).
    No client retries by itself: a command sent twice could run a script twice, and the caller
    must learn at once that the store is in doubt. Recovery is the next call's reconnect.
    """
    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": settings.store_timeout,
        "socket_connect_timeout": settings.store_timeout,
        "health_check_interval": 0,
    }
    tls = _tls_arguments(url, settings)
    if url.startswith(SENTINEL_SCHEME):
        hosts, _, service = url.removeprefix(SENTINEL_SCHEME).partition("/")
        if not service:
            raise ValueError(f"{url}: no service name (redis+sentinel://host:port,.../SERVICE)")
        # Ask the sentinels briefly: a hung sentinel must leave time to ask the next one.
        quick = settings.store_timeout / 4
        sentinel = Sentinel(
            parse_addresses(hosts, "sentinels"),
            sentinel_kwargs={
                "socket_timeout": quick,
                "socket_connect_timeout": quick,
                "password": settings.redis_sentinel_password,
                "decode_responses": True,
                "retry": None,
                **tls,
            },
        )
        return sentinel.master_for(
            service,
            redis_class=aioredis.Redis,
            password=settings.redis_password,
            retry=None,
            max_connections=512,
            **common,
            **tls,
        )
    if url.startswith(CLUSTER_SCHEME):
        return RedisCluster(
            startup_nodes=[
                ClusterNode(h, p)
                for h, p in parse_addresses(url.removeprefix(CLUSTER_SCHEME), "cluster nodes")
            ],
            password=settings.redis_password,
            retry=Retry(NoBackoff(), 0),
            max_connections=512,
            **common,
            **tls,
        )
    return aioredis.Redis.from_url(
        url,
        password=settings.redis_password,
        retry_on_timeout=False,
        retry=None,
        max_connections=512,
        **common,
        **{k: v for k, v in tls.items() if k != "ssl"},  # (rediss:// says it)
    )


def _tls_arguments(url: str, settings: Settings) -> dict[str, Any]:
    """redis-py's TLS arguments for the store at `url`, or none: rediss:// for one server;
    every node of a Sentinel set or Cluster once HOGO_REDIS_TLS_CA is given. The server's
    certificate is always verified (against the system's CAs or that CA), and its host name."""
    if url.startswith((SENTINEL_SCHEME, CLUSTER_SCHEME)):
        if settings.redis_tls_ca is None:
            return {}
    elif not url.startswith("rediss://"):
        return {}
    for path in (settings.redis_tls_ca, settings.redis_tls_cert, settings.redis_tls_key):
        if path is not None and not path.is_file():
            # (else every call would fail later as "store unavailable", with no word on why)
            raise SettingsError(f"{path}: no such file (HOGO_REDIS_TLS_*)")
    out: dict[str, Any] = {"ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True}
    if settings.redis_tls_ca is not None:
        out["ssl_ca_certs"] = str(settings.redis_tls_ca)
    if settings.redis_tls_cert is not None and settings.redis_tls_key is not None:
        out["ssl_certfile"] = str(settings.redis_tls_cert)
        out["ssl_keyfile"] = str(settings.redis_tls_key)
    return out


class Redis:
    """The client, the deadline, the scripts and the clock, shared by every store module of one
    process. The clock is what every script's NOW says (and whatever else decides by time)."""

    def __init__(self, client: Client, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock
        self.keys = Keys(settings.key_prefix)
        self.timeout = settings.store_timeout
        self.replicas = settings.replicas_to_wait_for
        self.wait_ms = int(settings.wait_timeout * 1000)
        self.batches = ScriptBatches(self)
        self._gate: Callable[[], Awaitable[None]] | None = None
        self._gate_lock = asyncio.Lock()

    def guard(self, gate: Callable[[], Awaitable[None]]) -> None:
        """Run `gate` before the first store call (and again until it passes once).

        The gate may raise StoreUnavailable (a subclass says why): then that call fails, as every
        call fails while the store is unreachable. Used to check the keyring (store/keycheck.py).
        """
        self._gate = gate

    async def call(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Await one store operation under the deadline; any failure is StoreUnavailable."""
        if self._gate is not None:
            try:
                await self._pass_gate(timeout)
            except BaseException:
                if inspect.iscoroutine(awaitable):
                    awaitable.close()  # never started: nothing was sent
                raise
        return await self._deadline(awaitable, timeout)

    async def _deadline(self, awaitable: Awaitable[T], timeout: float | None) -> T:
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                return await awaitable
        except TimeoutError:
            raise StoreUnavailable("the flag store did not answer in time") from None
        except (RedisError, RedisClusterException, OSError) as exc:
            # (RedisClusterException is no RedisError: a cluster that cannot be reached at all)
            raise StoreUnavailable(f"the flag store failed: {type(exc).__name__}") from None

    async def _pass_gate(self, timeout: float | None) -> None:
        async with self._gate_lock:
            gate = self._gate
            if gate is None:
                return  # another call passed it meanwhile
            await self._deadline(gate(), timeout)
            self._gate = None

    async def script(
        self,
        name: str,
        keys: Sequence[str],
        args: Sequence[object],
        timeout: float | None = None,
        *,
        acknowledged: bool = True,
    ) -> Any:
        """Run one Lua script (prelude included) with the standard ARGV head: prefix, now, now_ms.

        `acknowledged`: what the script writes is about to be told to someone (a requester, staff,
        the operator), so with replicas it must reach them first (WAIT). Pass False only for steps
        nobody is told about: reads, reservations, locks, cleanups.

        Calls under the store's own deadline (no `timeout`) join the next batch (ScriptBatches):
        the scripts of concurrent callers go out as one pipeline. A call with its own, longer
        deadline (the sealer, bulk imports) runs alone, so that it cannot hold up the others.
        """
        if timeout is not None:
            return await self.call(self.run_script(name, keys, args, acknowledged), timeout)
        if self._gate is not None:
            await self._pass_gate(None)
        # (the deadline is the batch's: see ScriptBatches)
        try:
            return await self.batches.add(name, keys, args, acknowledged)
        except (RedisError, RedisClusterException, OSError) as exc:
            raise StoreUnavailable(f"the flag store failed: {type(exc).__name__}") from None

    async def run_script(
        self, name: str, keys: Sequence[str], args: Sequence[object], acknowledged: bool
    ) -> Any:
        """`script` alone, without the deadline and the gate: for the gate itself (see `guard`)."""
        call = self.batches.call(asyncio.get_running_loop(), name, keys, args, acknowledged)
        await self.batches.run([call])
        return call.reply.result()

    async def execute(self, pipe: Any, *, acknowledged: bool = True) -> list[Any]:
        """Execute a pipeline (not a MULTI transaction) and, if `acknowledged`, WAIT after it."""
        if not (acknowledged and self.replicas):
            return await pipe.execute()
        *results, acked = await self._execute_then_wait(pipe)
        for result in results:
            if isinstance(result, Exception):
                raise result
        self._check_acked(acked)
        return results

    async def _execute_then_wait(self, pipe: Any) -> list[Any]:
        """Append WAIT to `pipe` (same connection, so it waits for these writes) and run it."""
        if isinstance(self.client, RedisCluster):
            # Every key shares one hash tag: WAIT goes to the master of that one slot, which is
            # where the pipeline's writes went (redirections are not followed, see below).
            await self.client.initialize()
            node = self.client.get_node_from_key(self.keys.prefix)
            pipe.execute_command("WAIT", self.replicas, self.wait_ms, target_nodes=node)
            # A redirected command would run on another connection than its WAIT: fail instead.
            return await pipe.execute(raise_on_error=False, allow_redirections=False)
        pipe.execute_command("WAIT", self.replicas, self.wait_ms)
        return await pipe.execute(raise_on_error=False)

    def _check_acked(self, acked: Any) -> None:
        refusal = self.unconfirmed(acked)
        if refusal is not None:
            raise unacknowledged(refusal)

    def unconfirmed(self, acked: Any) -> Exception | None:
        """Why writes followed by a WAIT that replied `acked` are not acknowledged, or None."""
        if isinstance(acked, Exception):
            return acked
        if int(acked) < self.replicas:
            # The write is on the master but not known to be on a replica: it is not acknowledged.
            return StoreUnavailable(
                f"the write reached {acked} of {self.replicas} replicas in {self.wait_ms} ms"
            )
        return None

    async def ping(self) -> bool:
        try:
            return bool(await self.call(self.client.ping()))
        except StoreUnavailable:
            return False

    async def close(self) -> None:
        await self.client.aclose()
        # a Sentinel-managed client also holds connections to the sentinels
        manager = getattr(getattr(self.client, "connection_pool", None), "sentinel_manager", None)
        for sentinel in getattr(manager, "sentinels", ()):
            await sentinel.aclose()
