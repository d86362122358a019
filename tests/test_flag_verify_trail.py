"""Where the check's whole history comes from, and what it does when it cannot have it: the fold
is built once and carried on from its saved copy (disk, and the store, each with the gateway's
MAC); a forged copy is ignored; a trail that does not verify, or cannot be read here, is a
problem the check reports (and `flags verify` exits 1); `flags verify` and `flags repair` on the
command line."""

from __future__ import annotations

import json

import pytest

from gateway.audit.sealer import Sealer
from gateway.model import HoldReason
from gateway.quarantine import Quarantines, ReviewRefused
from gateway.verify.check import Verifier
from gateway.verify.checkpoint import decode
from tests.conftest import Running
from tests.flag_support import flag
from tests.support import cli_runner, one_line_error


def _pk(running: Running, atena: str) -> str:
    return running.gw.keyring.person_key("atena", atena)


async def _settle(running: Running) -> None:
    gw = running.gw
    assert await Sealer(gw.trail, gw.keyring, gw.settings).settle(5.0) == 0


async def _flag_and_fold(running: Running, person_index: int) -> tuple[str, Verifier]:
    victim = running.residents[person_index]
    await flag(running.gw, victim)
    await _settle(running)
    v = Verifier(running.gw)
    assert (await v.run()).ok
    await _settle(running)
    assert (await v.run()).ok  # (the start marker folded)
    return _pk(running, victim.atena_number), v


async def test_the_fold_carries_on_from_its_saved_copy_without_the_trail_before_it(
    running: Running,
) -> None:
    gw, r, k = running.gw, running.gw.redis.client, running.gw.redis.keys
    pk, first = await _flag_and_fold(running, 0)
    assert first.fold is not None
    saved = first.fold.seq
    # the events up to the saved position leave the store (archived on another host, say)
    entries = await r.xrange(k.trail, "-", "+")
    ids = [entry for entry, _ in entries][:saved]
    await r.xdel(k.trail, *ids)
    last = json.loads(entries[saved - 1][1]["e"])
    await r.hset(
        k.audit_head,
        mapping={"archived_seq": saved, "archived_hash": last["hash"], "archived_id": last["id"]},
    )
    # a process with no fold of its own carries on from the saved copy (the store's, here)
    (gw.settings.data_dir / "verify" / "fold.json").unlink()
    second = Verifier(gw)
    await r.hset(k.flag(pk), "ard", "0")
    report = await second.run()
    assert report.problems == [] and set(report.persons) == {pk}
    assert second.fold is not None and second.fold.seq >= saved

    # without any saved copy and without those events, it says it cannot fold the trail here
    await r.delete(k.verify_state)
    (gw.settings.data_dir / "verify" / "fold.json").unlink()
    third = await Verifier(gw).run(act=False)
    assert any("cannot be folded here" in p for p in third.problems), third.as_json()
    assert not third.ok


async def test_a_forged_saved_fold_in_the_store_is_ignored(running: Running) -> None:
    gw, r, k = running.gw, running.gw.redis.client, running.gw.redis.keys
    pk, _ = await _flag_and_fold(running, 1)
    blob = await r.get(k.verify_state)
    assert decode(blob, gw.keyring) is not None
    # the insider rewrites the saved fold (the victim never flagged) and clears the flag; a host
    # with no copy of its own (or this one, after its disk copy is gone) must not believe it
    forged = json.loads(blob)
    forged["fold"]["persons"].pop(pk)
    await r.set(k.verify_state, json.dumps(forged))
    (gw.settings.data_dir / "verify" / "fold.json").unlink()
    await r.hset(k.flag(pk), mapping={"ard": "0", "nd": "0"})
    report = await Verifier(gw).run()
    assert pk in report.persons and "aggregate" in report.persons[pk].codes


async def test_a_sealed_flag_event_taken_out_of_the_trail_is_a_problem(running: Running) -> None:
    gw, r, k = running.gw, running.gw.redis.client, running.gw.redis.keys
    victim = running.residents[2]
    await flag(gw, victim)
    await _settle(running)
    [(entry, _)] = [
        (e, f) for e, f in await r.xrange(k.trail, "-", "+") if '"kind":"flag.set"' in f["e"]
    ]
    await r.xdel(k.trail, entry)
    report = await Verifier(gw).run(act=False)
    assert any("does not verify" in p for p in report.problems), report.as_json()
    assert not report.ok


