"""The administrative steps that decide, through every combination of their facts, against the
pure core their tables are generated from (gateway/step_rules.py): a requester's rights
(lua/requester_rights.lua), the login lock-out (staff_login_failed.lua, staff_login_ok.lua), a
console session's validity (staff_session.lua), an attempt's acknowledgement (attempt_ack.lua)
and the four-eyes release (staff_claim, staff_unclaim, staff_propose, staff_confirm, staff_withdraw).

As in test_rules_exhaustive.py, each case is built in the real Redis of a running gateway with
the store's keys directly, the real script is run through its store, and both the outcome and
what the step wrote are compared with the core. The `*_is_safe` checks say, without the core,
what no change to it may do.
"""

from __future__ import annotations

import itertools

import pytest

from gateway import step_rules
from gateway.errors import AckRefused, UnknownRequester
from gateway.step_rules import Who
from gateway.store.attempts import AttemptStore
from gateway.store.claims import ClaimOutcome, ClaimStore
from gateway.store.requesters import RequesterStore
from gateway.store.rules_lua import RULES
from gateway.store.sessions import SessionStore
from gateway.store.users import UserStore
from tests.conftest import Running

BOOLS = (False, True)
ME, OTHER = "staff-me", "staff-other"
AFFAIR_X, PROC_A, PROC_B = "JM00000000000077", "JT00000000000071", "JT00000000000072"
LIMIT, LOCKOUT_MS, CLAIM_MS = 3, 600_000, 60_000


def _login(who: Who) -> str | None:
    return {Who.NONE: None, Who.SELF: ME, Who.OTHER: OTHER}[who]


# -- the rules' safety, said without the core -----------------------------------------------------
def test_no_table_lets_a_step_through_unless_every_fact_allows_it() -> None:
    for key, out in RULES["confirm"].table().items():
        held, proposal, claim, confirmer = key.split(":")
        # held, another approver's proposal, nobody else's claim or confirmation
        safe = held == "1" and proposal == "other" and "other" not in (claim, confirmer)
        assert (out == "ok") is safe, key
        if proposal == "self" and held == "1":
            assert out == "same_person", key  # nobody confirms their own proposal
    for key, out in RULES["propose"].table().items():
        held, claim, proposal = key.split(":")
        assert (out == "ok") is (held == "1" and claim == "self" and proposal != "other"), key
    for key, out in RULES["withdraw"].table().items():
        assert (out == "ok") is (key == "self:none"), key
    for key, out in RULES["claim"].table().items():
        assert (out == "ok") is (key in ("1:none", "1:self")), key
    for key, out in RULES["unclaim"].table().items():
        assert (out == "ok") is (key == "self"), key
    for key, out in RULES["login_ok"].table().items():
        assert (out == "ok") is (key == "1:0:0"), key  # the same password, enabled, not locked
    for key, out in RULES["login_failed"].table().items():
        wrong_password, known, _ = key.split(":")
        counts = wrong_password == "1" and known == "1"
        assert (out != "recorded") is counts, key  # nobody locks a login by naming it
        assert (out == "locked") is (key == "1:1:1"), key
    for key, out in RULES["session"].table().items():
        found, *ends = key.split(":")
        if found == "0":
            assert out == "none", key
        else:  # within both ends, its user there, enabled, with the password it opened with
            assert (out == "ok") is (ends == ["0", "0", "1", "0", "1"]), key
            assert out in ("ok", "ended"), key
    for key, out in RULES["attempt_ack"].table().items():
        found, own, open_ = key.split(":")
        if (found, own) != ("1", "1"):  # another department's attempt is as unknown
            assert out == "unknown", key
        else:
            assert out == ("acknowledged" if open_ == "1" else "already"), key
    for key, out in RULES["rights_change"].table().items():
        registered, grant, whole, holds = key.split(":")
        if registered == "0":
            assert out == "unknown", key  # no right is kept for a requester that is not
        elif (grant, whole, holds) == ("0", "0", "1"):
            assert out == "whole_affair", key
        else:
            assert out == "ok", key


