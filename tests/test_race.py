"""The classic leak: a flag set while the upstream is answering must turn the answer into a hold."""

from __future__ import annotations

import asyncio

from tests.conftest import Running
from tests.support import Query


async def test_flag_set_during_upstream_call_holds_the_answer(running: Running) -> None:
    running.upstream.gate = answering = asyncio.Event()
    person = running.residents[2]
    in_flight = asyncio.create_task(running.submit(Query("R-1", person.subject_code)))
    while not running.upstream.calls:  # the upstream has the query now
        await asyncio.sleep(0.01)
    await running.flag(person, ard=True, nd=False)
    answering.set()
    ans = await in_flight
    assert ans.status == "PENDING"
    assert ans.fields is None and b"<t:provision>" not in ans.raw
    assert all(f.value.encode() not in ans.raw for f in person.fields)
    [held] = await running.gw.queries.list_held(only_waiting=True)
    assert (held.processing_number, held.reason) == ("R-1", "flag_set_in_flight")
    assert (await running.result("R-1")).status == "PENDING"
    # no provision record: nothing left the ward
    assert (
        await running.gw.records.of_subject(
            running.gw.keyring.person_keys("subject", person.subject_code)
        )
        == []
    )


async def test_subject_removed_from_directory_in_flight_is_held(running: Running) -> None:
    running.upstream.gate = answering = asyncio.Event()
    person = running.residents[3]
    in_flight = asyncio.create_task(running.submit(Query("R-2", person.subject_code)))
    while not running.upstream.calls:
        await asyncio.sleep(0.01)
    for key in running.gw.keyring.person_keys("subject", person.subject_code):
        await running.gw.redis.client.delete(running.gw.redis.keys.directory(key))
    answering.set()
    assert (await in_flight).status == "PENDING"
    [held] = await running.gw.queries.list_held(only_waiting=True)
    assert held.reason == "subject_unknown"


async def test_flag_released_in_flight_does_not_hold(running: Running) -> None:
    """The re-check looks at the flag as it is at the last moment, in both directions."""
    person = running.residents[4]
    await running.flag(person, ard=False, nd=True)
    running.upstream.delay = 0.3
    ans = await running.submit(Query("R-3", person.subject_code))
    assert ans.status == "PROVIDED"
