"""The connection to Redis, the Lua scripts, and the rule that every call answers in time.

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
import contextlib
import hashlib
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    ClusterDownError,
    DataError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway import metrics
from gateway.settings import Settings, parse_addresses
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


@cache
def script_sha(name: str, audit: bool = True) -> str:
    return hashlib.sha1(script_source(name, audit).encode(), usedforsecurity=False).hexdigest()


Client = aioredis.Redis | RedisCluster
SENTINEL_SCHEME = "redis+sentinel://"
CLUSTER_SCHEME = "redis+cluster://"


def connect(url: str, settings: Settings) -> Client:
    """A client whose every socket operation gives up after the store timeout (no retries).

    `url` is one of
      redis://[:password@]host:port/db, rediss://..., unix://...   one server (or the embedded one)
      redis+sentinel://host:port,host:port,.../SERVICE             the master Sentinel names SERVICE
      redis+cluster://host:port,host:port,...                      a Redis Cluster (startup nodes)
    Passwords for the data nodes and the sentinels come from the settings (the environment).
    No client retries by itself: a command sent twice could run a script twice, and the caller
    must learn at once that the store is in doubt. Recovery is the next call's reconnect.
    """
    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": settings.store_timeout,
        "socket_connect_timeout": settings.store_timeout,
        "health_check_interval": 0,
    }
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
            },
        )
        return sentinel.master_for(
            service,
            redis_class=aioredis.Redis,
            password=settings.redis_password,
            retry=None,
            max_connections=512,
            **common,
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
        )
    return aioredis.Redis.from_url(
        url,
        password=settings.redis_password,
        retry_on_timeout=False,
        retry=None,
        max_connections=512,
        **common,
    )


class Redis:
    """The client, the deadline and the scripts, shared by every store module of one process."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
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
            raise _unacknowledged(refusal)

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


# A batch holds at most this many calls (the rest wait for the next): it bounds the time one
# batch keeps Redis busy and the size of its replies.
MAX_BATCH = 64
# Batches on their way at once, each on its own connection; calls made meanwhile form the next.
# Two rather than one: with replicas, a batch waiting on WAIT (or on a slow fsync) does not hold
# up every other call. On one server without replicas it made no measurable difference (1.02x
# the throughput of one, within the noise; docs/performance.md).
MAX_IN_FLIGHT = 2
# Failures after which a cluster client must learn the cluster's slots and masters again.
CLUSTER_TROUBLE = (
    RedisConnectionError,
    RedisTimeoutError,
    MovedError,
    AskError,
    TryAgainError,
    ClusterDownError,
    RedisClusterException,
)


@dataclass(slots=True, eq=False)
class ScriptCall:
    """One caller's script (ARGV with the standard head) and the future its reply goes to."""

    name: str
    acknowledged: bool
    reply: asyncio.Future[Any]
    deadline: float  # loop time by which the caller has its reply or StoreUnavailable
    command: tuple[Any, ...]  # EVALSHA sha numkeys keys... argv...
    packed: bytes  # the command in the Redis protocol