# -- lua/staff_claim.lua, staff_unclaim.lua, staff_propose.lua, staff_confirm.lua, staff_withdraw.lua
class Case:
    """One held (or not held) query with a claim, a proposal and its confirmer as the store
    keeps them (claims.py, lua/claim.lua), fresh for each combination."""

    def __init__(self, running: Running, n: int, name: str) -> None:
        self.gw = running.gw
        self.claims = ClaimStore(self.gw.redis, self.gw.keyring)
        self.qid = f"{name[:4]}{n:016x}"

    async def build(
        self, held: bool, claim: Who, proposal: Who = Who.NONE, confirmer: Who = Who.NONE
    ) -> None:
        r, k = self.gw.redis.client, self.gw.redis.keys
        await r.hset(
            k.query(self.qid), mapping={"id": self.qid, "state": "held" if held else "provided"}
        )
        holder = _login(claim)
        if holder:
            until = self.gw.redis.clock.now_ms() + CLAIM_MS
            await r.set(k.staff_claim(self.qid), f"{holder}|{until}", px=CLAIM_MS)
        by = _login(proposal)
        if by:
            notice = self.gw.keyring.seal("取扱注意", f"proposal:{self.qid}:notice")
            fields = {"by": by, "notice": notice, "at": "2026-12-01T00:00:00Z", "seen": "s1"}
            if _login(confirmer):
                fields["confirmer"] = _login(confirmer)
            await r.hset(k.staff_proposal(self.qid), mapping=fields)
        elif _login(confirmer):  # a confirmer on no proposal: only a store written past us
            await r.hset(k.staff_proposal(self.qid), "confirmer", _login(confirmer))

    async def claim_of(self) -> str | None:
        held = await self.claims.holders([self.qid])
        return held[self.qid].holder if self.qid in held else None

    async def proposal_of(self) -> tuple[str | None, str | None]:
        raw = await self.gw.redis.client.hgetall(self.gw.redis.keys.staff_proposal(self.qid))
        return raw.get("by"), raw.get("confirmer")


async def _outcome(step: object) -> str:
    try:
        await step  # type: ignore[misc]
    except ClaimOutcome as refused:
        return refused.code
    return "ok"


async def test_claiming_acts_as_the_core_says(running: Running) -> None:
    for n, (held, claim) in enumerate(itertools.product(BOOLS, Who)):
        c = Case(running, n, "clai")
        await c.build(held, claim)
        want = step_rules.claim(held, claim)
        got = await _outcome(c.claims.claim(c.qid, ME, CLAIM_MS))
        assert got == want, (held, claim)
        assert await c.claim_of() == (ME if want == "ok" else _login(claim)), (held, claim)


async def test_giving_a_claim_back_acts_as_the_core_says(running: Running) -> None:
    for n, claim in enumerate(Who):
        c = Case(running, n, "uncl")
        await c.build(True, claim)
        want = step_rules.unclaim(claim)
        assert await _outcome(c.claims.unclaim(c.qid, ME)) == want, claim
        assert await c.claim_of() == (None if want == "ok" else _login(claim)), claim


async def test_proposing_acts_as_the_core_says(running: Running) -> None:
    for n, (held, claim, proposal) in enumerate(itertools.product(BOOLS, Who, Who)):
        c = Case(running, n, "prop")
        await c.build(held, claim, proposal)
        want = step_rules.propose(held, claim, proposal)
        case = (held, claim, proposal)
        assert await _outcome(c.claims.propose(c.qid, ME, "取扱注意", "s2")) == want, case
        if want == "ok":  # proposed, and the claim given up for a second approver
            assert (await c.proposal_of(), await c.claim_of()) == ((ME, None), None), case
        else:
            assert await c.proposal_of() == (_login(proposal), None), case
            assert await c.claim_of() == _login(claim), case


async def test_confirming_acts_as_the_core_says(running: Running) -> None:
    cases = itertools.product(BOOLS, Who, Who, Who)
    for n, (held, proposal, claim, confirmer) in enumerate(cases):
        c = Case(running, n, "conf")
        await c.build(held, claim, proposal, confirmer)
        want = step_rules.confirm(held, proposal, claim, confirmer)
        case = (held, proposal, claim, confirmer)
        got = await _outcome(c.claims.take_for_confirmation(c.qid, ME, CLAIM_MS))
        assert got == want, case
        if want == "ok":  # the confirmer holds the claim and is marked on the proposal
            assert await c.proposal_of() == (OTHER, ME), case
            assert await c.claim_of() == ME, case
        else:
            assert await c.proposal_of() == (_login(proposal), _login(confirmer)), case
            assert await c.claim_of() == _login(claim), case


