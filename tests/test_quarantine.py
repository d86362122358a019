"""Held for review (quarantine): a subject a directory import moved to another person
(`--allow-remap`), or a person under review, has every query about it held until staff confirm,
in the atomic admission and at the automatic path's last moment; the confirmation is recorded
with its actor, and the remap is in the auditors' view."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from gateway.decision import Action, AdmissionFacts, decide, may_relay
from gateway.directory_import import DirectoryImport, pairs_rows
from gateway.model import FlagState, HoldReason, SubmitQuery, UpstreamAnswer
from gateway.quarantine import Quarantines, ReviewRefused
from gateway.simulator import Resident
from gateway.store.quarantine import QuarantineStore
from tests.conftest import Running
from tests.flag_support import events_of, flag
from tests.support import Query, cli_runner, portal_xml

OPERATOR = "os:operator@ward-host"


async def _remap(running: Running, atena: str, subject: str, actor: str = OPERATOR) -> str:
    """Import one row moving `subject` to `atena`, remaps allowed; the review's id."""
    result = await DirectoryImport(running.gw.directory, running.gw.events).run(
        pairs_rows([(atena, subject)]), actor, allow_remap=True
    )
    assert result.remapped == 1, result
    [(_, review_id)] = result.reviews
    return review_id


async def _held_reason(running: Running, pn: str) -> str:
    [held] = [h for h in await running.gw.queries.list_held() if h.processing_number == pn]
    return held.reason


def _cli(running: Running, redis_url: str, *args: str, sudo_user: str | None = None):  # type: ignore[no-untyped-def]
    """The command line; `sudo_user`: as another operator would run it through sudo."""
    run = cli_runner(running.gw.settings.data_dir, redis_url)
    return run(*args, env={"SUDO_USER": sudo_user} if sudo_user else None)


async def test_allow_remap_holds_the_subject_until_an_operator_confirms(
    running: Running, redis_url: str, tmp_path
) -> None:
    """--allow-remap moves s1 from flagged A to unflagged B; every query on s1 is then held (new
    reason) although B is unflagged; the importer cannot confirm it; another operator does, and
    from then on queries on s1 are answered automatically (as B's)."""
    a, b = running.residents[0], running.residents[1]
    s1 = a.subject_code
    await flag(running.gw, a)
    path = tmp_path / "remap.csv"
    path.write_text(f"atena_number,subject_code\n{b.atena_number},{s1}\n", encoding="utf-8")
    res = _cli(running, redis_url, "directory", "import", str(path), "--allow-remap", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["remapped"], out["new"], out["unchanged"]) == (1, 0, 0)
    [review] = out["reviews"]
    assert review["line"] == 2

    ans = await running.submit(Query("Q-1", s1))
    assert ans.status == "PENDING" and running.upstream.calls == []
    assert await _held_reason(running, "Q-1") == "subject_remapped"

    listed = json.loads(_cli(running, redis_url, "directory", "remaps", "--json").stdout)
    [shown] = listed
    assert shown["id"] == review["review"] and shown["state"] == "open"
    keyring = running.gw.keyring
    assert shown["old_person"] == keyring.person_key("atena", a.atena_number)
    assert shown["new_person"] == keyring.person_key("atena", b.atena_number)
    assert (shown["old_flag"], shown["new_flag"], shown["line"]) == ("now", "never", "2")
    assert shown["import"] == out["import"] and shown["reason"] == "subject_remapped"

    # the operator who imported it cannot confirm it (a security event); nor without a note
    mine = _cli(running, redis_url, "directory", "confirm", shown["id"], "--note", "確認")
    assert mine.returncode == 1 and "imported by you" in mine.stderr
    [selfie] = await events_of(running.gw, "security.self_approval")
    assert selfie["review"] == shown["id"]
    assert (await running.submit(Query("Q-2", s1))).status == "PENDING"
    other = _cli(
        running, redis_url, "directory", "confirm", shown["id"], "--note",
        "宛名システムで符号の再付番を確認", "--json", sudo_user="other-operator",
    )  # fmt: skip
    assert other.returncode == 0, other.stderr
    confirmed = json.loads(other.stdout)
    assert confirmed["state"] == "confirmed"
    assert confirmed["confirmed_by"].startswith("os:other-operator@")
    assert confirmed["note"] == "宛名システムで符号の再付番を確認"
    again = _cli(running, redis_url, "directory", "confirm", shown["id"], "--note", "x",
                 sudo_user="other-operator")  # fmt: skip
    assert again.returncode == 1 and "confirmed already" in again.stderr
    assert _cli(running, redis_url, "directory", "remaps").stdout.strip() == "(no remaps waiting)"

    ans = await running.submit(Query("Q-3", s1))
    assert ans.status == "PROVIDED"
    # the queries held meanwhile stay held: staff answer them, never the gateway by itself
    assert {h.processing_number for h in await running.gw.queries.list_held(only_waiting=True)} == {
        "Q-1",
        "Q-2",
    }
    [remapped] = await events_of(running.gw, "directory.remapped")
    assert (remapped["old_flag"], remapped["new_flag"], remapped["review"]) == (
        "now",
        "never",
        shown["id"],
    )
    assert remapped["actor"] == remapped["actor"] and "atena_number" not in remapped
    [attack] = await events_of(running.gw, "security.protected_subject_remap")
    assert (attack["outcome"], attack["import"]) == ("applied_and_held", out["import"])
    [done] = await events_of(running.gw, "quarantine.confirmed")
    assert done["review"] == shown["id"] and done["still_under_review"] == "0"