async def test_flags_verify_exits_0_when_all_agrees_and_1_with_a_line_per_key(
    running: Running, redis_url: str
) -> None:
    gw = running.gw
    pk, _ = await _flag_and_fold(running, 3)
    cli = cli_runner(gw.settings.data_dir, redis_url)
    ok = cli("flags", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "compared with the trail" in ok.stdout
    as_json = json.loads(cli("flags", "verify", "--json").stdout)
    assert as_json["ok"] is True and as_json["persons"] == {}

    other = running.residents[4]
    sk = gw.keyring.person_key("subject", other.subject_code)
    await gw.redis.client.hset(gw.redis.keys.flag(pk), "nd", "0")
    await gw.redis.client.set(gw.redis.keys.directory(sk), pk)
    bad = cli("flags", "verify")
    assert "differ from the trail" in one_line_error(bad)
    lines = bad.stdout.splitlines()
    assert f"person {pk}: aggregate" in lines
    assert any(line.startswith(f"subject {sk}: ") for line in lines)
    assert running.residents[3].atena_number not in bad.stdout + bad.stderr  # keys only
    assert json.loads(cli("flags", "verify", "--json").stdout)["ok"] is False
    assert cli("flags", "verify", "--bogus").returncode == 2


async def test_counts_changed_by_hand_are_made_again_by_flags_repair(
    running: Running, redis_url: str
) -> None:
    """A department's set keeps the counts by steps: counts changed by hand stay wrong after it
    (and would drop the aggregate), so the check keeps holding the person until `flags repair`."""
    gw, victim = running.gw, running.residents[5]
    pk, v = await _flag_and_fold(running, 5)
    await gw.redis.client.hset(
        gw.redis.keys.flag(pk), mapping={"ard": "0", "ard_holds": "0", "nd": "0", "nd_holds": "0"}
    )
    report = await v.run()
    assert {"aggregate", "counts"} <= set(report.persons[pk].codes)
    [review] = await Quarantines.of(gw).open_reviews(HoldReason.FLAG_STATE_MISMATCH)
    await flag(gw, victim)  # set again: the hold was on, so the counts do not move
    with pytest.raises(ReviewRefused):
        await Quarantines.of(gw).confirm(review.id, "staff:approver1", "再登録")
    cli = cli_runner(gw.settings.data_dir, redis_url)
    repaired = cli("flags", "repair", victim.atena_number)
    assert repaired.returncode == 0, repaired.stderr
    assert "自動応答不可=0 不開示該当=0 -> 自動応答不可=1 不開示該当=1" in repaired.stdout
    listed = cli("reviews", "list", "--reason", "flag_state_mismatch")
    assert review.id in listed.stdout
    confirmed = cli("reviews", "confirm", review.id, "--note", "集計を修復")
    assert confirmed.returncode == 0, confirmed.stderr
    await _settle(running)
    assert (await v.run()).ok
    assert "no flag record" in one_line_error(cli("flags", "repair", "900000000099999"))


async def test_the_fold_reads_this_host_s_archive_from_where_it_stood(
    settings, redis_url: str, residents
) -> None:  # type: ignore[no-untyped-def]
    """The first fold reads the archive files, then the store; a saved fold is carried on through
    events archived since (the archive file that holds the next one, then the store)."""
    import shutil
    from dataclasses import replace

    from gateway.audit.archiver import Archiver
    from gateway.context import open_gateway
    from gateway.directory_import import import_pairs

    gw = await open_gateway(
        replace(
            settings, audit_keep_events=5, audit_archive_after_seconds=10**9, audit_block_events=5
        ),
        redis_url,
    )

    async def archive_all() -> None:
        await Sealer(gw.trail, gw.keyring, gw.settings).settle(5.0)
        archiver = Archiver(gw.trail, gw.settings)
        while await archiver.archive_once():
            pass
        await archiver.lease.drop()

    try:
        victim = residents[0]
        await import_pairs(
            gw.directory, gw.events, [(victim.atena_number, victim.subject_code)], "t"
        )
        await flag(gw, victim)
        for n in range(12):
            await gw.events.append("test.filler", "t", n=n)
        await archive_all()
        first_stored = await gw.trail.sealed(None, 1)
        assert json.loads(first_stored[0][1])["seq"] > 1  # the start is in the files only
        v = Verifier(gw)
        assert (await v.run()).ok
        assert v.fold is not None and v.fold.seq == (await gw.trail.head()).seq

        # a second department flags the person; it is archived before any check folds it
        await flag(gw, victim, department="税務課", business="特別区民税・都民税", nd=False)
        for n in range(12):
            await gw.events.append("test.filler", "t", n=n)
        await archive_all()
        pk = gw.keyring.person_key("atena", victim.atena_number)
        hold = json.loads(await gw.redis.client.hget(gw.redis.keys.flag_holds(pk), "税務課"))
        await gw.redis.client.hset(
            gw.redis.keys.flag_holds(pk), "税務課", json.dumps(hold | {"ard": "0"})
        )
        await gw.redis.client.hincrby(gw.redis.keys.flag(pk), "ard_holds", -1)
        report = await Verifier(gw).run(act=False)  # from the saved fold, through the files
        assert report.problems == [] and "trail" in report.persons[pk].codes, report.as_json()

        # the same on a host without those files and without a saved fold: it says so
        shutil.rmtree(gw.settings.audit_dir)
        (gw.settings.data_dir / "verify" / "fold.json").unlink()
        await gw.redis.client.delete(gw.redis.keys.verify_state)
        report = await Verifier(gw).run(act=False)
        assert any("cannot be folded here" in p for p in report.problems), report.as_json()
    finally:
        await gw.close()
