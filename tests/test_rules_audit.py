"""The audit trail's store steps that decide, through every combination of their facts, against
the pure core their tables are generated from (gateway/audit_rules.py): a role's lease
(lua/audit_lease.lua), sealing a block (audit_seal.lua) and trimming what was archived
(audit_trim.lua).

Each case is built in a real Redis with the store's keys directly, for a gateway whose own sealer
and archiver do not run (audit_support.fresh), the real script is run through its store
(TrailStore), and both the outcome and what the step wrote (the lease, the trail, the raw
events, the head and its archive mark) are compared with the core. The `*_is_safe` check says,
without the core, what no change to it may do: nothing is sealed or trimmed by a process that
does not hold the role, nothing sealed onto a head it was not built on, nothing trimmed past the
sealed head.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from gateway import audit_rules
from gateway.context import Gateway
from gateway.settings import Settings
from gateway.store.rules_lua import RULES
from gateway.store.trail import GENESIS, Head, HeadMoved, LeaseLost, TrailCorrupt
from tests.audit_support import fresh, reset_trail

BOOLS = (False, True)
OURS, THEIRS = "7:sealer-me", "8:sealer-other"
HASH = "ab" * 32


def test_no_table_lets_a_trail_step_through_unless_every_fact_allows_it_is_safe() -> None:
    for key, out in RULES["seal"].table().items():
        assert (out == "sealed") is (key == "1:1:1"), key
    for key, out in RULES["trim"].table().items():
        lease_ours, beyond_head, past_mark = key.split(":")
        trims = lease_ours == "1" and beyond_head == "0"
        assert out.startswith("trimmed:") is trims, key
        assert (out == "trimmed:mark") is (trims and past_mark == "1"), key  # never back
    for key, out in RULES["lease"].table().items():
        found, ours = key.split(":")
        if found == "1":  # a lease held is never taken over, only renewed by its holder
            assert out == ("renew" if ours == "1" else "taken"), key
        else:
            assert out == "take", key


@pytest.fixture
async def gw(settings: Settings, redis_url: str) -> AsyncIterator[Gateway]:
    async with fresh(settings, redis_url) as gateway:
        yield gateway


async def _state(gw: Gateway) -> tuple[object, ...]:
    r, k = gw.redis.client, gw.redis.keys
    return (
        await r.xrange(k.events),
        await r.xrange(k.trail),
        await r.hgetall(k.audit_head),
        await r.get(k.audit_lease("sealer")),
        await r.get(k.audit_lease("archiver")),
    )


async def test_a_lease_is_held_as_the_core_says(gw: Gateway) -> None:
    r, k, trail = gw.redis.client, gw.redis.keys, gw.trail
    for found, ours in itertools.product(BOOLS, BOOLS):
        await reset_trail(gw)
        await r.set(k.audit_epoch("sealer"), 8)
        held = OURS if ours else ""
        if found:
            await r.set(k.audit_lease("sealer"), OURS if ours else THEIRS, px=1000)
        want = audit_rules.lease(found, ours)
        got = await trail.take_lease("sealer", "sealer-me", held, 30.0)
        now = await r.get(k.audit_lease("sealer"))
        ttl = await r.pttl(k.audit_lease("sealer"))
        case = (found, ours)
        if want == "taken":
            assert (got, now, await r.get(k.audit_epoch("sealer"))) == (None, THEIRS, "8"), case
            assert ttl <= 1000, case
        elif want == "renew":
            assert (got, now, await r.get(k.audit_epoch("sealer"))) == (OURS, OURS, "8"), case
            assert ttl > 1000, case  # its time started again
        else:  # taken under the next epoch: the fencing token a stalled holder cannot match
            assert (got, now, await r.get(k.audit_epoch("sealer"))) == ("9:sealer-me",) * 2 + (
                "9",
            ), case
            assert ttl > 1000, case


async def test_a_block_is_sealed_as_the_core_says(gw: Gateway) -> None:
    r, k, trail = gw.redis.client, gw.redis.keys, gw.trail
    # the lease: ours, another's, or none; the trail's last entry: none, older, not older
    leases = ((True, OURS), (False, THEIRS), (False, None))
    trails = ((True, None), (True, "1000-0"), (False, "2000-1"))
    # the head the block was built on: the head, one before it, or the same seq on another chain
    heads = ("same", "seq", "hash")
    for (ours, lease), built_on, (before, last) in itertools.product(leases, heads, trails):
        head_same = built_on == "same"
        await reset_trail(gw)
        if lease:
            await r.set(k.audit_lease("sealer"), lease, px=60_000)
        await r.hset(k.audit_head, mapping={"seq": 3, "hash": HASH, "key": 1})
        if last:
            await r.xadd(k.trail, {"e": "older line"}, id=last)
        raw = ["2000-0", "2000-1"]
        for raw_id in raw:
            await r.xadd(k.events, {"kind": "test.event"}, id=raw_id)
        head = await trail.head()
        if built_on == "seq":  # a block built on the head before: another sealer sealed meanwhile
            head = Head(seq=2, hash=GENESIS)
        elif built_on == "hash":  # the same seq, another chain: a fork is never sealed
            head = Head(seq=3, hash=GENESIS)
        batch = [(raw_id, f"line {raw_id}", f"{i:064x}") for i, raw_id in enumerate(raw, 1)]
        want = audit_rules.seal(ours, head_same, before)
        case = (lease, built_on, last)
        before_state = await _state(gw)
        try:
            got = "sealed" if await trail.seal(OURS, head, 1, batch) == 5 else "wrong seq"
        except LeaseLost:
            got = "lease_lost"
        except HeadMoved:
            got = "head_moved"
        except TrailCorrupt:
            got = "trail_ahead"
        assert got == want, case
        if want == "sealed":
            lines = [f["e"] for _, f in await r.xrange(k.trail)]
            assert lines[-2:] == ["line 2000-0", "line 2000-1"], case
            assert await r.xlen(k.events) == 0, case  # moved out of the raw stream
            h = await r.hgetall(k.audit_head)
            assert (h["seq"], h["hash"], h["sealed_by"]) == ("5", batch[-1][2], OURS), case
        else:
            assert await _state(gw) == before_state, case  # nothing written


async def test_the_archived_trail_is_trimmed_as_the_core_says(gw: Gateway) -> None:
    r, k, trail = gw.redis.client, gw.redis.keys, gw.trail
    lease = "3:archiver-me"
    for ours, mark, upto in itertools.product(BOOLS, (5, 15), (3, 7, 12, 20)):
        await reset_trail(gw)
        await r.set(k.audit_lease("archiver"), lease if ours else "4:archiver-other", px=60_000)
        await r.hset(k.audit_head, mapping={"seq": 10, "hash": HASH, "archived_seq": mark})
        for seq in range(1, 11):
            await r.xadd(k.trail, {"e": f"line {seq}"}, id=f"{seq}-0")
        want = audit_rules.trim(ours, upto > 10, upto > mark)
        case = (ours, mark, upto)
        before_state = await _state(gw)
        try:
            removed = await trail.trim(lease, upto, f"{upto:064x}", f"{upto}-0", "f.jsonl")
            got = "trimmed:" + (
                "mark" if int((await trail.head()).archived_seq) == upto else "keep"
            )
        except LeaseLost:
            got, removed = "lease_lost", 0
        except TrailCorrupt:
            got, removed = "beyond_head", 0
        assert got == want, case
        if want.startswith("trimmed:"):
            assert removed == upto and await r.xlen(k.trail) == 10 - upto, case
            archived = (await trail.head()).archived_seq
            assert archived == (upto if want == "trimmed:mark" else mark), case
        else:
            assert await _state(gw) == before_state, case  # nothing dropped, the mark kept
