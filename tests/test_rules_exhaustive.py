"""The rule you read is the rule that runs: every script that decides, through every combination of
its facts (and every state a query can be in), against the pure core it is generated from.

Each case is built in the real Redis of the running gateway, the real script is run through the
store (QueryStore), and its outcome, the query's state after, the answer kept or not, the
provision record and the events it wrote are compared with gateway.decision, gateway.recheck and
gateway.lifecycle. The facts are set with the store's keys directly (a requester's key, a rights
set, a directory entry, a flag record, an open review): that is the only way to reach every
combination, including ones the gateway's own writers make only by racing (a flag set, a subject
moved, a review opened while the upstream answers). The gateway's writers of those keys are
covered by the behaviour tests (test_quarantine.py, test_flags*.py, test_directory_import.py).

Because the Lua tables are generated from the core when a script is loaded, a change to the core
alone changes the tables with it; what this module catches is a script that gathers a fact
wrongly, acts otherwise than its table says, or a table that is not the core's. And each rule's
safety (`*_is_safe` below, written without the core) pins what no change to the core may do.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Iterator

from gateway.decision import (
    REVIEW_REASONS,
    Action,
    AdmissionFacts,
    RelayFacts,
    ResultAccess,
    decide,
    record_is_non_disclosable,
    relay,
    result_access,
)
from gateway.lifecycle import ABANDONABLE, STEPS, TRANSITIONS, IllegalTransition, may_move
from gateway.model import FlagState, QueryState, SubmitQuery, UpstreamAnswer
from gateway.orders import ReleaseOrder
from gateway.recheck import AnswerFacts, answer_withheld
from gateway.store.rules_lua import RULES
from tests.conftest import Running
from tests.support import AFFAIR, REQUESTER

PROCEDURE, ITEM = "JT00000000000001", "TM00000000000001"
NOTICE = "取扱注意：DV等支援措置対象者。住所を第三者に開示しないこと。"
REVIEWS: tuple[str | None, ...] = (None, *(r.value for r in REVIEW_REASONS))
BOOLS = (False, True)


async def events_are(running: Running, expected: dict[tuple[str, str], list[str]]) -> None:
    """The kinds of the events each case wrote (those whose field `org`, `query`, `subject` or
    `review` is the case's), read through the event log once the whole table has run (the sealer moves events
    from the raw stream into the trail meanwhile)."""
    seen: dict[tuple[str, str], list[str]] = {}
    async for ev in running.gw.events.iterate():
        e = ev.as_json()
        for field in ("org", "query", "subject", "review"):
            if field in e:
                seen.setdefault((field, str(e[field])), []).append(str(e["kind"]))
    assert expected
    for case, kinds in expected.items():
        assert seen.get(case, []) == kinds, case


# -- the rules' safety, said without the core -----------------------------------------------------
def test_no_table_answers_automatically_unless_every_fact_is_safe() -> None:
    """Whatever the core is changed to, these must hold for every entry of its tables."""
    for key, out in RULES["admit"].table().items():
        registered, permitted, existing, known, ard, review = key.split(":")
        safe = (registered, permitted, existing, known, ard, review) == (
            "1",
            "1",
            "0",
            "1",
            "0",
            "-",
        )
        assert out.startswith("forward:") is safe, key
        if registered == "0" or permitted == "0":
            assert out == "refuse:NOT_AUTHORIZED", key
    for key, out in RULES["relay"].table().items():
        assert out.startswith("forward:") is (key == "1:0:0:-"), key
    for key, out in RULES["record_nd"].table().items():
        assert out == ("1" if "1" in key.split(":") else "0"), key
    for key, out in RULES["result_access"].table().items():
        assert (out == "found") is (key == "1:1:1"), key
    for key, out in RULES["portal_self"].table().items():
        # known, 自動応答不可, changed in the view, review, the upstream had data
        known, ard, _, review, has_data = key.split(":")
        safe = (known, ard, review, has_data) == ("1", "0", "-", "1")
        assert out.startswith("shown:") is safe, key
    for key, out in RULES["record_shown"].table().items():
        assert (out == "1") is (key == "1:0:-:0"), key  # known, no 不開示, no review, not marked
    for key, out in RULES["portal_records"].table().items():
        assert out.startswith("shown:") is (key == "1:0:-:0"), key
    for key, out in RULES["released_nd"].table().items():
        assert (out == "0") is (key == "1:0:0:0:0"), key  # known now, no one's 不開示, not asked
    for rule, good in (("release_begin", "ok"), ("release_finish", "released")):
        for key, out in RULES[rule].table().items():
            assert (out == good) is (key == "1:1:1"), (rule, key)
    for key, out in RULES["refuse"].table().items():
        assert (out == "refused") is (key == "1:0"), key
    for key, out in RULES["flag_read"].table().items():
        mode, own, own_on, _ = key.split(":")
        if mode == "outside" or (mode != "any" and own == "0") or (mode, own_on) == ("held", "0"):
            assert out.startswith("denied:"), key
        elif mode != "any":  # from its own hold alone: another's flag tells it nothing
            assert out == f"ok:{own_on}", key
    for key, out in RULES["release_request"].table().items():
        assert (out == "ok") is (key == "1:1:1:0"), key
    for key, out in RULES["review_confirm"].table().items():
        assert (out == "confirmed") is (key == "1:1:0"), key
    for key, out in RULES["withheld"].table().items():
        state, moved, review, ard, changed = key.split(":")
        answered = state in ("provided", "released")
        still = moved == "0" and review == "-"
        handed_out = not answered or (
            still and (ard == "0" or (state == "released" and changed == "0"))
        )
        assert (out == "") is handed_out, key


def test_the_tables_cover_every_combination_of_their_facts() -> None:
    for rule in RULES.values():
        n = 1
        for _, values in rule.facts:
            n *= len(values)
        assert len(rule.table()) == n, rule.name


def test_the_steps_are_the_lifecycle() -> None:
    assert set(TRANSITIONS) == set(QueryState)
    assert {(a, b) for moves in STEPS.values() for a, b in moves} == {
        (a, b) for a, targets in TRANSITIONS.items() for b in targets
    }
    assert not TRANSITIONS[QueryState.REFUSED]  # a refusal gives nothing out: nothing changes it


# -- lua/admit.lua: decide() ----------------------------------------------------------------------
def _admit_cases() -> Iterator[tuple[bool, bool, bool, bool, bool, bool, str | None, str]]:
    for registered, permitted, existing, known, ard, nd, review in itertools.product(
        BOOLS, BOOLS, BOOLS, BOOLS, BOOLS, BOOLS, REVIEWS
    ):
        if not known and (ard or nd):
            continue  # no one has no flags
        for scope in ("subject", "person") if review and known else ("subject",):
            yield registered, permitted, existing, known, ard, nd, review, scope


async def test_the_admission_script_acts_as_decide_says_on_every_combination(
    running: Running,
) -> None:
    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    cases = list(_admit_cases())
    assert len(cases) == 2 * 2 * 2 * (1 * 4 + 4 * 7)  # every reachable combination
    expected: dict[tuple[str, str], list[str]] = {}
    for n, (registered, permitted, existing, known, ard, nd, review, scope) in enumerate(cases):
        org, sk, pk = f"8{n:015d}", f"1.{n:040x}", f"1.{n:039x}p"
        if registered:
            await r.hset(k.requester(org), mapping={"org": org, "name": "表"})
        if permitted:  # a right left behind without the requester counts for nothing
            await r.sadd(k.requester_rights(org), AFFAIR)
        first = f"{n:019x}e"
        if existing:
            await r.set(k.idempotency(org, "X-1"), first)
            await r.hset(k.query(first), mapping={"id": first, "state": "held"})
        if known:
            await r.set(k.directory(sk), pk)
            await r.hset(
                k.flag(pk), mapping={"ard": int(ard), "nd": int(nd), "version": "1"}
            )  # fmt: skip
        if review:
            await r.hset(k.quarantined(scope, sk if scope == "subject" else pk), "r", review)

        q = SubmitQuery(
            "X-1", org, AFFAIR, PROCEDURE, ITEM, f"CODE{n}", "2026-11-26T10:00:00+09:00"
        )
        got = await gw.queries.admit(q, [sk])

        facts = AdmissionFacts(
            registered,
            registered and permitted,
            existing,
            known,
            FlagState(ard, nd) if known else None,
            review,
        )
        want = decide(facts)
        case = (registered, permitted, existing, known, ard, nd, review, scope)
        assert got.decision == want, case
        assert got.facts == facts, case
        stored = await r.get(k.idempotency(org, "X-1"))
        if want.action is Action.REFUSE:
            assert got.query_id is None and stored == (first if existing else None), case
            kind = "requester_not_permitted" if registered else "unknown_requester"
            expected[("org", org)] = [f"security.{kind}"]
        elif want.action is Action.EXISTING:
            assert (got.query_id, got.state, stored) == (first, "held", first), case
            expected[("org", org)] = []
        else:
            assert got.query_id and stored == got.query_id, case
            q_now = await r.hgetall(k.query(got.query_id))
            assert q_now["state"] == "received", case
            assert (q_now["person_key"], q_now["subject_nd"]) == (pk if known else "", str(int(nd)))
            assert await r.zscore(k.inflight, got.query_id) is not None, case
            expected[("org", org)] = []
    await events_are(running, expected)


# -- lua/complete.lua: relay() and record_is_non_disclosable() ------------------------------------
def _relay_cases() -> Iterator[tuple[str, bool, bool, str | None, str, bool, bool]]:
    for subject, ard, nd_now, review, nd_then, req_nd in itertools.product(
        ("kept", "moved", "gone"), BOOLS, BOOLS, REVIEWS, BOOLS, BOOLS
    ):
        if subject == "gone" and (ard or nd_now):
            continue  # no one has no flags
        for scope in ("subject", "person") if review and subject != "gone" else ("subject",):
            yield subject, ard, nd_now, review, scope, nd_then, req_nd


async def test_the_last_moment_acts_as_relay_says_on_every_combination(running: Running) -> None:
    """The facts as they may have changed while the upstream answered: the subject kept, moved to
    another person or gone, a flag set, 不開示 now or at arrival, a review opened."""
    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    answer = UpstreamAnswer(True, ())
    cases = list(_relay_cases())
    assert len(cases) == 2 * 2 * (2 * 4 * (1 + 3 * 2) + 1 * 4)
    expected: dict[tuple[str, str], list[str]] = {}
    for n, (subject, ard, nd_now, review, scope, nd_then, req_nd) in enumerate(cases):
        qid, sk = f"{n:019x}c", f"2.{n:040x}"
        admitted, other = f"2.{n:039x}a", f"2.{n:039x}b"
        now = {"kept": admitted, "moved": other, "gone": ""}[subject]
        await r.hset(
            k.query(qid),
            mapping={
                "id": qid, "state": "received", "org": REQUESTER, "pn": f"C-{n}",
                "affair": AFFAIR, "procedure": PROCEDURE, "item": ITEM,
                "requested_at": "2026-11-26T10:00:00+09:00", "req_nd": int(req_nd),
                "subject_key": sk, "person_key": admitted, "subject_nd": int(nd_then),
            },
        )  # fmt: skip
        await r.zadd(k.inflight, {qid: time.time() * 1000})  # now: not swept
        if now:
            await r.set(k.directory(sk), now)
            await r.hset(k.flag(now), mapping={"ard": int(ard), "nd": int(nd_now), "version": 2})
        if review:
            await r.hset(k.quarantined(scope, sk if scope == "subject" else now), "r", review)

        got = await gw.queries.complete(qid, [sk], sk, answer)

        want = relay(RelayFacts(bool(now), ard, subject == "moved", review))
        case = (subject, ard, nd_now, review, scope, nd_then, req_nd)
        assert (got.action, got.reason) == (want.action.value, want.reason), case
        state, reason, record_nd = await r.hmget(k.query(qid), "state", "reason", "record_nd")
        records = await gw.records.of_subject([sk])
        if want.action is Action.FORWARD:
            nd = record_is_non_disclosable(nd_now, nd_then, req_nd)
            assert (state, record_nd, got.record_nd) == ("provided", str(int(nd)), nd), case
            assert await r.exists(k.answer(qid)), case
            assert [rec.non_disclosure for rec in records] == [nd], case
            expected[("query", qid)] = ["query.provided"]
            assert await r.zscore(k.inflight, qid) is None, case
        else:
            assert (state, reason) == ("held", want.reason), case
            assert not await r.exists(k.answer(qid)) and records == [], case
            expected[("query", qid)] = ["query.held"]
    await events_are(running, expected)


async def test_the_last_moment_moves_only_a_received_query(running: Running) -> None:
    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    for n, state in enumerate([*QueryState, None]):
        qid, sk, pk = f"{n:019x}d", f"3.{n:040x}", f"3.{n:039x}a"
        if state is not None:
            await r.hset(
                k.query(qid),
                mapping={
                    "id": qid, "state": state.value, "org": REQUESTER, "pn": f"M-{n}",
                    "affair": AFFAIR, "procedure": PROCEDURE, "item": ITEM,
                    "requested_at": "2026-11-26T10:00:00+09:00", "req_nd": "0",
                    "subject_key": sk, "person_key": pk, "subject_nd": "0",
                },
            )  # fmt: skip
        await r.set(k.directory(sk), pk)
        got = await gw.queries.complete(qid, [sk], sk, UpstreamAnswer(True, ()))
        moves = state is not None and may_move("relay", state, QueryState.PROVIDED)
        assert got.provided is moves, state
        if not moves:
            assert (got.action, got.state) == ("none", state.value if state else "unknown")
            assert await r.hget(k.query(qid), "state") == (state.value if state else None)
            assert not await r.exists(k.answer(qid))


# -- lua/result.lua: result_access() and answer_withheld() ----------------------------------------
A, B = "a", "b"  # two persons (made into person keys of their own for each case)
# An open review of the subject or the person: none, one opened before the answer was given, one
# opened since (of the subject, or of the person), with each reason a review can have.
RESULT_REVIEWS: tuple[tuple[str, str, str] | None, ...] = (
    None,
    *((when, scope, reason.value) for when, scope in (("before", "subject"), ("since", "subject"),
      ("since", "person")) for reason in REVIEW_REASONS),
)  # fmt: skip


def _result_cases() -> Iterator[tuple[QueryState, str, str, bool, int | None, bool, object]]:
    """state, answered, person now, flag now, version then (None: not recorded), the record
    changed after the release (by time), review. The reduction the script makes of the versions
    and times is part of what is tested: `version_then` against the record's version 4."""
    for state, answered, now_, ard, then, later, review in itertools.product(
        QueryState, (A, ""), (A, B, ""), BOOLS, (None, 3, 4), BOOLS, RESULT_REVIEWS
    ):
        if state is not QueryState.RELEASED and (answered == "" or then is not None or later):
            continue  # only a staff release is of a subject unknown, or carries a version
        if now_ == "" and ard:
            continue  # no one has no flag
        if review is not None and review[1] == "person" and now_ == "":
            continue  # no one is under no review
        if then is not None and later:
            continue  # the time is compared only where no version was recorded
        yield state, answered, now_, ard, then, later, review


