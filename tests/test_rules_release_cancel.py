"""lua/flag_release_cancel.lua through every combination of its facts against the pure core its
table is generated from (gateway/flag_rules.py release_cancel): a pending two-person release
request is withdrawn only by its own department (issue 11: one department's act cannot undo
another's), another department learns nothing of it, and a decided one stays as it is.

As in test_rules_exhaustive.py, each case is built in the real Redis of a running gateway with the
store's keys directly (the request, the pending index, the department's pending marker), the real
script is run through its store (ReleaseRequestStore), and both the outcome and what the step
wrote are compared with the core. The `*_is_safe` check says, without the core, what no change to
it may do.
"""

from __future__ import annotations

import itertools

import pytest

from gateway import flag_rules
from gateway.flags import ReleaseRequestError, cancel_release, release_request
from gateway.store.release_requests import ReleaseRequestStore, RequestRefused
from gateway.store.rules_lua import RULES
from tests.conftest import Running
from tests.flag_support import events_of, flag
from tests.test_flags_release import _ask
from tests.test_rules_exhaustive import events_are

BOOLS = (False, True)
DEPT, OTHER_DEPT = "D100", "D200"
STATES = (None, "pending", "confirmed", "cancelled", "superseded")  # None: no such request


# -- the rule's safety, said without the core -----------------------------------------------------
def test_no_request_is_withdrawn_but_by_its_own_department_is_safe() -> None:
    for key, out in RULES["release_cancel"].table().items():
        found, _, own = key.split(":")
        assert (out == "cancelled") is (key == "1:1:1"), key
        if found == "1" and own == "0":  # not even whether it is still pending
            assert out == "other_department", key


# -- lua/flag_release_cancel.lua ------------------------------------------------------------------
async def test_a_release_request_is_withdrawn_as_the_core_says(running: Running) -> None:
    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    store = ReleaseRequestStore(gw.redis, gw.keyring)
    expected: dict[tuple[str, str], list[str]] = {}
    for n, (state, own) in enumerate(itertools.product(STATES, BOOLS)):
        pk, rid = f"9.{n:039x}c", f"{n:013x}cafe01"
        marker = k.release_request_of(pk, DEPT)
        if state is not None:
            await r.hset(
                k.release_request(rid),
                mapping={"id": rid, "person": pk, "department": DEPT, "state": state},
            )
            if state == "pending":
                await r.zadd(k.release_requests_pending, {rid: n})
                await r.set(marker, rid)
        want = flag_rules.release_cancel(state is not None, state == "pending", own)
        case = (state, own)
        try:
            await store.cancel(rid, "staff:c", DEPT if own else OTHER_DEPT)
            outcome = "cancelled"
        except RequestRefused as exc:
            outcome = exc.reason
            assert exc.state == (state if outcome == "decided" else ""), case
        assert outcome == want, case
        after = await r.hget(k.release_request(rid), "state")
        still_pending = await r.zscore(k.release_requests_pending, rid) is not None
        if want == "cancelled":
            assert (after, still_pending, await r.get(marker)) == ("cancelled", False, None), case
        else:  # nothing written
            assert after == state, case
            assert still_pending is (state == "pending"), case
            assert (await r.get(marker) is not None) is (state == "pending"), case
        expected[("subject", pk)] = ["flag.release_cancelled"] if want == "cancelled" else []
    await events_are(running, expected)


# -- through gateway.flags, as the console and the API reach it -----------------------------------
async def test_another_department_cannot_withdraw_a_pending_request(running: Running) -> None:
    """Issue 11: the request of 子ども家庭課 stays pending whoever of 税務課 tries to withdraw it
    (even its own requester, moved there); the attempt is a security event and says nothing of the
    request. Its own department still withdraws it."""
    gw, person = running.gw, running.residents[6]
    await flag(gw, person)
    req = await _ask(running, 6)
    for who in ("staff:registrar1", "staff:other"):
        with pytest.raises(ReleaseRequestError, match="no release request") as refused:
            await cancel_release(gw, request_id=req.id, cancelled_by=who, department="税務課")
        assert refused.value.reason == "other_department"
    still = await release_request(gw, request_id=req.id)
    assert still is not None and still.state == "pending"
    assert await events_of(gw, "flag.release_cancelled") == []
    mismatches = await events_of(gw, "security.department_mismatch")
    assert [e["request"] for e in mismatches] == [req.id, req.id]
    done = await cancel_release(
        gw, request_id=req.id, cancelled_by="staff:registrar2", department="子ども家庭課"
    )
    assert done.state == "cancelled"