async def test_withdrawing_acts_as_the_core_says(running: Running) -> None:
    for n, (proposal, confirmer) in enumerate(itertools.product(Who, Who)):
        c = Case(running, n, "with")
        await c.build(True, Who.NONE, proposal, confirmer)
        want = step_rules.withdraw(proposal, confirmer)
        case = (proposal, confirmer)
        assert await _outcome(c.claims.withdraw(c.qid, ME)) == want, case
        after = await c.proposal_of()
        assert after == ((None, None) if want == "ok" else (_login(proposal), _login(confirmer)))


# -- lua/staff_login_failed.lua, staff_login_ok.lua ------------------------------------------------
REASONS = ("password", "unknown_login", "disabled", "locked")


async def test_a_failed_login_counts_and_locks_as_the_core_says(running: Running) -> None:
    gw = running.gw
    users, r, k = UserStore(gw.redis), gw.redis.client, gw.redis.keys
    for n, (reason, known, failed) in enumerate(itertools.product(REASONS, BOOLS, range(LIMIT))):
        login = f"user-{n}"
        if known:
            await r.hset(k.staff_user(login), mapping={"login": login, "failed": failed})
        want = step_rules.login_failure(reason == "password", known, failed + 1 >= LIMIT)
        case = (reason, known, failed)
        before = gw.redis.clock.now_ms()
        locked = await users.login_failed(login, login, "127.0.0.1", reason, LIMIT, LOCKOUT_MS)
        since = gw.redis.clock.now_ms()
        assert locked is (want == "locked"), case
        after = await r.hmget(k.staff_user(login), "failed", "locked_until")
        if not known:
            assert after == [None, None], case  # an unknown login is not made into a user
        elif want == "locked":
            assert after[0] == "0", case  # locked for the lock-out by the gateway's clock
            assert before + LOCKOUT_MS <= int(after[1]) <= since + LOCKOUT_MS, case
        else:
            assert after == [str(failed + (want == "counted")), None], case


async def test_a_session_opens_as_the_core_says(running: Running) -> None:
    gw = running.gw
    sessions, r, k = SessionStore(gw.redis), gw.redis.client, gw.redis.keys
    now = gw.redis.clock.now_ms()
    for n, (same, disabled, locked) in enumerate(itertools.product(BOOLS, BOOLS, BOOLS)):
        login, digest = f"open-{n}", f"{n:064x}"
        await r.hset(
            k.staff_user(login),
            mapping={
                "login": login, "pw": "$argon2id$stored", "epoch": "3", "failed": "2",
                "disabled": int(disabled), "locked_until": now + 1000 if locked else now - 1,
            },
        )  # fmt: skip
        want = step_rules.session_opening(same, disabled, locked)
        pw = "$argon2id$stored" if same else "$argon2id$older"
        case = (same, disabled, locked)
        refused = await sessions.open(digest, login, pw, "csrf", 60_000, 600_000, "127.0.0.1")
        assert refused == (None if want == "ok" else want.partition(":")[2]), case
        session = await r.hgetall(k.staff_session(digest))
        failed = await r.hget(k.staff_user(login), "failed")
        if want == "ok":
            assert (session["login"], session["epoch"], failed) == (login, "3", "0"), case
        else:
            assert (session, failed) == ({}, "2"), case