async def test_a_stored_answer_is_withheld_exactly_as_the_core_says(running: Running) -> None:
    """Every state, person then and now, flag, version and review, through lua/result.lua
    against gateway.recheck.answer_withheld."""
    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    cases = list(_result_cases())
    assert len(cases) > 500
    expected: dict[tuple[str, str], list[str]] = {}
    for i, (state, answered, now_, ard, then, later, review) in enumerate(cases):
        pn, qid, sk = f"T-{i}", f"{i:020x}", f"4.{i:032x}"

        def pk(who: str, i: int = i) -> str:
            return f"4.{who * 8}{i:024x}" if who else ""

        if now_:
            await r.set(k.directory(sk), pk(now_))
            await r.hset(
                k.flag(pk(now_)),
                mapping={
                    "ard": int(ard), "nd": "0", "version": "4",
                    # the record's last change later than the release, or earlier
                    "updated_at": "2026-12-02T00:00:00.000Z" if later
                    else "2026-11-30T00:00:00.000Z",
                },
            )  # fmt: skip
        fields = {
            "id": qid, "state": state.value, "org": REQUESTER, "pn": pn, "affair": AFFAIR,
            "procedure": PROCEDURE, "item": ITEM, "subject_key": sk,
            "person_key": pk(answered) if state is not QueryState.RELEASED else "",
            "outcome": "provided", "decided_at": "2026-12-01T00:00:00.000Z",
        }  # fmt: skip
        if state is QueryState.RELEASED:
            fields["release_person"] = pk(answered)
            if then is not None:
                fields["release_version"] = str(then)
        await r.hset(k.query(qid), mapping=fields)
        await r.set(k.idempotency(REQUESTER, pn), qid)
        review_now = None
        if review is not None:
            # a review as lua/prelude.lua open_review keeps it, opened before or after the answer
            when, scope, reason = review
            rid = f"r{i:019x}"
            opened = "2026-11-30T00:00:00.000Z" if when == "before" else "2026-12-01T00:00:01.000Z"
            await r.hset(k.quarantine(rid), mapping={"id": rid, "opened_at": opened})
            await r.hset(k.quarantined(scope, sk if scope == "subject" else pk(now_)), rid, reason)
            review_now = reason if when == "since" else None
        sealed = gw.keyring.seal(
            '{"has_data": true, "fields": [["課税標準額", "1234567"]]}', f"query:{qid}:answer"
        )
        await r.set(k.answer(qid), sealed)

        got = await gw.queries.result(REQUESTER, pn)

        # the script's one reduction: the flag record changed since the release
        changed = later if then is None else then != 4
        facts = AnswerFacts(state, now_ != answered, review_now, ard, changed)
        want = answer_withheld(facts)
        case = (state, answered, now_, ard, then, later, review)
        state_after, reason = await r.hmget(k.query(qid), "state", "reason")
        if want is None:
            assert state_after == state.value, case
            expected[("query", qid)] = []
            assert await r.exists(k.answer(qid)), case
            if state in (QueryState.PROVIDED, QueryState.RELEASED):
                assert got.status == "PROVIDED" and got.fields, case
                assert got.fields[0].value == "1234567", case
            else:
                assert got.status == ("REFUSED" if state is QueryState.REFUSED else "PENDING")
        else:
            assert may_move("recheck", state, QueryState.HELD), case
            assert (state_after, reason, got.status) == ("held", want.value, "PENDING"), case
            assert not await r.exists(k.answer(qid)), case
            expected[("query", qid)] = ["query.answer_withheld", "query.held"]
    await events_are(running, expected)