async def test_a_remap_while_the_upstream_answers_turns_the_answer_into_a_hold(
    running: Running,
) -> None:
    """Admitted as A's (unflagged), then an import moves the code to B while the upstream
    answers: the last moment sees the review, and the answer stays here."""
    a, b = running.residents[4], running.residents[5]
    running.upstream.gate = answering = asyncio.Event()
    in_flight = asyncio.create_task(running.submit(Query("F-1", a.subject_code)))
    while not running.upstream.calls:
        await asyncio.sleep(0.01)
    await _remap(running, b.atena_number, a.subject_code)
    answering.set()
    ans = await in_flight
    assert ans.status == "PENDING" and ans.fields is None
    assert await _held_reason(running, "F-1") == "subject_remapped"
    records = await running.gw.records.of_subject(
        running.gw.keyring.person_keys("subject", a.subject_code)
    )
    assert records == []  # nothing left the ward


async def test_a_subject_moved_under_a_query_in_flight_is_held_even_without_a_review(
    running: Running,
) -> None:
    """The last moment compares the person with the one admitted: a move that did not come
    through an import (no review) holds the answer too."""
    a, b = running.residents[6], running.residents[7]
    running.upstream.gate = answering = asyncio.Event()
    in_flight = asyncio.create_task(running.submit(Query("F-2", a.subject_code)))
    while not running.upstream.calls:
        await asyncio.sleep(0.01)
    gw = running.gw
    await gw.redis.client.set(
        gw.redis.keys.directory(gw.keyring.person_key("subject", a.subject_code)),
        gw.keyring.person_key("atena", b.atena_number),
    )
    answering.set()
    assert (await in_flight).status == "PENDING"
    assert await _held_reason(running, "F-2") == "subject_remapped"


async def test_a_person_under_review_is_held_under_any_of_its_codes(running: Running) -> None:
    """The general mechanism: a review of a person (not of one code) holds every query about
    them, under every subject code, until confirmed."""
    p = running.residents[8]
    second = "SECONDCODE0001"
    running.upstream.residents[second] = p
    await DirectoryImport(running.gw.directory, running.gw.events).run(
        pairs_rows([(p.atena_number, second)]), OPERATOR
    )
    store = QuarantineStore(running.gw.redis, running.gw.keyring)
    person = running.gw.keyring.person_key("atena", p.atena_number)
    # (any HoldReason: the reason is what the queries are held with)
    review_id = await store.open("person", person, HoldReason.SUBJECT_REMAPPED, "os:checker@h")
    for pn, code in (("P-1", p.subject_code), ("P-2", second)):
        assert (await running.submit(Query(pn, code))).status == "PENDING"
        assert await _held_reason(running, pn) == "subject_remapped"
    assert await store.under_review("person", person) == {review_id: "subject_remapped"}
    with pytest.raises(ReviewRefused) as refused:
        await store.confirm(review_id, "os:checker@h", "mine")
    assert refused.value.code == "same_person"
    with pytest.raises(ValueError):
        await store.open("flag", person, HoldReason.SUBJECT_REMAPPED, "x")
    await Quarantines(store).confirm(review_id, "staff:appr-one", "確認済")
    assert (await running.submit(Query("P-3", second))).status == "PROVIDED"


async def test_the_portal_shows_nothing_for_a_subject_under_review(running: Running) -> None:
    """Both portal views of a remapped, unconfirmed code answer as for an unknown code, byte for
    byte (the abuser at the portal with the victim's card sees nothing), and are recorded as
    blocked with the review's reason."""
    a, b = running.residents[9], running.residents[10]

    async def view(operation: str, code: str) -> bytes:
        async with running.session.post(
            running.url + "/soap/portal",
            data=portal_xml(operation, code),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        ) as resp:
            return await resp.read()

    assert (await running.submit(Query("V-1", a.subject_code))).status == "PROVIDED"
    assert a.fields[0].value.encode() in await view("GetSelfInformation", a.subject_code)
    assert b"V-1" in await view("GetProvisionRecords", a.subject_code)
    review_id = await _remap(running, b.atena_number, a.subject_code)
    for operation in ("GetSelfInformation", "GetProvisionRecords"):
        assert await view(operation, a.subject_code) == await view(operation, "NOTINDIRECTORY7")
    [blocked] = await events_of(running.gw, "security.portal_blocked")
    [filtered] = await events_of(running.gw, "security.portal_filtered")
    assert blocked["reason"] == filtered["reason"] == "subject_remapped"
    await Quarantines(QuarantineStore(running.gw.redis, running.gw.keyring)).confirm(
        review_id, "staff:appr-one", "確認済"
    )
    assert a.fields[0].value.encode() in await view("GetSelfInformation", a.subject_code)