class ScriptBatches:
    """The scripts of concurrent callers go to Redis together, as one pipeline.

    A batch is every call made in one turn of the event loop, or, while MAX_IN_FLIGHT batches are
    on their way, every call made until one of them returns (at most MAX_BATCH). It is a pipeline, not a MULTI: each
    EVALSHA is still its own atomic script, and each caller gets its own reply or error. If any
    call in it is acknowledged and replicas are waited for, one WAIT ends the pipeline; on the
    same connection it covers every write before it. A script the store does not know (NOSCRIPT:
    a restart, a failover) is loaded and only those calls run again, in a second pipeline.

    The deadline applies to the whole batch: the store timeout counted from its first (oldest)
    call. A batch that fails or does not return in time fails every caller in it with
    StoreUnavailable; replies are handed out only when the whole batch has returned, so no caller
    is told of a success in a batch that failed. (A timed-out pipeline is cancelled, and redis-py
    then drops its connection: no late reply can be read by anyone else.) Since every batched
    call has the same timeout, a batch on its way ends before any waiting call's deadline, so
    each caller has its answer within the store timeout of its call without a timer of its own;
    a call still waiting at its deadline fails without being sent.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.loaded: set[str] = set()  # scripts loaded into the store by this process
        self.forming: list[ScriptCall] = []
        self.in_flight = 0
        self.flush_soon = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sent = 0  # batches sent, and the calls in them (for tests and the benchmark)
        self.sent_calls = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()

    def call(
        self,
        loop: asyncio.AbstractEventLoop,
        name: str,
        keys: Sequence[str],
        args: Sequence[object],
        acknowledged: bool,
    ) -> ScriptCall:
        """One call, packed (an argument Redis cannot take raises DataError here, to this caller
        alone); its deadline, the store timeout from now, counts when it joins a batch."""
        iso, ms = now()
        argv = [self.redis.keys.prefix, iso, ms, *args]
        sha = script_sha(name, self.redis.settings.audit_enabled)
        command = ("EVALSHA", sha, len(keys), *keys, *argv)
        deadline = loop.time() + self.redis.timeout
        return ScriptCall(
            name, acknowledged, loop.create_future(), deadline, command, _pack(command)
        )

    def add(
        self, name: str, keys: Sequence[str], args: Sequence[object], acknowledged: bool
    ) -> asyncio.Future[Any]:
        """Put one call into the batch being formed; its future gets the reply."""
        loop = self._loop = asyncio.get_running_loop()
        call = self.call(loop, name, keys, args, acknowledged)
        self.forming.append(call)
        if not self.flush_soon and self.in_flight < MAX_IN_FLIGHT:
            self.flush_soon = True
            loop.call_soon(self._flush)
        return call.reply

    def _flush(self) -> None:
        self.flush_soon = False
        loop = self._loop
        assert loop is not None
        while self.forming and self.in_flight < MAX_IN_FLIGHT:
            now_ = loop.time()
            batch = []
            for call in self.forming[:MAX_BATCH]:
                if call.reply.done():
                    continue  # its caller stopped waiting (cancelled): nothing is sent for it
                if call.deadline <= now_:
                    _deliver(call, StoreUnavailable("the flag store did not answer in time"))
                    continue
                batch.append(call)
            del self.forming[:MAX_BATCH]
            if batch:
                self.sent += 1
                self.sent_calls += len(batch)
                self.in_flight += 1
                task = loop.create_task(self._send(batch))
                self._tasks.add(task)
                task.add_done_callback(self._returned)

    def _returned(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.in_flight -= 1
        self._flush()  # the calls made while it was on its way

    async def _send(self, batch: list[ScriptCall]) -> None:
        try:
            async with asyncio.timeout_at(batch[0].deadline):  # the oldest call's
                await self.run(batch)
        except TimeoutError:
            self._fail(batch, "the flag store did not answer in time")
        except (RedisError, RedisClusterException, OSError) as exc:
            self._fail(batch, f"the flag store failed: {type(exc).__name__}")
        except BaseException:
            self._fail(batch, "the batch was cancelled")
            raise

    @staticmethod
    def _fail(batch: list[ScriptCall], why: str) -> None:
        for call in batch:
            _deliver(call, StoreUnavailable(why))

    async def run(self, batch: list[ScriptCall]) -> None:
        """Send `batch` and hand every caller its reply; raises (and hands out nothing) if the
        store failed. No deadline of its own: the caller puts one around it."""
        try:
            replies = await self._rounds(batch)
        except BaseException:
            self._relearn_cluster()
            raise
        for call, reply in replies:
            _deliver(call, reply)

    async def _rounds(self, batch: list[ScriptCall]) -> list[tuple[ScriptCall, Any]]:
        replies: list[tuple[ScriptCall, Any]] = []
        todo = batch
        for last_round in (False, True):
            again: list[ScriptCall] = []
            for call, reply in await self._round(todo):
                if isinstance(reply, NoScriptError) and not last_round:
                    self.loaded.discard(call.name)  # the store lost it: load it, run it again
                    again.append(call)
                else:
                    replies.append((call, reply))
            todo = [call for call in again if not call.reply.done()]
            if not todo:
                break
        return replies

    def _relearn_cluster(self) -> None:
        """After a failed or timed-out batch, a cluster client learns the slots and masters again
        before its next use (a failover, a moved slot), as it does after such an error on a
        single command. In the background: the callers have their answer already."""
        client = self.redis.client
        if isinstance(client, RedisCluster):
            task = asyncio.get_running_loop().create_task(
                _reset_cluster(client, self.redis.timeout)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _round(self, calls: list[ScriptCall]) -> list[tuple[ScriptCall, Any]]:
        """One pipeline: the scripts not yet loaded, the calls, and WAIT if one is acknowledged.
        On one server or a Sentinel-managed master it is written straight onto one of the
        client's pooled connections; on a Cluster it is redis-py's cluster pipeline."""
        r = self.redis
        audit = r.settings.audit_enabled
        client = r.client
        target: dict[str, Any] = {}
        if isinstance(client, RedisCluster):
            # Every key shares one hash tag: all of it goes to the master of that one slot (a
            # script without keys too), so that the WAIT at the end covers every write before it.
            await client.initialize()
            target["target_nodes"] = client.get_node_from_key(r.keys.prefix)
        loading = sorted({call.name for call in calls} - self.loaded)
        before = [("SCRIPT", "LOAD", script_source(name, audit)) for name in loading]
        wait = bool(r.replicas) and any(call.acknowledged for call in calls)
        after = [("WAIT", r.replicas, r.wait_ms)] if wait else []
        if target:
            pipe = client.pipeline(transaction=False)
            for command in (*before, *(call.command for call in calls), *after):
                # (execute_command: cluster pipelines refuse the evalsha method, not the command)
                pipe.execute_command(*command, **target)
            # A redirected command would run on another connection than its WAIT: fail instead.
            out = await pipe.execute(raise_on_error=False, allow_redirections=False)
            trouble = next((x for x in out if isinstance(x, CLUSTER_TROUBLE)), None)
            if trouble is not None:
                raise trouble
        else:
            packed = [_pack(c) for c in before] + [call.packed for call in calls]
            out = await _on_one_connection(client, packed + [_pack(c) for c in after])
        for name, loaded in zip(loading, out, strict=False):
            if not isinstance(loaded, Exception):
                self.loaded.add(name)
        replies = out[len(loading) : len(loading) + len(calls)]
        refusal = r.unconfirmed(out[-1]) if wait else None
        replied: list[tuple[ScriptCall, Any]] = []
        for call, reply in zip(calls, replies, strict=True):
            if refusal is not None and call.acknowledged and not isinstance(reply, Exception):
                reply = _unacknowledged(refusal)
            replied.append((call, reply))
        return replied


def _deliver(call: ScriptCall, reply: Any) -> None:
    if call.reply.done():
        return  # the caller gave up waiting
    if isinstance(reply, Exception):
        call.reply.set_exception(reply)
        call.reply.exception()  # (retrieved: the caller may still give up before it reads it)
    else:
        call.reply.set_result(reply)


def _unacknowledged(refusal: Exception) -> Exception:
    """The error for one acknowledged write that WAIT did not confirm (one per caller)."""
    if isinstance(refusal, StoreUnavailable):
        metrics.STORE_WAIT_SHORT.inc()
        return StoreUnavailable(str(refusal))
    return refusal


async def _reset_cluster(client: RedisCluster, timeout: float) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout):
            await client.aclose()


def _pack(command: tuple[Any, ...]) -> bytes:
    """One command in the Redis protocol, as redis-py would write it (str as UTF-8, int and
    float in decimal), by hiredis (redis[hiredis] is a dependency): a tenth of redis-py's time."""
    try:
        return hiredis.pack_command(command)
    except TypeError as exc:  # a None, a bool, an object: what redis-py refuses with DataError
        raise DataError(f"cannot send {command[0]}: {exc}") from None


async def _on_one_connection(client: aioredis.Redis, packed: list[bytes]) -> list[Any]:
    """Send the commands `packed` in one write on one pooled connection and read every reply
    (an error reply in its place): a redis-py pipeline without its per-command bookkeeping.

    The connection comes from the client's own pool, so connecting, AUTH, the db, TLS and a
    Sentinel's master lookup are redis-py's. Any failure or cancellation while sending or
    reading makes redis-py drop the connection (read_response and send_packed_command
    disconnect on every error), so no reply left unread can reach the next user of it. Only the
    first read has redis-py's socket timeout (a second wall behind the batch's deadline): the
    others are mostly read from the buffer already, and the deadline covers them all."""
    pool = client.connection_pool
    conn = await pool.get_connection()
    try:
        await conn.send_packed_command(b"".join(packed), check_health=False)
        out: list[Any] = []
        for i in range(len(packed)):
            try:
                out.append(await conn.read_response(timeout=math.inf if i else None))
            except ResponseError as exc:
                out.append(exc)
        return out
    finally:
        await asyncio.shield(pool.release(conn))
