"""The flag state check under `hogo-gateway serve` runs in a checker process of its own
(gateway/verify/process.py): never on the event loop that answers /soap/provision, one for the
host with --workers too, restarted when it dies, gone when serve is killed."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from gateway.context import Gateway, open_gateway
from gateway.directory_import import import_pairs
from gateway.settings import Settings
from gateway.simulator import Resident, Simulator
from tests.flag_support import flag
from tests.support import (
    AFFAIR,
    REQUESTER,
    GatewayProcess,
    Query,
    alive,
    checkers,
    children,
    parse_answer,
    serve_app,
    until,
)

pytestmark = pytest.mark.slow


@dataclass
class Served:
    gateway: GatewayProcess
    gw: Gateway  # the test's own view of the same store and keys
    session: aiohttp.ClientSession
    residents: list[Resident]

    @property
    def pid(self) -> int:
        return self.gateway.proc.pid

    async def submit(self, pn: str, subject: str) -> str | None:
        async with self.session.post(
            self.gateway.url + "/soap/provision",
            data=Query(pn, subject).xml(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        ) as resp:
            return parse_answer(resp.status, await resp.read()).status

    async def verifier_pid(self) -> int | None:
        """The pid in the `verifier` lease's holder ("epoch:host:pid:nonce"), if it is held."""
        value = await self.gw.redis.client.get(self.gw.redis.keys.audit_lease("verifier"))
        if not value:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return int(text.split(":")[-2])

    async def assert_metrics_show_the_checker(self) -> None:
        """The checker's metrics reach /metrics (its rounds, its role), whichever process
        answers the scrape."""
        async with self.session.get(self.gateway.url + "/metrics") as resp:
            text = await resp.text()
        last = [ln for ln in text.splitlines() if ln.startswith("hogo_flag_verify_last_run")]
        assert last and float(last[0].split()[-1]) > 0, text
        assert 'hogo_audit_role{role="verifier"} 1.0' in text

    async def tamper_and_wait_for_review(self, victim: Resident) -> None:
        """Clear a flagged person's flag by hand in Redis: the serving gateway's check must find
        it and open a review, and a query about them is then held."""
        pk = self.gw.keyring.person_key("atena", victim.atena_number)
        r, k = self.gw.redis.client, self.gw.redis.keys
        await flag(self.gw, victim)
        await r.hset(k.flag(pk), mapping={"ard": "0", "nd": "0"})

        async def reviewed() -> bool:
            return bool(await r.hgetall(k.quarantined("person", pk)))

        await until(reviewed, 60, "a review of the person whose flag was cleared by hand")
        assert await self.submit(f"C-{victim.atena_number}", victim.subject_code) == "PENDING"


@contextlib.asynccontextmanager
async def _serve(
    tmp_path: Path, residents: list[Resident], redis_url: str, *args: str, **env: str
) -> AsyncIterator[Served]:
    upstream = await serve_app(Simulator(residents={r.subject_code: r for r in residents}).app())
    data_dir = tmp_path / "data"
    gw = await open_gateway(Settings(data_dir=data_dir), redis_url)
    await gw.requesters.add(REQUESTER, "見本市 子ども家庭課", "test")
    await gw.requesters.grant(REQUESTER, AFFAIR, [], "test")
    await import_pairs(
        gw.directory, gw.events, ((r.atena_number, r.subject_code) for r in residents), "test"
    )
    gateway = GatewayProcess(
        data_dir,
        redis_url,
        upstream.url + "/",
        *args,
        HOGO_VERIFY_INTERVAL_SECONDS="1",
        HOGO_AUDIT_LEASE_SECONDS="2",  # a killed checker's lease lapses soon
        **env,
    )
    session = aiohttp.ClientSession()
    try:
        await gateway.wait_ready()
        yield Served(gateway, gw, session, residents)
    finally:
        await session.close()
        gateway.stop()
        await gw.close()
        await upstream.cleanup()


async def _one_checker(parent: int) -> int:
    found: list[int] = []

    async def started() -> bool:
        found[:] = checkers(parent)
        return len(found) == 1

    await until(started, 60, "one checker process")
    return found[0]


async def test_serve_runs_the_check_in_a_process_of_its_own(
    tmp_path: Path, residents: list[Resident], redis_url: str
) -> None:
    async with _serve(tmp_path, residents, redis_url) as served:
        checker = await _one_checker(served.pid)
        assert checker != served.pid
        await served.tamper_and_wait_for_review(served.residents[2])
        # the round that found it was the checker's: it holds the `verifier` lease
        assert await served.verifier_pid() == checker
        # and the process answering /soap/provision is not the checker
        assert await served.submit("C-OK", served.residents[5].subject_code) == "PROVIDED"
        assert checkers(served.pid) == [checker]
        await served.assert_metrics_show_the_checker()


async def test_a_killed_checker_is_restarted_and_checks_again(
    tmp_path: Path, residents: list[Resident], redis_url: str
) -> None:
    async with _serve(tmp_path, residents, redis_url) as served:
        first = await _one_checker(served.pid)
        await served.tamper_and_wait_for_review(served.residents[2])
        os.kill(first, signal.SIGKILL)

        async def replaced() -> bool:
            now = checkers(served.pid)
            return len(now) == 1 and now[0] != first

        await until(replaced, 60, "a new checker in place of the killed one")
        [second] = checkers(served.pid)
        # the next round still runs, in the new checker (once the killed one's lease lapsed)
        await served.tamper_and_wait_for_review(served.residents[3])
        assert await served.verifier_pid() == second
        async with served.session.get(served.gateway.url + "/metrics") as resp:
            text = await resp.text()
        assert "hogo_checker_restarts_total 1.0" in text, text


async def test_serve_killed_with_kill_9_leaves_no_checker(
    tmp_path: Path, residents: list[Resident], redis_url: str
) -> None:
    async with _serve(tmp_path, residents, redis_url) as served:
        checker = await _one_checker(served.pid)
        served.gateway.kill9()

        async def gone() -> bool:
            return not alive(checker)

        await until(gone, 60, "the checker gone with its serve")


async def test_workers_share_one_checker_and_sigterm_stops_it(
    tmp_path: Path, residents: list[Resident], redis_url: str
) -> None:
    async with _serve(tmp_path, residents, redis_url, "--workers", "2") as served:
        checker = await _one_checker(served.pid)
        others = [p for p in children(served.pid) if p != checker]
        assert len(others) == 2  # the two workers, neither of them a checker
        await served.tamper_and_wait_for_review(served.residents[2])
        assert await served.verifier_pid() == checker
        await served.assert_metrics_show_the_checker()
        served.gateway.stop()
        assert served.gateway.proc.returncode == 0
        assert not alive(checker)
        # a clean stop gives the role back at once
        assert await served.verifier_pid() is None


async def test_in_process_setting_keeps_the_check_in_the_serving_process(
    tmp_path: Path, residents: list[Resident], redis_url: str
) -> None:
    async with _serve(tmp_path, residents, redis_url, HOGO_VERIFY_IN_PROCESS="1") as served:
        await served.tamper_and_wait_for_review(served.residents[2])
        assert await served.verifier_pid() == served.pid
        assert checkers(served.pid) == []