async def test_who_may_learn_a_result_is_result_access(running: Running) -> None:
    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    expected: dict[tuple[str, str], list[str]] = {}
    for n, (registered, found, permitted) in enumerate(itertools.product(BOOLS, repeat=3)):
        org, qid = f"7{n:015d}", f"{n:019x}f"
        if registered:
            await r.hset(k.requester(org), mapping={"org": org})
        if permitted:
            await r.sadd(k.requester_rights(org), AFFAIR)
        if found:
            await r.set(k.idempotency(org, "A-1"), qid)
            await r.hset(
                k.query(qid), mapping={"id": qid, "state": "held", "affair": AFFAIR, "org": org}
            )
        got, refusal = await gw.queries.result_and_refusal(org, "A-1")
        want = result_access(registered, found, permitted)
        case = (registered, found, permitted)
        if want is ResultAccess.FOUND:
            assert (got.status, refusal) == ("PENDING", None), case
            expected[("org", org)] = []
        elif want is ResultAccess.UNKNOWN:
            assert (got.refusal_code, refusal) == ("NO_DATA", None), case
            expected[("org", org)] = []
        else:
            kind = (
                "unknown_requester" if want is ResultAccess.REFUSED else "requester_not_permitted"
            )
            assert (got.refusal_code, refusal) == ("NOT_AUTHORIZED", kind), case
            expected[("org", org)] = [f"security.{kind}"]
    await events_are(running, expected)


