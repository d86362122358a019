"""The master of a Sentinel-managed store is killed under traffic (deploy/topology.py: one master,
one replica, three sentinels, two gateway processes on mutual TLS).

While the flag state cannot be confirmed nothing is answered automatically: the faults are
TEMPORARILY_UNAVAILABLE, a flagged person is never PROVIDED, and every PROVIDED answer has its
provision record in the store. After the failover, and once the old master is back as a replica
(systemd restarts it in production), both gateways answer again by themselves, and nothing they
had acknowledged (held queries, provision records, flag changes) is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import redis

from gateway.context import Gateway, open_gateway
from gateway.flags import set_flags
from gateway.settings import Settings
from gateway.simulator import synthetic_residents
from tests.pki import Topology, redis_major_version, topology
from tests.support import REQUESTER, Query, parse_answer

RESIDENTS = 30
SEED_FLAGGED = 2  # deploy/topology.py flags the first two residents
TEMPORARILY_UNAVAILABLE = ("soap:Server", "TEMPORARILY_UNAVAILABLE")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        redis_major_version() < 7, reason="deploy/redis.conf and these tests need Redis 7.0+"
    ),
]


@dataclass
class Sent:
    pn: str
    subject: str
    gateway: int
    sent_at: float
    received_at: float = 0.0
    status: str | None = None  # PROVIDED | PENDING | REFUSED
    fault: tuple[str | None, str | None] | None = None
    error: str | None = None  # no HTTP answer at all


@dataclass
class Run:
    sent: list[Sent] = field(default_factory=list)
    flagged_at: dict[str, float] = field(default_factory=dict)  # subject -> acknowledged at
    flag_failures: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def _traffic(
    topo: Topology, ctx: ssl.SSLContext, run: Run, worker: int, residents: list
) -> None:
    numbers = itertools.count()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ctx),
        timeout=aiohttp.ClientTimeout(total=30),
    ) as session:
        while not run.stop.is_set():
            n = next(numbers)
            person = residents[(worker * 7 + n) % len(residents)]
            gateway = (worker + n) % len(topo.gateways)
            sent = Sent(f"FO-{worker}-{n}", person.subject_code, gateway, time.monotonic())
            try:
                async with session.post(
                    topo.gateways[gateway].url + "/soap/provision",
                    data=Query(sent.pn, person.subject_code).xml(),
                    headers={"Content-Type": "text/xml; charset=utf-8"},
                ) as resp:
                    ans = parse_answer(resp.status, await resp.read())
                sent.status = ans.status
                sent.fault = (ans.fault_code, ans.error_code) if ans.fault_code else None
            except (aiohttp.ClientError, TimeoutError) as exc:
                sent.error = type(exc).__name__
            sent.received_at = time.monotonic()
            run.sent.append(sent)
            await asyncio.sleep(0.02)


async def _flagging(operator: Gateway, run: Run, residents: list) -> None:
    """The operator flags one more resident every 0.3 s, as staff would during the outage."""
    for person in residents:
        if run.stop.is_set():
            return
        try:
            await set_flags(
                operator,
                atena_number=person.atena_number,
                name=person.name,
                department="子ども家庭課",
                business="児童手当業務",
                basis="application",
                until=None,
                auto_response_disabled=True,
                non_disclosure=True,
                actor="test:operator",
            )
            run.flagged_at[person.subject_code] = time.monotonic()
        except Exception:
            run.flag_failures += 1  # not acknowledged: the operator would try again
            await asyncio.sleep(0.3)
            continue
        await asyncio.sleep(0.3)


async def _until(predicate, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return time.monotonic()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


async def test_master_killed_under_traffic_fails_closed_and_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    topo = Topology(
        tmp_path / "topology",
        residents=RESIDENTS,
        down_after_ms=1500,
        failover_timeout_ms=5000,
        env={
            "HOGO_STORE_TIMEOUT": "2",
            "HOGO_REDIS_WAIT_TIMEOUT": "0.5",
            "HOGO_INTERRUPTED_AFTER_SECONDS": "5",
        },
    )
    await asyncio.to_thread(topo.start)
    assert topo.tls is not None
    operator: Gateway | None = None
    try:
        residents = list(synthetic_residents(RESIDENTS))
        to_flag = residents[10:20]  # flagged one by one while the traffic runs
        store_url = f"redis+sentinel://{topo.sentinel_list}/{topology.SERVICE}"
        operator = await open_gateway(
            Settings(
                data_dir=topo.gateways[0].data_dir,
                redis_url=store_url,
                redis_password=topo.password,
                store_timeout=2.0,
                wait_replicas=1,
                wait_timeout=0.5,
                redis_tls_ca=topo.tls.ca,
                redis_tls_cert=topo.tls.client.cert,
                redis_tls_key=topo.tls.client.key,
            ),
            store_url,
        )
        # the store runs with deploy/redis.conf's persistence and replication settings, and
        # everything speaks to it over TLS with client certificates (no plaintext port)
        for data_node in topo.data_nodes:
            conf = data_node.client().config_get("*")
            assert (conf["appendonly"], conf["appendfsync"]) == ("yes", "always")
            assert (conf["min-replicas-to-write"], conf["maxmemory-policy"]) == ("1", "noeviction")
            assert (conf["port"], conf["tls-port"]) == ("0", str(data_node.port))
            assert (conf["tls-auth-clients"], conf["tls-replication"]) == ("yes", "yes")
        for sentinel in topo.sentinels:
            assert sentinel.client().ping()  # over TLS
            with pytest.raises(redis.ConnectionError):  # and not in plaintext
                redis.Redis(port=sentinel.port, socket_timeout=2).ping()
        assert topo.ca is not None
        ctx = topo.ca.client_context(topo.certs["requester"])
        run = Run()
        tasks = [asyncio.create_task(_traffic(topo, ctx, run, w, residents)) for w in range(4)]
        tasks.append(asyncio.create_task(_flagging(operator, run, to_flag)))
        await asyncio.sleep(2.0)

        old_master = topo.master_port()
        assert old_master is not None
        node = await asyncio.to_thread(topo.kill_master)
        killed_at = time.monotonic()  # after the process is gone (kill -9 and wait)

        async def switched() -> bool:
            port = await asyncio.to_thread(topo.master_port)
            return port is not None and port != old_master

        switched_at = await _until(switched, 60, "the sentinels' failover")
        # systemd's Restart= brings the dead node back; the sentinels make it a replica
        await asyncio.sleep(1.0)
        restarted_at = time.monotonic()
        await asyncio.to_thread(node.start)

        async def answering_again() -> bool:
            return all(
                any(
                    s.status == "PROVIDED" and s.gateway == g and s.sent_at > restarted_at
                    for s in run.sent
                )
                for g in range(len(topo.gateways))
            )

        resumed_at = await _until(answering_again, 60, "both gateways answering again")
        await asyncio.sleep(1.0)
        run.stop.set()
        await asyncio.gather(*tasks)

        after_kill = [s for s in run.sent if s.sent_at > killed_at]
        faults = [s for s in after_kill if s.fault]
        first_fault = min(s.received_at for s in faults) - killed_at
        timings = {
            "first fault after kill": round(first_fault, 2),
            "failover seen (sentinels agree)": round(switched_at - killed_at, 2),
            "old master restarted": round(restarted_at - killed_at, 2),
            "answering again (both gateways)": round(resumed_at - killed_at, 2),
            "queries sent": len(run.sent),
            "faults": len([s for s in run.sent if s.fault]),
            "flags acknowledged": len(run.flagged_at),
            "flag changes not acknowledged": run.flag_failures,
        }
        print("\nfailover timings (s after kill -9 of the master):", timings)
        (tmp_path / "timings.txt").write_text(repr(timings))

        # 1. every answer is an answer or TEMPORARILY_UNAVAILABLE; the gateways never went away
        for s in run.sent:
            assert s.error is None, s
            assert s.status in ("PROVIDED", "PENDING") or s.fault == TEMPORARILY_UNAVAILABLE, s
        assert faults, "the outage was never noticed"
        # 2. nothing acknowledged while the store had no replica to confirm it
        for s in after_kill:
            if s.status:
                assert s.sent_at < killed_at or s.received_at > restarted_at, s
        # 3. never PROVIDED for a flagged person
        seed_flagged = {r.subject_code for r in residents[:SEED_FLAGGED]}
        for s in run.sent:
            if s.status == "PROVIDED":
                assert s.subject not in seed_flagged, s
                flagged = run.flagged_at.get(s.subject)
                assert flagged is None or s.sent_at < flagged, s
        # 4. every automatic answer has its provision record (written with the flag check,
        #    atomically, and on the replica before the answer left)
        for s in run.sent:
            if s.status == "PROVIDED":
                records = await operator.records.of_subject(
                    operator.keyring.person_keys("subject", s.subject)
                )
                assert s.pn in {r.processing_number for r in records}, s
        # 5. every acknowledged hold is still held
        held = {
            (h.requester_org_code, h.processing_number) for h in await operator.queries.list_held()
        }
        for s in run.sent:
            if s.status == "PENDING":
                assert (REQUESTER, s.pn) in held, s
        # 6. every acknowledged flag change is still there
        for person in to_flag:
            if person.subject_code in run.flagged_at:
                record = await operator.flags.get(person.atena_number)
                assert record is not None and record.state.auto_response_disabled, person
        # 7. the store really failed over, and the old master serves as a replica now
        assert topo.master_port() != old_master
        assert node.role() == "slave"
        assert any(s.status == "PROVIDED" and s.sent_at > restarted_at for s in run.sent)
    finally:
        if operator is not None:
            await operator.close()
        await asyncio.to_thread(topo.stop)
        if os.environ.get("HOGO_KEEP_TOPOLOGY"):
            print("topology left under", tmp_path)
