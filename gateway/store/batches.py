"""The scripts of concurrent callers go to Redis together, as one pipeline (see ScriptBatches):
one write, one read and at most one WAIT for every store call made in one turn of the loop."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
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
from gateway.clock import Clock
from gateway.settings import Settings
from gateway.store.keys import Keys
from gateway.store.scripts import StoreUnavailable, script_sha, script_source


class Connected(Protocol):
    """What the batches use of the store's connection (gateway.store.redis.Redis), said here so
    that they need no import of the connection, which imports them."""

    keys: Keys
    settings: Settings
    clock: Clock
    timeout: float
    client: aioredis.Redis | RedisCluster


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

    def __init__(self, redis: Connected) -> None:
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
        iso, ms = self.redis.clock.stamp()
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
                reply = unacknowledged(refusal)
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


def unacknowledged(refusal: Exception) -> Exception:
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