# -- every step that moves a query, from every state: lifecycle.STEPS -----------------------------
async def test_every_step_moves_a_query_only_as_the_lifecycle_says(running: Running) -> None:
    """Each script that changes a query's state, run from every state, with the subject clear and
    flagged: the moves each makes are exactly its own in lifecycle.STEPS (and the one way out of
    them, abandoning a RECEIVED query)."""
    from gateway.store.queries import QueryBusy

    gw, r, k = running.gw, running.gw.redis.client, running.gw.redis.keys
    clear, flagged = running.residents[13], running.residents[14]
    await running.flag(flagged)
    answer = UpstreamAnswer(True, ())
    n = itertools.count()

    async def query_in(state: QueryState, person) -> tuple[str, SubmitQuery, list[str]]:
        q = SubmitQuery(
            f"L-{next(n)}", REQUESTER, AFFAIR, PROCEDURE, ITEM, person.subject_code,
            "2026-11-26T10:00:00+09:00",
        )  # fmt: skip
        keys = gw.keyring.person_keys("subject", q.subject_code)
        admission = await gw.queries.admit(q, keys)
        assert admission.query_id
        await r.hset(k.query(admission.query_id), "state", state.value)
        return admission.query_id, q, keys

    async def hold(qid, q, keys):
        await gw.queries.hold(qid, "auto_response_disabled")

    async def relay_(qid, q, keys):
        await gw.queries.complete(qid, keys, keys[0], answer)

    async def sweep(qid, q, keys):
        await gw.queries.sweep_interrupted(int(time.time() * 1000) + 60_000)

    async def release(qid, q, keys):
        await gw.queue.release(qid, NOTICE, "staff:x")

    async def refuse(qid, q, keys):
        await gw.queue.refuse(qid, "理由", "staff:x")

    async def recheck(qid, q, keys):
        await gw.queries.result(REQUESTER, q.processing_number)

    async def abandon(qid, q, keys):
        await gw.queries.abandon(q, qid, "test")

    steps = {
        "hold": hold, "relay": relay_, "sweep": sweep, "release": release, "refuse": refuse,
        "recheck": recheck, "abandon": abandon,
    }  # fmt: skip
    assert set(steps) == {*STEPS, "abandon"}
    for name, step in steps.items():
        seen: set[tuple[QueryState, QueryState]] = set()
        abandoned: set[QueryState] = set()
        for person in (clear, flagged):
            for start in QueryState:
                qid, q, keys = await query_in(start, person)
                with contextlib.suppress(IllegalTransition, QueryBusy, ValueError):
                    await step(qid, q, keys)
                after = await r.hget(k.query(qid), "state")
                if after is None:
                    abandoned.add(start)
                elif after != start.value:
                    seen.add((start, QueryState(after)))
        assert seen == set(STEPS.get(name, ())), name
        assert abandoned == (set(ABANDONABLE) if name == "abandon" else set()), name


