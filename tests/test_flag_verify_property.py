"""The check against any legitimate history, and against any one edit made past the gateway
(Hypothesis over real redis-server): flag sets and releases by several departments, directory
imports and remaps never make it raise a mismatch (no false alarm); after them, any single edit by
hand of a flag record, a hold, a history or a directory entry that changes it is found."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gateway.audit.sealer import Sealer
from gateway.context import Gateway, open_gateway
from gateway.directory_import import import_pairs
from gateway.flags import release_flags, set_flags
from gateway.settings import Settings
from gateway.verify.check import Verifier

DEPARTMENTS = {"子ども家庭課": "児童手当業務", "税務課": None, "高齢者支援課": None}
PERSONS = 3
FLAGS = ((True, True), (True, False), (False, True))
ACT = st.one_of(
    st.tuples(
        st.sampled_from(("set", "release")),
        st.integers(0, PERSONS - 1),
        st.sampled_from(sorted(DEPARTMENTS)),
        st.sampled_from(FLAGS),
    ),
    # a new code for a person, or a code moved to another person (held for review)
    st.tuples(st.just("import"), st.integers(0, PERSONS - 1), st.integers(0, 5), st.just(None)),
)
EDITS = (
    "flip_ard",
    "flip_nd",
    "count",
    "flip_hold",
    "drop_hold",
    "drop_record",
    "forge_entry",
    "drop_entry",
    "move_entry",
    "copy_entry",
    "garble_hold",
)
_examples = itertools.count()


def _atena(n: int, p: int) -> str:
    return f"95{n:06d}{p:07d}"


async def _legitimate(gw: Gateway, n: int, acts: list[tuple[Any, ...]]) -> dict[int, set[str]]:
    """The acts through the gateway's own services; which departments hold what, per person."""
    held: dict[int, dict[str, tuple[bool, bool]]] = {p: {} for p in range(PERSONS)}
    pairs = [(_atena(n, p), f"V{n}P{p}C0") for p in range(PERSONS)]
    await import_pairs(gw.directory, gw.events, pairs, "os:op@h")
    for act, p, dept, flags in acts:
        if act == "import":
            code = f"V{n}C{dept}"
            await import_pairs(
                gw.directory, gw.events, [(_atena(n, p), code)], "os:op@h", allow_remap=True
            )
            continue
        ard, nd = flags
        if act == "set":
            await set_flags(
                gw,
                atena_number=_atena(n, p),
                name="試験 花子",
                department=dept,
                business=DEPARTMENTS[dept],
                basis="application",
                until=None,
                auto_response_disabled=ard,
                non_disclosure=nd,
                actor="staff:r",
            )
            old = held[p].get(dept, (False, False))
            held[p][dept] = (old[0] or ard, old[1] or nd)
        else:
            hold = held[p].get(dept, (False, False))
            if not ((ard and hold[0]) or (nd and hold[1])):
                continue  # the rules refuse a release of flags not on: nothing to do
            await release_flags(
                gw,
                atena_number=_atena(n, p),
                basis="application",
                note="本人申出",
                auto_response_disabled=ard,
                non_disclosure=nd,
                actor="os:op",
                department=dept,
            )
            held[p][dept] = (hold[0] and not ard, hold[1] and not nd)
    return {p: set(h) for p, h in held.items()}


async def _round(gw: Gateway, v: Verifier) -> Any:
    await Sealer(gw.trail, gw.keyring, gw.settings).settle(5.0)
    return await v.run()


async def _edit(gw: Gateway, n: int, which: str, pick: int, held: dict[int, set[str]]):  # type: ignore[no-untyped-def]
    """One edit by hand that changes something; ('person' | 'subject', key) it touched, or None
    when this history has nothing it could change."""
    r, k = gw.redis.client, gw.redis.keys
    flagged = [p for p in range(PERSONS) if held[p]]
    if which in ("move_entry", "copy_entry") or not flagged:
        codes = [k.directory(gw.keyring.person_key("subject", f"V{n}P{p}C0")) for p in range(3)]
        key = codes[pick % 3]
        sk = key.removeprefix(k.prefix + "dir:")
        if which == "copy_entry":
            # another subject's entry, with its good MAC: a MAC for another subject
            await r.set(key, await r.get(codes[(pick + 1) % 3]))
        else:
            other = gw.keyring.person_key("atena", _atena(n, (pick + 1) % 3))
            await r.set(key, other)
        return "subject", sk
    p = flagged[pick % len(flagged)]
    pk = gw.keyring.person_key("atena", _atena(n, p))
    dept = sorted(held[p])[pick % len(held[p])]
    record = await r.hgetall(k.flag(pk))
    if which in ("flip_ard", "flip_nd"):
        field = "ard" if which == "flip_ard" else "nd"
        await r.hset(k.flag(pk), field, "0" if record[field] == "1" else "1")
    elif which == "count":
        await r.hset(k.flag(pk), "ard_holds", int(record["ard_holds"]) + 1)
    elif which == "flip_hold":
        hold = json.loads(await r.hget(k.flag_holds(pk), dept))
        hold["ard"] = "0" if hold["ard"] == "1" else "1"
        await r.hset(k.flag_holds(pk), dept, json.dumps(hold))
    elif which == "drop_hold":
        await r.hdel(k.flag_holds(pk), dept)
    elif which == "garble_hold":
        await r.hset(k.flag_holds(pk), dept, "{")
    elif which == "drop_record":
        await r.delete(k.flag(pk))
        await r.zrem(k.flag_index, pk)
    elif which == "forge_entry":
        [last] = await r.lrange(k.flag_hold_history(pk, dept), -1, -1)
        entry = json.loads(last)
        entry["dept_ard"] = 1 - int(entry["dept_ard"])
        await r.rpush(k.flag_hold_history(pk, dept), json.dumps(entry))
    elif which == "drop_entry":
        await r.rpop(k.flag_hold_history(pk, dept))
    return "person", pk


def test_no_false_alarm_and_any_one_edit_is_found(redis_url: str, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()

    @hsettings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        acts=st.lists(ACT, min_size=1, max_size=8),
        edit=st.sampled_from(EDITS),
        pick=st.integers(0, 11),
    )
    def check(acts: list[tuple[Any, ...]], edit: str, pick: int) -> None:
        loop.run_until_complete(_example(redis_url, tmp_path, acts, edit, pick))

    try:
        check()
    finally:
        loop.close()


async def _example(
    redis_url: str, tmp_path: Path, acts: list[tuple[Any, ...]], edit: str, pick: int
) -> None:
    n = next(_examples)
    data = tmp_path / f"ex{n}"
    gw = await open_gateway(Settings(data_dir=data, store_timeout=5.0), redis_url)
    try:
        await gw.redis.client.flushall()
        held = await _legitimate(gw, n, acts)
        v = Verifier(gw)
        for _ in range(3):  # the start marker and the directory's seal, folded: no alarm ever
            report = await _round(gw, v)
            assert report.ok, (acts, report.as_json())
        assert v.fold is not None and v.fold.started and v.fold.directory_sealed
        scope, key = await _edit(gw, n, edit, pick, held)
        report = await _round(gw, v)
        found = report.persons if scope == "person" else report.subjects
        assert key in found, (acts, edit, report.as_json())
    finally:
        await gw.close()
        shutil.rmtree(data, ignore_errors=True)
