"""A direct edit of the flag state or the directory in Redis is found (issue 11 item 6): the check
(gateway/verify) recomputes each person's flags from the signed trail and from the flag history,
compares both with the state decisions read, checks each directory entry's MAC, and holds what
differs for review until staff have put it right through the normal commands and confirmed.
Everything here writes to the real redis-server with a raw client, as an insider would."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway import metrics
from gateway.directory_import import import_pairs
from gateway.model import HoldReason
from gateway.quarantine import Quarantines, ReviewRefused
from gateway.verify.check import Verifier
from tests.conftest import Running, stop_running
from tests.flag_support import events_of, flag, unflag
from tests.support import Query

APPROVER = "staff:approver1"
KODOMO, ZEIMU = "子ども家庭課", "税務課"


def _pk(running: Running, atena: str) -> str:
    return running.gw.keyring.person_key("atena", atena)


def _sk(running: Running, code: str) -> str:
    return running.gw.keyring.person_key("subject", code)


async def _held_reason(running: Running, pn: str) -> str:
    [held] = [h for h in await running.gw.queries.list_held() if h.processing_number == pn]
    return held.reason


async def _clean(v: Verifier) -> None:
    """A round that finds nothing (and writes the check's start marker, folded next round)."""
    report = await v.run()
    assert report.ok, report.as_json()


async def _review(running: Running, reason: HoldReason, key: str):  # type: ignore[no-untyped-def]
    [review] = [r for r in await Quarantines.of(running.gw).open_reviews(reason) if r.key == key]
    return review


def _found(scope: str) -> float:
    return metrics.VERIFY_FOUND.labels(scope)._value.get()


# -- a flag cleared by hand ------------------------------------------------------------------
async def test_a_flag_cleared_by_hand_is_found_held_and_confirmed_only_once_put_right(
    running: Running,
) -> None:
    gw, victim, other = running.gw, running.residents[0], running.residents[1]
    await flag(gw, victim)
    v = Verifier(gw)
    await _clean(v)
    pk = _pk(running, victim.atena_number)
    found_before = _found("person")

    # the insider: `HSET {hogo}:flag:<pk> ard 0`; with nothing else, the next query would be
    # answered automatically
    await gw.redis.client.hset(gw.redis.keys.flag(pk), "ard", "0")
    report = await v.run()

    assert set(report.persons) == {pk} and "aggregate" in report.persons[pk].codes
    [event] = await events_of(gw, "security.flag_state_mismatch")
    assert event["subject"] == pk and event["actor"] == "system:verify"
    assert "aggregate" in str(event["found"])
    assert metrics.VERIFY_PERSONS._value.get() == 1
    assert _found("person") == found_before + 1
    review = await _review(running, HoldReason.FLAG_STATE_MISMATCH, pk)
    assert (review.scope, review.opened_by) == ("person", "system:verify")

    # held, not answered, whatever the tampered aggregate says
    assert (await running.submit(Query("V-1", victim.subject_code))).status == "PENDING"
    assert await _held_reason(running, "V-1") == "flag_state_mismatch"
    assert running.upstream.calls == []
    # a second round opens no second review, and records nothing new
    again = await v.run()
    assert set(again.persons) == {pk} and again.opened == []
    assert len(await events_of(gw, "security.flag_state_mismatch")) == 1

    # the confirmation runs the check again: refused while the state differs
    quarantines = Quarantines.of(gw)
    with pytest.raises(ReviewRefused) as refused:
        await quarantines.confirm(review.id, APPROVER, "確認しました")
    assert refused.value.code == "still_differs" and "aggregate" in refused.value.state
    assert (await running.submit(Query("V-2", victim.subject_code))).status == "PENDING"

    # put right through the normal command (history and event written), then confirmed
    await flag(gw, victim)
    confirmed = await quarantines.confirm(review.id, APPROVER, "子ども家庭課で再登録")
    assert confirmed.state == "confirmed"
    assert (await v.run()).ok
    assert metrics.VERIFY_PERSONS._value.get() == 0
    # normal again: held for the flag (as any flagged person), the unflagged answered
    assert (await running.submit(Query("V-3", victim.subject_code))).status == "PENDING"
    assert await _held_reason(running, "V-3") == "auto_response_disabled"
    assert (await running.submit(Query("V-4", other.subject_code))).status == "PROVIDED"


async def test_the_gateway_finds_it_within_one_round_of_its_own(
    settings, redis_url: str, residents
) -> None:  # type: ignore[no-untyped-def]
    """No command needed: a serving gateway runs the check every `verify_interval_seconds`."""
    from dataclasses import replace

    from tests.conftest import start_running

    running, runners = await start_running(
        replace(settings, verify_interval_seconds=1.0), redis_url, residents
    )
    try:
        gw, victim = running.gw, running.residents[2]
        await flag(gw, victim)
        pk = _pk(running, victim.atena_number)
        await gw.redis.client.hset(gw.redis.keys.flag(pk), mapping={"ard": "0", "nd": "0"})
        for _ in range(100):
            if await gw.redis.client.hgetall(gw.redis.keys.quarantined("person", pk)):
                break
            await asyncio.sleep(0.1)
        assert (await running.submit(Query("T-1", victim.subject_code))).status == "PENDING"
        assert await _held_reason(running, "T-1") == "flag_state_mismatch"
    finally:
        await stop_running(running, runners)


# -- a record deleted, history forged, an event forged ---------------------------------------
async def test_a_record_deleted_and_taken_out_of_the_index_is_found_by_the_trail(
    running: Running,
) -> None:
    gw, victim = running.gw, running.residents[3]
    await flag(gw, victim)
    v = Verifier(gw)
    await _clean(v)
    pk, k, r = _pk(running, victim.atena_number), gw.redis.keys, gw.redis.client
    await r.delete(k.flag(pk), k.flag_holds(pk), k.flag_hold_history(pk, KODOMO))
    await r.zrem(k.flag_index, pk)
    assert pk not in await gw.flags.all_keys()

    report = await v.run()
    assert pk in report.persons
    assert {"trail", "record_missing", "history_lost_entries"} <= set(report.persons[pk].all())
    assert (await running.submit(Query("D-1", victim.subject_code))).status == "PENDING"
    assert await _held_reason(running, "D-1") == "flag_state_mismatch"

    # set again through the command: the history entries that were deleted stay missing, but
    # were reported once; the state agrees, so the review may be confirmed
    review = await _review(running, HoldReason.FLAG_STATE_MISMATCH, pk)
    await flag(gw, victim)
    await Quarantines.of(gw).confirm(review.id, APPROVER, "再登録済")
    assert (await v.run()).ok


async def test_a_history_entry_appended_by_hand_is_found(running: Running) -> None:
    gw, victim = running.gw, running.residents[4]
    await flag(gw, victim)
    v = Verifier(gw)
    await _clean(v)
    pk, k = _pk(running, victim.atena_number), gw.redis.keys
    [last] = await gw.redis.client.lrange(k.flag_hold_history(pk, KODOMO), -1, -1)
    forged = json.loads(last) | {"action": "release", "dept_ard": 0, "dept_nd": 0, "want": "00"}
    await gw.redis.client.rpush(k.flag_hold_history(pk, KODOMO), json.dumps(forged))

    report = await v.run()
    assert set(report.persons) == {pk}
    # its MAC is the set's: it does not check for a release
    assert "bad_mac" in report.persons[pk].all()  # it does not count: the history is the hold
    # a forged entry without any MAC, after entries with one, does not count either
    await gw.redis.client.rpush(
        k.flag_hold_history(pk, KODOMO),
        json.dumps({"action": "release", "department": KODOMO, "dept_ard": 0, "dept_nd": 0}),
    )
    assert "entry_without_mac" in (await v.run()).persons[pk].all()


async def test_a_forged_release_with_a_consistent_hash_and_history_is_found(
    running: Running,
) -> None:
    """The three agree (event, hash, history) and say released: only the MAC tells."""
    gw, victim = running.gw, running.residents[5]
    await flag(gw, victim)
    v = Verifier(gw)
    await _clean(v)
    await _clean(v)  # the start marker folded: from here on a change needs its MAC
    pk, k, r = _pk(running, victim.atena_number), gw.redis.keys, gw.redis.client
    release = {
        "subject": pk,
        "department": KODOMO,
        "ard": "0",
        "nd": "0",
        "dept_ard": "0",
        "dept_nd": "0",
        "basis": "application",
        "version": "2",
        "hold_version": "2",
        "want": "00",
        "change": "f" * 20,
        "mac": "1.AAAAAAAAAAAAAAAAAAAAAA",
    }
    await r.xadd(k.events, {"kind": "flag.release", "at": "2026-12-01T00:00:00.000Z",
                            "actor": "staff:registrar", **release})  # fmt: skip
    hold = json.loads(await r.hget(k.flag_holds(pk), KODOMO))
    await r.hset(k.flag_holds(pk), KODOMO, json.dumps(hold | {"ard": "0", "nd": "0"}))
    await r.hset(k.flag(pk), mapping={"ard": "0", "nd": "0", "ard_holds": 0, "nd_holds": 0})
    entry = {"action": "release", "department": KODOMO, "dept_ard": 0, "dept_nd": 0,
             "want": "00", "change": "f" * 20, "mac": "1.AAAAAAAAAAAAAAAAAAAAAA",
             "basis": "application"}  # fmt: skip
    await r.rpush(k.flag_hold_history(pk, KODOMO), json.dumps(entry))

    report = await v.run()  # (the forged event is still waiting to be sealed, or sealed now)
    assert pk in report.persons and "trail" in report.persons[pk].codes
    assert "history" in report.persons[pk].codes
    assert (await running.submit(Query("R-1", victim.subject_code))).status == "PENDING"
    # once sealed, the event itself is named: its MAC does not check
    await _sealed(running)
    later = await v.run()
    assert "bad_mac" in later.persons[pk].all() or "bad_mac" in report.persons[pk].all()


async def _sealed(running: Running) -> None:
    for _ in range(100):
        if not await running.gw.events.unsealed():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the sealer did not seal")


# -- the directory ---------------------------------------------------------------------------
async def test_a_directory_entry_moved_by_hand_is_found_and_its_subject_held(
    running: Running,
) -> None:
    gw, victim, other = running.gw, running.residents[6], running.residents[7]
    await flag(gw, victim)
    v = Verifier(gw)
    await _clean(v)
    sk, k = _sk(running, victim.subject_code), gw.redis.keys
    # `SET {hogo}:dir:<sk> <other pk>`: the victim's code now stands for someone unflagged
    await gw.redis.client.set(k.directory(sk), _pk(running, other.atena_number))

    report = await v.run()
    assert report.subjects.get(sk) is not None, report.as_json()
    assert "moved" in report.subjects[sk]
    [event] = await events_of(gw, "security.directory_mismatch")
    assert event["subject"] == sk
    review = await _review(running, HoldReason.DIRECTORY_MISMATCH, sk)
    assert (await running.submit(Query("M-1", victim.subject_code))).status == "PENDING"
    assert await _held_reason(running, "M-1") == "directory_mismatch"
    assert running.upstream.calls == []

    # refused until the addressee system's row is imported again (a remap back, held itself)
    with pytest.raises(ReviewRefused):
        await Quarantines.of(gw).confirm(review.id, APPROVER, "確認")
    result = await import_pairs(
        gw.directory, gw.events, [(victim.atena_number, victim.subject_code)], "os:op@h",
        allow_remap=True,
    )  # fmt: skip
    await Quarantines.of(gw).confirm(review.id, APPROVER, "宛名システムで確認")
    [(_, remap_review)] = result.reviews
    await Quarantines.of(gw).confirm(remap_review, APPROVER, "宛名システムで確認")
    assert (await v.run()).ok
    assert (await running.submit(Query("M-2", victim.subject_code))).status == "PENDING"
    assert await _held_reason(running, "M-2") == "auto_response_disabled"


async def test_directory_confirm_of_a_review_that_still_differs_says_why_in_words(
    running: Running, redis_url: str
) -> None:
    """`directory confirm` given a review the check opened, whose entry still differs: refused
    with the same words `reviews confirm` uses (before, the command had no words for it and the
    operator read "KeyError: 'still_differs'"); the review stays open."""
    from tests.support import cli_runner

    gw, victim, other = running.gw, running.residents[6], running.residents[7]
    await flag(gw, victim)
    v = Verifier(gw)
    await _clean(v)
    sk = _sk(running, victim.subject_code)
    await gw.redis.client.set(gw.redis.keys.directory(sk), _pk(running, other.atena_number))
    await v.run()
    review = await _review(running, HoldReason.DIRECTORY_MISMATCH, sk)

    res = cli_runner(gw.settings.data_dir, redis_url)(
        "directory", "confirm", review.id, "--note", "x"
    )
    # what still differs on one line (as `reviews confirm` says it), then the refusal
    differs, refusal = res.stderr.strip().splitlines()
    assert res.returncode == 1 and differs.startswith("still differs: "), res.stderr
    assert refusal.startswith("hogo-gateway: error: "), res.stderr
    assert f"{review.id}: the state still differs from the trail" in refusal, refusal
    assert (await _review(running, HoldReason.DIRECTORY_MISMATCH, sk)).id == review.id


async def test_an_old_entry_written_back_after_a_remap_is_found(running: Running) -> None:
    """An entry with a good MAC can still be an old one: the remap's signed event says which
    person the subject stands for now."""
    gw, a, b = running.gw, running.residents[8], running.residents[9]
    sk, k = _sk(running, a.subject_code), gw.redis.keys
    old_value = await gw.redis.client.get(k.directory(sk))
    result = await import_pairs(
        gw.directory, gw.events, [(b.atena_number, a.subject_code)], "os:op@h", allow_remap=True
    )
    [(_, remap_review)] = result.reviews
    await Quarantines.of(gw).confirm(remap_review, APPROVER, "確認済")
    v = Verifier(gw)
    await _clean(v)
    await gw.redis.client.set(k.directory(sk), old_value)  # a valid MAC, for A
    report = await v.run()
    assert report.subjects.get(sk) == ["moved"], report.as_json()


async def test_entries_without_a_mac_count_as_unsealed_until_an_import_seals_them(
    running: Running,
) -> None:
    """An existing directory (entries from before MACs) is not a mismatch; a whole sweep with
    none left seals it (`directory.sealed`), and from then on an entry without a MAC is one."""
    gw, p = running.gw, running.residents[10]
    sk, k = _sk(running, p.subject_code), gw.redis.keys
    await gw.redis.client.set(k.directory(sk), _pk(running, p.atena_number))  # as before MACs
    v = Verifier(gw)
    first = await v.run()
    assert first.ok and first.unsealed == 1
    # the migration: import the addressee system's whole export once (here: its rows)
    result = await import_pairs(
        gw.directory, gw.events, [(r.atena_number, r.subject_code) for r in running.residents],
        "os:op@h",
    )  # fmt: skip
    assert result.sealed == 1 and result.new == 0
    second = await v.run()
    assert second.ok and second.unsealed == 0
    await _sealed(running)
    await v.run()  # folds `directory.sealed`
    assert [e["kind"] for e in await events_of(gw, "directory.sealed")] == ["directory.sealed"]
    await gw.redis.client.set(k.directory(sk), _pk(running, p.atena_number))  # no MAC again
    third = await v.run()
    assert third.subjects.get(sk) == ["entry_without_mac"]


# -- a stored answer, and releases of several departments -------------------------------------
async def test_a_stored_answer_is_withheld_once_its_person_is_under_review(
    running: Running,
) -> None:
    """lua/result.lua: GetQueryResult hands out a stored answer only while no review of its
    subject or person was opened since it was given."""
    gw, p = running.gw, running.residents[11]
    assert (await running.submit(Query("S-1", p.subject_code))).status == "PROVIDED"
    await flag(gw, p)
    await unflag(gw, p, note="本人申出", actor="os:op")
    v = Verifier(gw)
    await _clean(v)
    pk = _pk(running, p.atena_number)
    await gw.redis.client.hset(gw.redis.keys.flag(pk), "ard_holds", "5")
    assert "counts" in (await v.run()).persons[pk].codes
    got = await running.result("S-1")
    assert got.status == "PENDING" and got.fields is None
    assert await _held_reason(running, "S-1") == "flag_state_mismatch"


async def test_approvers_see_the_check_s_review_and_confirm_it_once_put_right(
    running: Running,
) -> None:
    """The console's 保留の確認 and its API: the review with what was found; a confirmation while
    the state still differs is refused (409 review_still_differs), one after it is put right is
    accepted."""
    from tests.staffkit import staff_for

    gw, victim = running.gw, running.residents[12]
    await flag(gw, victim)
    v = Verifier(gw)
    await _clean(v)
    pk = _pk(running, victim.atena_number)
    await gw.redis.client.hset(gw.redis.keys.flag(pk), "nd", "0")
    await v.run()
    review = await _review(running, HoldReason.FLAG_STATE_MISMATCH, pk)
    async with staff_for(running) as staff:
        approver = await staff.client("approver")
        status, html = await approver.page("/staff/reviews")
        assert status == 200 and f'data-review="{review.id}"' in html
        assert "フラグの状態が記録（監査証跡・履歴）と一致しない" in html and "aggregate" in html
        path = f"/api/v1/reviews/{review.id}/confirm"
        status, out = await approver.api("POST", path, {"note": "確認"})
        assert (status, out["error"]) == (409, "review_still_differs")
        status, html = await approver.submit(f"/staff/reviews/{review.id}/confirm", {"note": "x"})
        assert "状態がまだ記録と一致しません" in html
        await flag(gw, victim)
        status, out = await approver.api("POST", path, {"note": "子ども家庭課で再登録"})
        assert status == 200 and out["state"] == "confirmed"


async def test_a_hold_made_unreadable_is_found_and_put_right_by_the_commands(
    running: Running, redis_url: str
) -> None:
    """A hold that is no hold the gateway writes (`unreadable_hold`): the department's next
    registration writes a whole new one over it (it no longer breaks the flag scripts), and
    `flags repair` makes the counts that step left too high right again."""
    from tests.support import cli_runner

    gw, victim = running.gw, running.residents[13]
    await flag(gw, victim)
    v = Verifier(gw)
    await _clean(v)
    pk = _pk(running, victim.atena_number)
    await gw.redis.client.hset(gw.redis.keys.flag_holds(pk), KODOMO, "{")
    report = await v.run()
    assert "unreadable_hold" in report.persons[pk].codes
    review = await _review(running, HoldReason.FLAG_STATE_MISMATCH, pk)
    await flag(gw, victim)
    assert (await Verifier(gw).run(act=False)).persons[pk].codes == ["counts"]
    repaired = cli_runner(gw.settings.data_dir, redis_url)("flags", "repair", victim.atena_number)
    assert repaired.returncode == 0, repaired.stderr
    await Quarantines.of(gw).confirm(review.id, APPROVER, "再登録と集計の修復")
    assert (await v.run()).ok