# -- lua/portal_self.lua and lua/portal_records.lua: the portal's views ---------------------------
BEGAN = "2026-12-01T00:00:00.000Z"  # when the view began; a flag changed later was set in flight


async def test_a_self_information_view_shows_exactly_what_the_core_says(running: Running) -> None:
    from gateway.decision import PortalOutcome, self_information_view
    from gateway.store.portal import PortalStore

    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    store = PortalStore(gw.redis)
    expected: dict[tuple[str, str], list[str]] = {}
    cases = [
        (known, ard, changed, review, scope, has_data)
        for known, ard, changed, review, has_data in itertools.product(
            BOOLS, BOOLS, BOOLS, REVIEWS, BOOLS
        )
        if known or not (ard or changed)  # no one has no flag record
        for scope in (("subject", "person") if review and known else ("subject",))
    ]
    for n, (known, ard, changed, review, scope, has_data) in enumerate(cases):
        sk, pk = f"5.{n:040x}", f"5.{n:039x}p"
        if known:
            await r.set(k.directory(sk), pk)
            when = "2026-12-01T00:00:01.000Z" if changed else "2026-11-30T00:00:00.000Z"
            await r.hset(k.flag(pk), mapping={"ard": int(ard), "nd": 0, "updated_at": when})
        if review:
            await r.hset(k.quarantined(scope, sk if scope == "subject" else pk), "r", review)
        got = await store.self_information([sk], BEGAN, has_data)
        want = self_information_view(known, ard, changed, review, has_data)
        case = (known, ard, changed, review, scope, has_data)
        assert (got.outcome, got.reason) == (want.action, want.reason), case
        blocked = want.action is PortalOutcome.BLOCKED
        expected[("subject", pk if known else sk)] = [
            "security.portal_blocked" if blocked else "portal.view"
        ]
    await events_are(running, expected)


async def test_a_records_view_shows_exactly_the_records_the_core_shows(running: Running) -> None:
    from gateway.decision import PortalOutcome, provision_records_view, record_shown
    from gateway.store.portal import PortalStore

    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    store = PortalStore(gw.redis)
    expected: dict[tuple[str, str], list[str]] = {}
    marks_of = ((), (False,), (True,), (False, True))  # each record marked 不開示 when made, or not
    cases = [
        (known, nd, review, scope, marks)
        for known, nd, review, marks in itertools.product(BOOLS, BOOLS, REVIEWS, marks_of)
        if known or not nd
        for scope in (("subject", "person") if review and known else ("subject",))
    ]
    for n, (known, nd, review, scope, marks) in enumerate(cases):
        sk, pk = f"6.{n:040x}", f"6.{n:039x}p"
        if known:
            await r.set(k.directory(sk), pk)
            await r.hset(k.flag(pk), mapping={"ard": 0, "nd": int(nd)})
        for i, marked in enumerate(marks):
            await r.rpush(
                k.records(sk),
                json.dumps({
                    "qid": f"q{i}", "pn": f"P-{n}-{i}", "org": REQUESTER, "affair": AFFAIR,
                    "procedure": PROCEDURE, "item": ITEM, "requested_at": BEGAN,
                    "provided_at": BEGAN, "nd": int(marked), "how": "automatic",
                    "outcome": "provided",
                }),
            )  # fmt: skip
        if review:
            await r.hset(k.quarantined(scope, sk if scope == "subject" else pk), "r", review)
        got = await store.provision_records([sk])
        shown = [f"P-{n}-{i}" for i, m in enumerate(marks) if record_shown(known, nd, review, m)]
        want = provision_records_view(known, nd, review, len(shown) < len(marks))
        case = (known, nd, review, scope, marks)
        assert (got.outcome, got.reason) == (want.action, want.reason), case
        assert [rec.processing_number for rec in got.records] == shown, case
        assert got.hidden == len(marks) - len(shown), case
        filtered = want.action is PortalOutcome.FILTERED
        expected[("subject", pk if known else sk)] = [
            "security.portal_filtered" if filtered else "portal.view"
        ]
    await events_are(running, expected)


