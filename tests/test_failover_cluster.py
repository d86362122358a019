"""The store as a Redis Cluster (three masters, three replicas on loopback): every key shares the
hash tag {hogo}, so every Lua script runs in one slot, including the keys the scripts compute from
the prefix; acknowledged writes wait for the slot's replica; a failover of that slot's master is
survived like a Sentinel failover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from redis.cluster import key_slot

from gateway.directory_import import import_pairs
from gateway.model import SubmitQuery
from gateway.simulator import synthetic_residents
from tests.conftest import Running, start_running, stop_running
from tests.pki import redis_major_version
from tests.support import REQUESTER, Query, RedisServer

SLOTS = 16384

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        redis_major_version() < 7, reason="deploy/redis.conf and these tests need Redis 7.0+"
    ),
]


def _node_id(node: RedisServer) -> str:
    return node.client().execute_command("CLUSTER", "MYID")


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[RedisServer]]:
    """Three masters (a third of the slots each) and a replica of each, made with CLUSTER commands."""
    nodes = [RedisServer(tmp_path / f"node-{i}", cluster=True).start() for i in range(6)]
    try:
        masters, replicas = nodes[:3], nodes[3:]
        for i, m in enumerate(masters):
            lo, hi = i * SLOTS // 3, (i + 1) * SLOTS // 3 - 1
            m.client().execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        for n in nodes[1:]:
            n.client().execute_command(
                "CLUSTER", "MEET", "127.0.0.1", nodes[0].port, nodes[0].bus_port
            )
        _wait(
            lambda: all(
                len(n.client().execute_command("CLUSTER", "NODES").splitlines()) == 6 for n in nodes
            ),
            30,
            "the nodes to meet",
        )
        for m, r in zip(masters, replicas, strict=True):
            r.client().execute_command("CLUSTER", "REPLICATE", _node_id(m))
        _wait(
            lambda: (
                all(n.client().cluster("info")["cluster_state"] == "ok" for n in nodes)
                and all(
                    r.client().info("replication")["master_link_status"] == "up" for r in replicas
                )
            ),
            30,
            "the cluster to be ok with its replicas linked",
        )
        yield nodes
    finally:
        for n in nodes:
            n.kill()


def _owner(
    nodes: list[RedisServer], slot: int, *, ask: list[RedisServer] | None = None
) -> RedisServer:
    """The master serving `slot`, as the first node of `ask` that answers sees it."""
    for n in ask or nodes:
        try:
            ranges = n.client().execute_command("CLUSTER", "SLOTS")
        except redis.RedisError:
            continue
        for lo, hi, master, *_ in ranges:
            if int(lo) <= slot <= int(hi):
                return next(x for x in nodes if x.port == int(master[1]))
    raise AssertionError(f"no node knows who serves slot {slot}")


def _url(nodes: list[RedisServer]) -> str:
    return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in nodes[:3])


async def _stop(r: Running, runners: list) -> None:
    await stop_running(r, runners)


async def test_every_script_runs_in_the_one_slot_of_the_cluster(
    settings, cluster: list[RedisServer], residents
) -> None:
    r, runners = await start_running(
        replace(settings, wait_replicas=1, wait_timeout=0.5), _url(cluster), residents
    )
    try:
        gw = r.gw
        flagged, clear = residents[0], residents[5]
        await r.flag(flagged)  # flag_change
        assert (
            await r.submit(Query("C-1", clear.subject_code))
        ).status == "PROVIDED"  # admit, complete
        assert (await r.submit(Query("C-2", flagged.subject_code))).status == "PENDING"  # hold
        assert (await r.submit(Query("C-3", "NOTINDIRECTORY1"))).status == "PENDING"
        assert (await r.result("C-1")).status == "PROVIDED"  # result
        assert (
            await r.submit(Query("C-4", clear.subject_code, affair="JM00000000000009"))
        ).refusal_code == "NOT_AUTHORIZED"
        r.upstream.fail = True
        assert (
            await r.submit(Query("C-5", clear.subject_code))
        ).error_code == "UPSTREAM_UNAVAILABLE"  # abandon
        r.upstream.fail = False
        held = {h.processing_number: h for h in await gw.queries.list_held(only_waiting=True)}
        released = await gw.queue.release(
            held["C-2"].id, "取扱注意", "test"
        )  # release_begin/finish
        assert released.state.value == "released"
        assert (await r.result("C-2")).handling_notice == "取扱注意"
        await gw.queue.refuse(held["C-3"].id, "不明", "test")  # refuse
        # a query left RECEIVED by a crashed process is swept into the queue (sweep)
        q = SubmitQuery(
            "C-6",
            REQUESTER,
            "JM00000000000001",
            "JT00000000000001",
            "TM00000000000001",
            clear.subject_code,
            "2026-11-26T10:00:00+09:00",
        )
        await gw.queries.admit(q, gw.keyring.person_keys("subject", q.subject_code))
        assert await gw.queries.sweep_interrupted(int(time.time() * 1000) + 1000) == 1
        await gw.requesters.add(
            "1390000000000009", "一時", "test"
        )  # requester_add / _rights / _remove
        await gw.requesters.grant(
            "1390000000000009", "JM00000000000001", ["JT00000000000002"], "test"
        )
        await gw.requesters.revoke("1390000000000009", "JM00000000000001", [], "test")
        assert await gw.requesters.remove("1390000000000009", "test")
        more = list(synthetic_residents(5, start=100))
        await import_pairs(
            gw.directory, gw.events, ((p.atena_number, p.subject_code) for p in more), "test"
        )
        events = [e.kind for e in await gw.events.read(count=10000)]
        for kind in (
            "flag.set",
            "query.provided",
            "query.held",
            "query.released",
            "query.refused",
            "query.abandoned",
            "security.requester_not_permitted",
            "requester.granted",
            "requester.removed",
            "directory.imported",
        ):
            assert kind in events, kind

        # every key is in the one slot of {hogo}, on that slot's master and on its replica
        slot = key_slot(b"{hogo}:")
        owner = _owner(cluster, slot)
        on_owner = owner.client()
        assert on_owner.dbsize() > 50
        assert on_owner.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == on_owner.dbsize()
        for n in cluster[:3]:
            if n is not owner:
                assert n.client().dbsize() == 0
        replica = next(
            n for n in cluster if n.client().info("replication").get("master_port") == owner.port
        )
        assert replica.client().dbsize() == on_owner.dbsize()
    finally:
        await _stop(r, runners)


async def test_failover_of_the_slots_master_is_survived(
    settings, cluster: list[RedisServer], residents
) -> None:
    r, runners = await start_running(
        replace(settings, wait_replicas=1, wait_timeout=0.5), _url(cluster), residents
    )
    try:
        flagged, clear = residents[1], residents[6]
        await r.flag(flagged)
        assert (await r.submit(Query("CF-1", flagged.subject_code))).status == "PENDING"
        assert (await r.submit(Query("CF-2", clear.subject_code))).status == "PROVIDED"
        owner = _owner(cluster, key_slot(b"{hogo}:"))
        owner.kill()
        killed_at = time.monotonic()
        answers = []

        async def resumed() -> bool:
            ans = await r.submit(Query(f"CF-x-{time.monotonic_ns()}", clear.subject_code))
            answers.append(ans)
            return ans.status == "PROVIDED"

        deadline = time.monotonic() + 60
        restarted = False
        while not await resumed():
            assert time.monotonic() < deadline, "the gateway did not answer again"
            # the promoted replica has no replica of its own: bring the old master back, as
            # systemd would; the cluster makes it the new master's replica by itself
            if not restarted and _has_new_master(cluster, owner):
                owner.start()
                restarted = True
            await asyncio.sleep(0.2)
        assert restarted
        print(f"\ncluster: answering again {time.monotonic() - killed_at:.2f} s after kill -9")
        # until then: no answer at all, only TEMPORARILY_UNAVAILABLE
        assert len(answers) > 1
        for ans in answers[:-1]:
            assert (ans.status, ans.error_code) == (None, "TEMPORARILY_UNAVAILABLE"), ans
        # nothing acknowledged was lost
        held = {h.processing_number for h in await r.gw.queries.list_held()}
        assert "CF-1" in held
        assert (await r.result("CF-2")).status == "PROVIDED"
        assert (await r.gw.flags.get(flagged.atena_number)).state.auto_response_disabled
        assert (await r.submit(Query("CF-3", flagged.subject_code))).status == "PENDING"
    finally:
        await _stop(r, runners)


def _has_new_master(nodes: list[RedisServer], old: RedisServer) -> bool:
    """The surviving nodes agree that another node serves the {hogo} slot now."""
    alive = [n for n in nodes if n is not old]
    try:
        return _owner(nodes, key_slot(b"{hogo}:"), ask=alive) is not old
    except AssertionError:
        return False


async def test_a_cluster_that_cannot_be_reached_is_temporarily_unavailable(
    settings, cluster: list[RedisServer], residents
) -> None:
    r, runners = await start_running(
        replace(settings, wait_replicas=1, wait_timeout=0.5), _url(cluster), residents
    )
    try:
        assert (await r.submit(Query("CD-1", residents[8].subject_code))).status == "PROVIDED"
        for node in cluster:
            node.kill()
        for pn in ("CD-2", "CD-3"):  # the first finds dead connections, the next no cluster
            ans = await r.submit(Query(pn, residents[8].subject_code))
            assert (ans.fault_code, ans.error_code) == ("soap:Server", "TEMPORARILY_UNAVAILABLE")
        assert (await r.result("CD-1")).error_code == "TEMPORARILY_UNAVAILABLE"
    finally:
        await _stop(r, runners)