async def test_a_session_stays_valid_as_the_core_says(running: Running) -> None:
    gw = running.gw
    sessions, r, k = SessionStore(gw.redis), gw.redis.client, gw.redis.keys
    now, idle = gw.redis.clock.now_ms(), 60_000
    # the idle end: reached, ahead, or not stored (a session opened before it was)
    idle_ends = ((True, now - 1), (False, now + 600_000), (False, None))
    cases = [(False, False, False, None, False, False, False)]
    cases += [
        (True, past_end, past_idle, idle_end, user, disabled, same)
        for past_end, (past_idle, idle_end), user, disabled, same in itertools.product(
            BOOLS, idle_ends, BOOLS, BOOLS, BOOLS
        )
    ]
    for n, (found, past_end, past_idle, idle_end, user, disabled, same) in enumerate(cases):
        login, digest = f"sess-{n}", f"{n + 4096:064x}"
        if user:
            await r.hset(
                k.staff_user(login),
                mapping={"login": login, "role": "approver", "department": "d1",
                         "disabled": int(disabled), "epoch": "5"},
            )  # fmt: skip
        if found:
            fields = {"login": login, "csrf": "c", "epoch": "5" if same else "4",
                      "abs_ms": now - 1 if past_end else now + 600_000}  # fmt: skip
            if idle_end is not None:
                fields["idle_until_ms"] = idle_end
            await r.hset(k.staff_session(digest), mapping=fields)
        # a user that is gone has no epoch: the session's is never the same as none
        want = step_rules.session_check(found, past_end, past_idle, user, disabled, same and user)
        case = (found, past_end, past_idle, idle_end, user, disabled, same)
        got = await sessions.touch(digest, idle)
        assert (got is not None) is (want == "ok"), case
        kept = await r.hgetall(k.staff_session(digest))
        if want == "ok":
            assert got is not None and (got.login, got.role) == (login, "approver"), case
            assert int(kept["idle_until_ms"]) >= now + idle, case  # the idle end renewed
        else:
            assert kept == {}, case  # an ended session is deleted, none is made


# -- lua/attempt_ack.lua ------------------------------------------------------------------------
async def test_an_attempt_is_acknowledged_as_the_core_says(running: Running) -> None:
    gw = running.gw
    store, r, k = AttemptStore(gw.redis, gw.keyring), gw.redis.client, gw.redis.keys
    for n, (found, own, open_) in enumerate(itertools.product(BOOLS, BOOLS, BOOLS)):
        if not found and (own or open_):
            continue  # no attempt has no department and no state
        attempt, dept = f"ack-{n}", "dept-own" if own else "dept-other"
        state = "open" if open_ else "acknowledged"
        if found:
            fields = {"id": attempt, "department": dept, "state": state, "person": "pk",
                      "kind": "hold", "ack_by": "earlier" if not open_ else ""}  # fmt: skip
            await r.hset(k.attempt(attempt), mapping=fields)
        before = await r.hgetall(k.attempt(attempt))
        want = step_rules.attempt_acknowledgement(found, own, open_)
        case = (found, own, open_)
        try:
            await store.acknowledge(attempt, "dept-own", "told", "", "registrar")
            got = "acknowledged"
        except AckRefused as refused:
            got = refused.code
        assert got == want, case
        after = await r.hgetall(k.attempt(attempt))
        if want == "acknowledged":
            assert (after["state"], after["ack_by"]) == ("acknowledged", "registrar"), case
        else:
            assert after == before, case  # nothing recorded on a refused acknowledgement


# -- lua/requester_rights.lua --------------------------------------------------------------------
@pytest.mark.parametrize("grant", BOOLS)
async def test_a_rights_change_acts_as_the_core_says(running: Running, grant: bool) -> None:
    gw = running.gw
    store, r, k = RequesterStore(gw.redis), gw.redis.client, gw.redis.keys
    held_before = ((), (AFFAIR_X,), (f"{AFFAIR_X}:{PROC_A}",), (AFFAIR_X, f"{AFFAIR_X}:{PROC_B}"))
    cases = itertools.product(BOOLS, BOOLS, held_before)
    for n, (registered, whole, before) in enumerate(cases):
        org = f"{7 if grant else 6}{n:015d}"
        if registered:
            await r.hset(k.requester(org), mapping={"org": org, "name": "表"})
        if before:  # rights left behind without the requester count for nothing, and stay
            await r.sadd(k.requester_rights(org), *before)
        procedures = [] if whole else [PROC_A]
        want = step_rules.rights_change(registered, grant, whole, AFFAIR_X in before)
        case = (registered, whole, before)
        step = store.grant if grant else store.revoke
        try:
            await step(org, AFFAIR_X, procedures, "admin")
            got = "ok"
        except UnknownRequester:
            got = "unknown"
        except ValueError:
            got = "whole_affair"
        assert got == want, case
        after = await r.smembers(k.requester_rights(org))
        asked = {AFFAIR_X} if whole else {f"{AFFAIR_X}:{PROC_A}"}
        if want != "ok":
            assert after == set(before), case
        elif grant:
            assert after == set(before) | asked, case
        elif whole:  # the affair and every procedure of it
            assert after == set(), case
        else:
            assert after == set(before) - asked, case