# -- staff steps: lua/release_begin.lua, release_finish.lua, refuse.lua ---------------------------
STATES: tuple[QueryState | None, ...] = (*QueryState, None)  # None: no such query
SEALED = '{"subject_code": "RULES0000001"}'  # the personal fields of a stored request


async def _held_query(running: Running, qid: str, sk: str, state: QueryState | None, **kw) -> None:
    if state is None:
        return
    await running.gw.redis.client.hset(
        running.gw.redis.keys.query(qid),
        mapping={
            "id": qid, "state": state.value, "org": REQUESTER, "pn": f"S-{qid}",
            "affair": AFFAIR, "procedure": PROCEDURE, "item": ITEM,
            "requested_at": BEGAN, "subject_key": sk,
            "sealed": running.gw.keyring.seal(SEALED, f"query:{qid}:request"), **kw,
        },
    )  # fmt: skip


async def test_the_release_steps_act_as_the_core_says(running: Running) -> None:
    """Both steps of a release from every state, with the lock taken or not (ours or another's)
    and the subject as the approver saw it or changed; and the released record's 不開示 mark on
    every combination of who had 不開示該当 when."""
    from gateway.recheck import (
        release_begin,
        release_finish,
        released_record_non_disclosable,
        seen_token,
    )
    from gateway.store.queries import FactsChanged, QueryBusy

    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    expected: dict[tuple[str, str], list[str]] = {}
    n = itertools.count()
    for state, seen, locked in itertools.product(STATES, ("same", "changed", ""), BOOLS):
        i = next(n)
        qid, sk, pk = f"{i:019x}g", f"7.{i:040x}", f"7.{i:039x}a"
        await _held_query(running, qid, sk, state, person_key=pk)
        await r.set(k.directory(sk), pk)
        await r.hset(k.flag(pk), mapping={"ard": 1, "nd": 0, "version": 5})
        given = {"same": seen_token(pk, 5), "changed": seen_token(pk, 4), "": ""}[seen]
        if locked:
            await r.set(k.release_lock(qid), "another")
        want = release_begin(
            state is not None and may_move("release", state, QueryState.RELEASED),
            seen != "changed",
            not locked,
        )
        outcome = "ok"
        try:
            _, _, subject, now_seen = await gw.queries.begin_release(qid, 60_000, given)
            assert (subject, now_seen) == (sk, seen_token(pk, 5))
        except QueryBusy:
            outcome = "busy"
        except FactsChanged:
            outcome = "facts_changed"
        except IllegalTransition:
            outcome = "not_held"
        assert outcome == want, (state, seen, locked)
        lock = await r.get(k.release_lock(qid))
        assert (lock not in (None, "another")) is (want == "ok"), (state, seen, locked)
        expected[("query", qid)] = ["query.release_stale"] if want == "facts_changed" else []

    answer = UpstreamAnswer(True, ())
    finish_cases = [
        (state, lock, seen, (True, False, False, False, False))
        for state, lock, seen in itertools.product(STATES, ("ours", "other", None), BOOLS)
    ] + [
        (QueryState.HELD, "ours", True, nd)
        for nd in itertools.product(BOOLS, repeat=5)
        if nd[0] or not nd[2]  # no one has no flags
    ]
    for state, lock, seen_same, (known, nd_admitted, nd_now, nd_then, req_nd) in finish_cases:
        i = next(n)
        qid, sk = f"{i:019x}h", f"7.{i:040x}"
        admitted, now_ = f"7.{i:039x}a", f"7.{i:039x}b"
        await _held_query(
            running, qid, sk, state, person_key=admitted, subject_nd=int(nd_then),
            req_nd=int(req_nd),
        )  # fmt: skip
        await r.hset(k.flag(admitted), mapping={"ard": 1, "nd": int(nd_admitted), "version": 2})
        if known:
            await r.set(k.directory(sk), now_)
            await r.hset(k.flag(now_), mapping={"ard": 1, "nd": int(nd_now), "version": 3})
        seen = seen_token(now_ if known else "", 3 if known else 0)
        if lock:
            await r.set(k.release_lock(qid), "tok" if lock == "ours" else "another")
        want = release_finish(
            state is not None and may_move("release", state, QueryState.RELEASED),
            lock == "ours",
            seen_same,
        )
        outcome = "released"
        try:
            await gw.queries.finish_release(
                qid, "tok", sk, answer, NOTICE, "staff:x", seen if seen_same else "0" * 40
            )
        except QueryBusy:
            outcome = "lock_lost"
        except FactsChanged:
            outcome = "facts_changed"
        except IllegalTransition:
            outcome = "not_held"
        case = (state, lock, seen_same, known, nd_admitted, nd_now, nd_then, req_nd)
        assert outcome == want, case
        state_after, record_nd = await r.hmget(k.query(qid), "state", "record_nd")
        if want == "released":
            nd = released_record_non_disclosable(known, nd_admitted, nd_now, nd_then, req_nd)
            assert (state_after, record_nd) == ("released", str(int(nd))), case
            [record] = await gw.records.of_subject([sk])
            assert record.non_disclosure is nd, case
            assert not await r.exists(k.release_lock(qid)), case
            expected[("query", qid)] = ["query.released"]
        else:
            assert state_after == (state.value if state else None), case
            assert not await r.exists(k.answer(qid)), case
            expected[("query", qid)] = ["query.release_stale"] if want == "facts_changed" else []
    await events_are(running, expected)


