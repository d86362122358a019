"""Several gateway processes or hosts share one store, and nothing in a process is a source of
truth: what one process does, the others see at once; a host with other keys is refused."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.context import open_gateway
from gateway.store.keycheck import KeyringMismatch
from tests.conftest import Running, start_running, stop_running
from tests.support import Query, cli_runner


def flag_args(atena: str) -> tuple[str, ...]:
    return (
        "flags", "set", atena, "--name", "試験 花子", "--department", "子ども家庭課",
        "--business", "児童手当業務", "--basis", "application",
    )  # fmt: skip


async def _two(settings, redis_url, residents, tmp_path: Path) -> tuple[Running, Running, list]:
    """Two gateway processes' worth of state on one store, the second with a copy of the keys."""
    a, runners_a = await start_running(settings, redis_url, residents)
    await a.gw.redis.ping()  # registers the keys' check values
    second = tmp_path / "host-b"
    shutil.copytree(settings.keys_dir, second / "keys")
    b, runners_b = await start_running(
        replace(settings, data_dir=second), redis_url, residents, upstream=a.upstream
    )
    return a, b, [*runners_a, *runners_b]


async def _close(*parts: object) -> None:
    *running, runners = parts
    for r in running:
        await r.session.close()
    for runner in runners:
        await runner.cleanup()
    for r in running:
        await r.gw.close()


async def test_what_one_process_does_the_other_sees_at_once(
    settings, redis_url, residents, tmp_path: Path
) -> None:
    a, b, runners = await _two(settings, redis_url, residents, tmp_path)
    try:
        person = residents[3]
        assert (await b.submit(Query("S-1", person.subject_code))).status == "PROVIDED"
        await a.flag(person)  # the flag is set through one process ...
        held = await b.submit(Query("S-2", person.subject_code))  # ... and holds in the other
        assert held.status == "PENDING"
        # one (requester, processing number) is one query, whichever process it reaches
        answers = await asyncio.gather(
            *(r.submit(Query("S-3", residents[4].subject_code)) for r in (a, b, a, b))
        )
        assert {x.status for x in answers} <= {"PROVIDED", "PENDING"}
        assert len([c for c in a.upstream.calls if c[1] == residents[4].subject_code]) == 1
        # staff release through one, the requester's result through the other
        [item] = await a.gw.queries.list_held(only_waiting=True)
        await a.gw.queue.release(item.id, "取扱注意", "test")
        got = await b.result("S-2")
        assert (got.status, got.handling_notice) == ("PROVIDED", "取扱注意")
    finally:
        await _close(a, b, runners)


async def test_a_host_with_other_keys_is_refused(
    settings, redis_url, residents, tmp_path: Path
) -> None:
    a, runners = await start_running(settings, redis_url, residents)
    try:
        assert (await a.submit(Query("K-1", residents[5].subject_code))).status == "PROVIDED"
        # a second host whose data dir made keys of its own
        other = await open_gateway(replace(settings, data_dir=tmp_path / "fresh"), redis_url)
        try:
            with pytest.raises(KeyringMismatch, match="differs"):
                await other.flags.state_of_person("1.x")
            with pytest.raises(KeyringMismatch):  # and stays refused, without asking again
                await other.requesters.all()
            assert not await other.redis.ping()
        finally:
            await other.close()
        # the command line on such a host: one-line error, nothing written
        res = cli_runner(tmp_path / "fresh", redis_url)(*flag_args("900000000000123"))
        assert res.returncode == 1 and "differs" in res.stderr and "KEYS.md" in res.stderr
        assert await a.gw.flags.get("900000000000123") is None
        assert [e for e in await a.events("flag.")] == []
    finally:
        await stop_running(a, runners)


def test_a_host_that_missed_a_new_key_version_is_refused(tmp_path: Path, redis_url: str) -> None:
    host_a, host_b = tmp_path / "a", tmp_path / "b"
    on_a, on_b = cli_runner(host_a, redis_url), cli_runner(host_b, redis_url)
    assert on_a("requesters", "list").returncode == 0  # keys registered
    shutil.copytree(host_a / "keys", host_b / "keys")
    assert on_b("requesters", "list").returncode == 0  # same keys: fine
    rotated = on_a("keys", "rotate", "aes")  # a new version on host a only
    assert rotated.returncode == 0 and "aes-2.key" in rotated.stdout
    shown = json.loads(on_a("keys", "show", "--json").stdout)  # registered
    assert [k["key"] for k in shown["keys"]] == ["aes-1", "aes-2", "ed25519-1", "hmac-1"]
    assert all(k["in_store"] for k in shown["keys"])
    res = on_b("requesters", "list")
    assert res.returncode == 1 and "lacks the aes-2 key" in res.stderr
    assert "lacks the aes-2 key" in on_b("keys", "show").stderr
    shutil.copy2(host_a / "keys" / "aes-2.key", host_b / "keys" / "aes-2.key")
    assert on_b("requesters", "list").returncode == 0
    assert on_a("keys", "rotate", "hmac").returncode == 2  # see KEYS.md