# -- the rule that runs is the rule you read ----------------------------------------------------
def test_decide_holds_a_subject_under_review_with_its_reason() -> None:
    """Pure: a review holds even a known subject without 自動応答不可; a flag is named first."""
    clear = FlagState(False, False)
    held = decide(AdmissionFacts(True, True, False, True, clear, "subject_remapped"))
    assert (held.action, held.reason) == (Action.HOLD, "subject_remapped")
    flagged = decide(AdmissionFacts(True, True, False, True, FlagState(True, False), "x"))
    assert flagged.reason == HoldReason.AUTO_RESPONSE_DISABLED
    assert decide(AdmissionFacts(True, True, False, True, clear, None)).automatic
    assert not may_relay(clear, "subject_remapped") and may_relay(clear, None)


def _query(pn: str, code: str) -> SubmitQuery:
    return SubmitQuery(
        pn, "1310000000000001", "JM00000000000001", "JT00000000000001", "TM00000000000001",
        code, "2026-11-26T10:00:00+09:00",
    )  # fmt: skip


async def test_admission_and_decide_agree_on_every_combination(running: Running) -> None:
    """admit.lua gathers (known, 自動応答不可, a review of the subject or of the person), and
    decide() forwards exactly when all are clear, for each of the 16 combinations."""
    gw = running.gw
    store = QuarantineStore(gw.redis, gw.keyring)
    for n, (known, ard, subject_review, person_review) in enumerate(
        itertools.product([False, True], repeat=4)
    ):
        atena, code = f"99100000000{n:04d}", f"TABLEA{n:04d}"
        if known:
            await DirectoryImport(gw.directory, gw.events).run(pairs_rows([(atena, code)]), "t")
        if ard:
            await flag(gw, Resident(atena, code, "表 太郎", ()), nd=False)
        if subject_review:
            sk = gw.keyring.person_key("subject", code)
            await store.open("subject", sk, HoldReason.SUBJECT_REMAPPED, "t")
        if person_review:
            pk = gw.keyring.person_key("atena", atena)
            await store.open("person", pk, HoldReason.SUBJECT_REMAPPED, "t")
        admission = await gw.queries.admit(
            _query(f"T-{n}", code), gw.keyring.person_keys("subject", code)
        )
        facts = admission.facts
        assert facts.subject_known is known
        reviewed = subject_review or (person_review and known)
        assert (facts.under_review is not None) is reviewed, (known, ard, subject_review)
        decision = decide(facts)
        assert (decision.action is Action.FORWARD) == (known and not ard and not reviewed)
        if decision.action is Action.HOLD and known and not ard:
            assert decision.reason == "subject_remapped"


async def test_the_last_moment_and_may_relay_agree_on_every_combination(
    running: Running,
) -> None:
    """complete.lua relays exactly when may_relay() says so, for every change made while the
    upstream answered: the subject gone, a flag set, a review opened, the subject moved."""
    gw = running.gw
    store = QuarantineStore(gw.redis, gw.keyring)
    answer = UpstreamAnswer(True, ())
    cases = itertools.product(["kept", "gone", "moved"], [False, True], [False, True])
    for n, (subject, ard, review) in enumerate(cases):
        atena, other, code = f"99200000000{n:04d}", f"99300000000{n:04d}", f"TABLEB{n:04d}"
        await DirectoryImport(gw.directory, gw.events).run(pairs_rows([(atena, code)]), "t")
        keys = gw.keyring.person_keys("subject", code)
        admission = await gw.queries.admit(_query(f"L-{n}", code), keys)
        assert decide(admission.facts).action is Action.FORWARD and admission.query_id
        dir_key = gw.redis.keys.directory(keys[0])
        if subject == "gone":
            await gw.redis.client.delete(dir_key)
        elif subject == "moved":
            await gw.redis.client.set(dir_key, gw.keyring.person_key("atena", other))
        person_now = {"kept": atena, "moved": other, "gone": None}[subject]
        if ard and person_now:
            await flag(gw, Resident(person_now, code, "表 次郎", ()), nd=False)
        if review:
            await store.open("subject", keys[0], HoldReason.SUBJECT_REMAPPED, "t")
        relay = await gw.queries.complete(admission.query_id, keys, keys[0], answer)
        flags_now = None if person_now is None else FlagState(ard, False)
        under = "subject_remapped" if review or subject == "moved" else None
        assert relay.provided is may_relay(flags_now, under), (subject, ard, review)
        if not relay.provided and person_now and not ard:
            assert relay.reason == "subject_remapped"