async def test_a_refusal_acts_as_the_core_says(running: Running) -> None:
    from gateway.recheck import refusal
    from gateway.store.queries import QueryBusy

    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    expected: dict[tuple[str, str], list[str]] = {}
    for i, (state, releasing) in enumerate(itertools.product(STATES, BOOLS)):
        qid, sk = f"{i:019x}j", f"8.{i:040x}"
        await _held_query(running, qid, sk, state)
        if releasing:
            await r.set(k.release_lock(qid), "another")
        want = refusal(
            state is not None and may_move("refuse", state, QueryState.REFUSED), releasing
        )
        outcome = "refused"
        try:
            await gw.queries.refuse(qid, "staff:x", "理由")
        except QueryBusy:
            outcome = "busy"
        except IllegalTransition:
            outcome = "not_held"
        assert outcome == want, (state, releasing)
        after = await r.hget(k.query(qid), "state")
        assert after == ("refused" if want == "refused" else state and state.value)
        expected[("query", qid)] = ["query.refused"] if want == "refused" else []
    await events_are(running, expected)


# -- the flag scripts that decide: lua/flag_read.lua, flag_release_request.lua ---------------------
DEPT, OTHER_DEPT = "D100", "D200"


async def _holds(running: Running, pk: str, holds: dict[str, tuple[bool, bool]]) -> None:
    """A person's flag record in the departments' model (holds), as lua/flag_change.lua keeps it:
    each department's hold, and the aggregate (the OR of the holds)."""
    r, k = running.gw.redis.client, running.gw.redis.keys
    for n, (dept, (ard, nd)) in enumerate(holds.items()):
        hold = {
            "ard": str(int(ard)),
            "nd": str(int(nd)),
            "name": f"sealed-{dept}",
            "since": f"2026-11-0{n + 1}T00:00:00.000Z" if ard or nd else "",
            "version": 3,
        }
        await r.hset(k.flag_holds(pk), dept, json.dumps(hold))  # fmt: skip
    ard = any(a for a, _ in holds.values())
    nd = any(n for _, n in holds.values())
    await r.hset(
        k.flag(pk),
        mapping={"ard": int(ard), "nd": int(nd), "version": 1, "model": "2", "legacy_seen": 0},
    )


HOLD_STATES = (None, (False, False), (True, False), (False, True), (True, True))  # None: no hold


async def test_a_department_reads_a_flag_state_as_the_core_says(running: Running) -> None:
    """Every read mode, with the reader's own hold absent, off or on (each flag), and another
    department's hold absent, off or on: answered or refused as department_read says, and the
    name seen is of the hold the answer comes from."""
    from gateway.flag_rules import ReadMode, department_read
    from gateway.store.replies import FlagReadReply

    gw = running.gw
    expected: dict[tuple[str, str], list[str]] = {}
    cases = itertools.product(ReadMode, HOLD_STATES, HOLD_STATES)
    for n, (mode, own, other) in enumerate(cases):
        pk = f"9.{n:039x}r"
        holds = {d: h for d, h in ((DEPT, own), (OTHER_DEPT, other)) if h is not None}
        await _holds(running, pk, holds)
        res = await gw.redis.script(
            "flag_read",
            [gw.redis.keys.flag_holds(pk)],
            [pk, mode.value, DEPT, "B1", "token:t", ""],
        )
        got = FlagReadReply.from_reply(res)
        own_on = own is not None and any(own)
        any_flag = any(any(h) for h in holds.values())
        want = department_read(mode, own is not None, own_on, any_flag)
        case = (mode, own, other)
        if want.startswith("denied:"):
            assert got.denied, case
            expected[("subject", pk)] = ["security.flag_read_refused"]
        else:
            victim = want == "ok:1"
            assert (got.denied, got.victim) == (False, victim), case
            if not victim:
                assert got.sealed_name == "", case
            elif mode is ReadMode.ANY:  # the earliest hold in force
                first = DEPT if own is not None and any(own) else OTHER_DEPT
                assert got.sealed_name == f"sealed-{first}", case
            else:  # its own hold's, never another's
                assert got.sealed_name == f"sealed-{DEPT}", case
            expected[("subject", pk)] = ["flag.read"]
    await events_are(running, expected)


async def test_a_release_request_is_taken_as_the_core_says(running: Running) -> None:
    from gateway.flag_rules import release_request
    from gateway.store.release_requests import ReleaseRequestStore, RequestRefused

    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    store = ReleaseRequestStore(gw.redis, gw.keyring)
    expected: dict[tuple[str, str], list[str]] = {}
    asks = ((True, False), (False, True), (True, True))
    cases = itertools.product(HOLD_STATES, HOLD_STATES, asks, BOOLS)
    for n, (own, other, (ask_ard, ask_nd), pending) in enumerate(cases):
        pk = f"9.{n:039x}q"
        holds = {d: h for d, h in ((DEPT, own), (OTHER_DEPT, other)) if h is not None}
        await _holds(running, pk, holds)
        if pending:
            await r.set(k.release_request_of(pk, DEPT), "earlier")
        await r.set(k.release_request_of(pk, OTHER_DEPT), "another's")  # never in the way
        on = own is not None and any(own)
        asked_on = own is not None and ((ask_ard and own[0]) or (ask_nd and own[1]))
        want = release_request(own is not None, on, asked_on, pending)
        try:
            order = ReleaseOrder(
                atena_number="000000000001", basis="申出", note="", auto_response_disabled=ask_ard,
                non_disclosure=ask_nd, actor="staff:a", department=DEPT,
            )  # fmt: skip
            await store.create(pk, order)
            outcome = "ok"
        except RequestRefused as exc:
            outcome = exc.reason
            if outcome == "pending":
                assert "earlier" in str(exc)
        assert outcome == want, (own, other, ask_ard, ask_nd, pending)
        expected[("subject", pk)] = ["flag.release_requested"] if want == "ok" else []
    await events_are(running, expected)


async def test_a_review_is_confirmed_as_the_core_says(running: Running) -> None:
    """lua/quarantine_confirm.lua: no such review (or of another reason than asked), not open,
    confirmed by its opener, or confirmed."""
    from gateway.flag_rules import review_confirmation
    from gateway.store.quarantine import QuarantineStore, ReviewRefused

    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    store = QuarantineStore(gw.redis, gw.keyring)
    expected: dict[tuple[str, str], list[str]] = {}
    cases = itertools.product(("none", "same", "other"), ("open", "confirmed"), BOOLS)
    for n, (exists, state, same) in enumerate(cases):
        rid, key = f"q{n:019x}", f"9.{n:039x}v"
        if exists != "none":
            reason = "subject_remapped" if exists == "same" else "flag_state_mismatch"
            await r.hset(
                k.quarantine(rid),
                mapping={"id": rid, "scope": "subject", "key": key, "reason": reason,
                         "state": state, "opened_at": BEGAN,
                         "opened_by": "staff:b" if same else "staff:c"},
            )  # fmt: skip
            if state == "open":
                await r.hset(k.quarantined("subject", key), rid, reason)
        want = review_confirmation(exists == "same", state == "open", same)
        try:
            await store.confirm(rid, "staff:b", "確認", reason="subject_remapped")
            outcome = "confirmed"
        except ReviewRefused as exc:
            outcome = exc.code
        assert outcome == want, (exists, state, same)
        if want == "confirmed":
            assert not await r.hexists(k.quarantined("subject", key), rid)
        expected[("review", rid)] = {
            "confirmed": ["quarantine.confirmed"],
            "same_person": ["security.self_approval"],
        }.get(want, [])
    await events_are(running, expected)


# -- lua/flag_change.lua: the aggregate every decision reads is the OR of the holds ---------------
async def test_the_flag_every_decision_reads_is_the_or_of_the_departments_holds(
    running: Running,
) -> None:
    """From every state of two departments' holds, every change one of them may ask for (set or
    release, each flag on, off or left): the aggregate (flag:<pk> ard / nd, what admit, complete,
    result and the portal read) is the OR over the holds after it, the department's own hold is
    what it asked for, and the other department's hold is untouched. The aggregate is kept as
    counts (the only reduction the script makes), so this is held as a property, not a table."""
    from gateway.store.flags import ChangeRefused, FlagChange

    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    states = (None, (True, False), (False, True), (True, True), (False, False))
    wants = (True, False, None)
    cases = itertools.product(states, states, ("set", "release"), wants, wants)
    for n, (own, other, action, ard, nd) in enumerate(cases):
        atena = f"77{n:010d}"

        def change(
            dept: str, act: str, a: bool | None, d: bool | None, atena: str = atena
        ) -> FlagChange:
            entry = {"basis": "application", "business": "B1"}
            return FlagChange(atena, dept, act, "staff:a", a, d, entry, {"business": "B1"})

        for dept, state in ((DEPT, own), (OTHER_DEPT, other)):
            if state is not None:
                await gw.flags.apply([change(dept, "set", True, True)])
                if state != (True, True):  # False releases a flag, None leaves it on
                    off = [None if on else False for on in state]
                    await gw.flags.apply([change(dept, "release", *off)])
        pk = await gw.flags.person_key(atena)
        before = await r.hgetall(k.flag_holds(pk))
        try:
            await gw.flags.apply([change(DEPT, action, ard, nd)])
        except ChangeRefused as exc:
            assert (exc.reason, own) == ("no_hold", None) and action == "release"
        holds = {d: json.loads(v) for d, v in (await r.hgetall(k.flag_holds(pk))).items()}
        flag_now = await r.hmget(k.flag(pk), "ard", "nd")
        case = (own, other, action, ard, nd)
        if not holds:
            assert flag_now == [None, None], case
            continue
        agg = [str(int(any(h[f] == "1" for h in holds.values()))) for f in ("ard", "nd")]
        assert flag_now == agg, case
        assert (OTHER_DEPT in holds) is (OTHER_DEPT in before), case
        if OTHER_DEPT in holds:
            assert json.loads(before[OTHER_DEPT]) == holds[OTHER_DEPT], case
        if DEPT in holds and not (action == "release" and own is None):
            was = own or (False, False)
            mine = holds[DEPT]
            want = [ard if ard is not None else was[0], nd if nd is not None else was[1]]
            assert [mine["ard"] == "1", mine["nd"] == "1"] == want, case
