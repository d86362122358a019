"""One signature per block of events: how blocks are sealed, what a block's signed claim must
match, exports cut inside blocks, the rules for events no signature covers, and format-1 files
(a signature on every event) that must still verify.

tests/data/audit_v1/ holds files written by the gateway before blocks (main at 788f1b5, format 1):
12 synthetic events exported whole, a range of them, the archive file of events 1..8, and the
public key.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.archive import Archive
from gateway.audit.archiver import Archiver
from gateway.audit.files import verify_files
from gateway.audit.live import ExportRefused
from gateway.audit.pubkeys import load
from gateway.audit.record import canonical, digest, sign
from gateway.audit.sealer import Sealer
from gateway.context import Gateway
from gateway.settings import Settings, SettingsError
from tests.audit_support import (
    export_to,
    make_events,
    open_fresh,
    pubkeys,
    rewrite_trail,
    seal_all,
    seal_as_format_1,
    trail_lines,
    verify,
    verify_file,
)

BLOCK = 4
V1 = Path(__file__).parent / "data" / "audit_v1"


@pytest.fixture
async def gw(settings: Settings, redis_url: str) -> AsyncIterator[Gateway]:
    g = await open_fresh(replace(settings, audit_block_events=BLOCK), redis_url)
    yield g
    await g.close()


def _line(obj: dict[str, object]) -> str:
    return canonical(obj).decode()


def rechain(
    lines: list[str], start: int, private: Ed25519PrivateKey, **changes: object
) -> list[str]:
    """The trail as a faulty sealer holding the real key would have written it: event `start`
    (a seq) changed, and every event from there chained again, each block's end signed again."""
    out = list(lines[: start - 1])
    prev = json.loads(out[-1])["hash"] if out else "0" * 64
    for seq in range(start, len(lines) + 1):
        obj = json.loads(lines[seq - 1])
        if seq == start:
            obj.update(changes)
        obj["prev"] = prev
        if "sig" in obj:
            obj = sign(obj, obj["key"], private)
        else:
            obj["hash"] = digest(obj)
        out.append(_line(obj))
        prev = obj["hash"]
    return out


async def set_head(gw: Gateway, lines: list[str]) -> None:
    last = json.loads(lines[-1])
    await gw.redis.client.hset(
        gw.redis.keys.audit_head, mapping={"seq": last["seq"], "hash": last["hash"]}
    )


def resign_export(path: Path, events: list[str], private: Ed25519PrivateKey) -> None:
    """The export with other event lines, its end record made to match and signed with `private`."""
    begin, *_, end = path.read_text().splitlines()
    end_obj = json.loads(end)
    last = json.loads(events[-1])
    end_obj.update(count=len(events), last_seq=last["seq"], last_hash=last["hash"])
    end_obj = sign(end_obj, end_obj["key"], private)
    path.write_text("\n".join([begin, *events, _line(end_obj)]) + "\n")


# -- sealing -------------------------------------------------------------------------------------
async def test_a_block_is_one_sealing_step_of_at_most_the_configured_events(gw: Gateway) -> None:
    await make_events(gw, 10)
    await seal_all(gw)
    events = [json.loads(x) for x in await trail_lines(gw)]
    assert [(e["block"], e["seq"]) for e in events if "sig" in e] == [(1, 4), (5, 8), (9, 10)]
    assert (await verify(gw)).ok


async def test_the_sealer_closes_a_block_that_is_not_full_when_it_looks_again(
    settings: Settings, redis_url: str
) -> None:
    gw = await open_fresh(
        replace(settings, audit_block_events=256, audit_block_seconds=0.05), redis_url
    )
    sealer = asyncio.create_task(Sealer(gw.trail, gw.keyring, gw.settings).run_forever())
    try:
        for batch in (3, 2):
            await make_events(gw, batch)
            for _ in range(200):  # the 256th event never comes: the block closes anyway
                if (await gw.trail.status()).unsealed == 0:
                    break
                await asyncio.sleep(0.05)
        events = [json.loads(x) for x in await trail_lines(gw)]
        assert [(e["block"], e["seq"]) for e in events if "sig" in e] == [(1, 3), (4, 5)]
        assert (await verify(gw)).ok
    finally:
        sealer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sealer
        await gw.close()


def test_block_settings_come_from_the_environment_and_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOGO_AUDIT_BLOCK_EVENTS", "64")
    monkeypatch.setenv("HOGO_AUDIT_BLOCK_SECONDS", "0.2")
    s = Settings.from_env()
    assert (s.audit_block_events, s.audit_block_seconds) == (64, 0.2)
    for bad in ("0", "70000"):
        monkeypatch.setenv("HOGO_AUDIT_BLOCK_EVENTS", bad)
        with pytest.raises(SettingsError, match="HOGO_AUDIT_BLOCK_EVENTS"):
            Settings.from_env()
    monkeypatch.setenv("HOGO_AUDIT_BLOCK_EVENTS", "64")
    monkeypatch.setenv("HOGO_AUDIT_BLOCK_SECONDS", "0")
    with pytest.raises(SettingsError, match="HOGO_AUDIT_BLOCK_SECONDS"):
        Settings.from_env()


# -- a block's signed claim ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seq", "claim", "says"),
    [(8, 6, "claims fewer"), (8, 3, "claims more"), (4, 2, "claims fewer"), (12, 8, "claims more")],
)
async def test_a_block_claiming_more_or_fewer_events_than_it_covers_is_named(
    gw: Gateway, tmp_path: Path, seq: int, claim: int, says: str
) -> None:
    await make_events(gw, 20)
    await seal_all(gw)
    honest = await trail_lines(gw)
    path = await export_to(gw, tmp_path / "export.jsonl")
    private = gw.keyring.signing_key.private
    faulty = rechain(honest, seq, private, block=claim)  # signed with the real key
    await rewrite_trail(gw, faulty)
    await set_head(gw, faulty)
    report = await verify(gw)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == ("bad block", seq), report.text()
    assert says in report.problem.detail and report.events == seq - BLOCK
    resign_export(path, faulty, private)
    report = verify_file(path, pubkeys(gw))
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == ("bad block", seq), report.text()
    with pytest.raises(ExportRefused) as refused:  # nor does the gateway sign such a range
        await export_to(gw, tmp_path / "again.jsonl")
    assert refused.value.problem.what == "bad block"
    assert not (tmp_path / "again.jsonl").exists()
    assert not (tmp_path / "again.jsonl.part").exists()


async def test_a_range_starting_inside_a_block_checks_the_block_claims_no_later_start(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, 12, spacing=0.003)
    await seal_all(gw)
    honest = await trail_lines(gw)
    since = json.loads(honest[5])["at"]  # from event 6, inside block 5..8
    path = await export_to(gw, tmp_path / "range.jsonl", since=since)
    assert verify_file(path, pubkeys(gw)).ok
    faulty = rechain(honest, 8, gw.keyring.signing_key.private, block=7)  # leaves 6 unclaimed
    resign_export(path, faulty[5:], gw.keyring.signing_key.private)
    report = verify_file(path, pubkeys(gw))
    assert report.problem is not None and report.problem.what == "bad block", report.text()
    assert report.problem.seq == 8


# -- exports cut inside blocks --------------------------------------------------------------------
async def test_an_export_cut_inside_blocks_verifies_alone_and_its_tail_rests_on_the_end_record(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, 20, spacing=0.003)
    await seal_all(gw)
    events = [json.loads(x) for x in await trail_lines(gw)]
    since, until = events[5]["at"], events[13]["at"]  # seq 6..13: blocks 5-8 and 13-16 are cut
    keys = pubkeys(gw)
    path = await export_to(gw, tmp_path / "range.jsonl", since=since, until=until)
    _, *lines, end = (json.loads(x) for x in path.read_text().splitlines())
    assert [e["seq"] for e in lines] == list(range(6, 14))
    assert [e["seq"] for e in lines if "sig" in e] == [8, 12]  # 13 has no signature here
    assert (end["v"], end["last_seq"], end["last_hash"]) == (2, 13, events[12]["hash"])
    report = verify_file(path, keys)
    assert report.ok and (report.events, report.first_seq, report.last_seq) == (8, 6, 13)
    assert any("events 13..13 rest on the end record" in n for n in report.notes), report.notes
    # consecutive exports link, cut where they are cut
    before = await export_to(gw, tmp_path / "before.jsonl", until=since)
    after = await export_to(gw, tmp_path / "after.jsonl", since=until)
    report = verify_files([after, path, before], keys)
    assert report.ok and (report.events, report.last_seq) == (20, 20), report.text()
    # the tail the end record vouches for is as protected as the rest
    text = path.read_text().splitlines()
    tail = json.loads(text[-2])
    tail["reason"] = "changed"
    tail["hash"] = digest(tail)
    path.write_text("\n".join([*text[:-2], _line(tail), text[-1]]) + "\n")
    report = verify_file(path, keys)
    assert report.problem is not None and (report.problem.what, report.problem.seq) == (
        "changed",
        13,
    )
    assert report.events == 7  # 6..12, up to the last signature
    # and an end record made to match without the key does not verify
    resign_export(path, [*text[1:-2], _line(tail)], Ed25519PrivateKey.generate())
    report = verify_file(path, keys)
    assert report.problem is not None and report.problem.what == "bad signature"
    assert "end record" in report.problem.detail


async def test_an_export_does_not_vouch_for_events_that_do_not_match_their_block_signature(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, 20, spacing=0.003)
    await seal_all(gw)
    lines = await trail_lines(gw)
    events = [json.loads(x) for x in lines]
    changed = {**events[12], "reason": "altered in the store"}  # event 13, inside block 13..16
    changed["hash"] = digest(changed)
    await rewrite_trail(gw, [*lines[:12], _line(changed), *lines[13:]])
    target = tmp_path / "range.jsonl"
    with pytest.raises(ExportRefused) as refused:  # its end record would have signed event 13
        await export_to(gw, target, since=events[5]["at"], until=events[13]["at"])
    assert (refused.value.problem.what, refused.value.problem.seq) == ("changed", 13)
    assert not target.exists() and not target.with_name("range.jsonl.part").exists()
    # a range that ends before the altered block is exported: its signatures are all there
    report = verify_file(await export_to(gw, target, until=events[10]["at"]), pubkeys(gw))
    assert report.ok and report.last_seq == 10, report.text()


# -- events no signature covers -------------------------------------------------------------------
async def test_the_live_trail_has_no_unsigned_tail(gw: Gateway) -> None:
    await make_events(gw, 20)
    await seal_all(gw)
    lines = await trail_lines(gw)
    last = json.loads(lines[-1])
    extra = {**{k: v for k, v in last.items() if k not in ("block", "key", "sig")}}
    extra.update(seq=21, id="9999999999999-0", prev=last["hash"], reason="appended later")
    extra["hash"] = digest(extra)
    await rewrite_trail(gw, [*lines, _line(extra)])
    await set_head(gw, [_line(extra)])  # the head moved along: only the signatures tell
    report = await verify(gw)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == ("unsigned", 21), report.text()
    assert report.events == 20
    # the last block's signed event removed and the head moved back to the one before it
    await rewrite_trail(gw, lines[:-1])
    await set_head(gw, lines[:-1])
    report = await verify(gw)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == ("unsigned", 17), report.text()
    assert report.events == 16 and "17..19" in report.problem.detail


async def test_files_that_end_inside_a_block_are_unsigned_unless_the_next_file_follows(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, 20, spacing=0.003)
    await seal_all(gw)
    lines = await trail_lines(gw)
    first, second = tmp_path / "trail-000000000001-a.jsonl", tmp_path / "trail-000000000011-b.jsonl"
    first.write_text("\n".join(lines[:10]) + "\n")  # ends inside block 9..12
    second.write_text("\n".join(lines[10:]) + "\n")
    report = verify_file(first, pubkeys(gw))
    assert report.problem is not None and (report.problem.what, report.problem.seq) == (
        "unsigned",
        9,
    )
    assert report.events == 8
    report = verify_files([second, first], pubkeys(gw))
    assert report.ok and report.events == 20, report.text()
    # an export that carries on from it inside the block (its first signature covers 9 and 10)
    rest = await export_to(gw, tmp_path / "rest.jsonl", since=json.loads(lines[10])["at"])
    report = verify_files([rest, first], pubkeys(gw))
    assert report.ok and report.events == 20, report.text()


async def test_the_archiver_moves_whole_blocks_so_each_file_verifies_alone(
    settings: Settings, redis_url: str
) -> None:
    gw = await open_fresh(
        replace(
            settings,
            audit_block_events=BLOCK,
            audit_keep_events=3,
            audit_archive_after_seconds=10**9,
            audit_archive_file_bytes=1500,  # a new file every few events
        ),
        redis_url,
    )
    try:
        await make_events(gw, 22)
        await seal_all(gw)  # blocks ..., 17-20, 21-22
        archiver = Archiver(gw.trail, gw.settings)
        while await archiver.archive_once():
            pass
        await archiver.lease.drop()
        files = Archive(gw.settings.audit_dir).files()
        assert len(files) >= 3
        for path in files:
            last = json.loads(path.read_text().splitlines()[-1])
            assert "sig" in last, f"{path.name} ends inside a block"
            report = verify_files([path], pubkeys(gw))
            assert report.ok, report.text()
        # 22 - 3 kept would cut block 17..20: the archiver takes it whole (so 2 remain)
        assert (await gw.trail.status()).stored == 2
        assert (await verify(gw)).ok
    finally:
        await gw.close()


# -- format 1 ------------------------------------------------------------------------------------
def test_format_1_exports_and_archive_files_still_verify() -> None:
    keys = load(V1 / "pubkeys.json")
    whole = verify_files([V1 / "export-all.jsonl"], keys)
    assert whole.ok and (whole.events, whole.first_seq, whole.last_seq) == (12, 1, 12), whole.text()
    assert whole.keys == {1}
    report = verify_files([V1 / "export-range.jsonl"], keys)
    assert report.ok and report.events >= 4, report.text()
    report = verify_files([V1 / "archive-trail-1-8.jsonl"], keys)
    assert report.ok and (report.first_seq, report.last_seq) == (1, 8), report.text()
    assert json.loads((V1 / "export-all.jsonl").read_text().splitlines()[1])["v"] == 1


@pytest.mark.parametrize("seq", [3, 7])
def test_tampering_with_a_format_1_export_is_still_named_per_event(
    tmp_path: Path, seq: int
) -> None:
    keys = load(V1 / "pubkeys.json")
    lines = (V1 / "export-all.jsonl").read_text().splitlines()
    obj = json.loads(lines[seq])
    obj["reason"] = "forged"
    cases = {
        "changed": _line(obj),  # hash and signature left as they were
        "bad signature": _line(sign(obj, 1, Ed25519PrivateKey.generate())),
    }
    for what, line in cases.items():
        path = tmp_path / "export.jsonl"
        path.write_text("\n".join([*lines[:seq], line, *lines[seq + 1 :]]) + "\n")
        report = verify_files([path], keys)
        assert report.problem is not None, report.text()
        assert (report.problem.what, report.problem.seq, report.events) == (what, seq, seq - 1)


async def test_a_format_1_trail_continued_in_blocks_verifies_as_one_chain(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, 6)
    assert await seal_as_format_1(gw) == 6  # before the upgrade
    await make_events(gw, 9, start=6)
    await seal_all(gw)  # after it: blocks 7-10, 11-14, 15
    events = [json.loads(x) for x in await trail_lines(gw)]
    assert [e["v"] for e in events] == [1] * 6 + [2] * 9
    assert [e["seq"] for e in events if "sig" in e] == [1, 2, 3, 4, 5, 6, 10, 14, 15]
    assert events[9]["block"] == 7 and events[6]["prev"] == events[5]["hash"]
    report = await verify(gw)
    assert report.ok and report.events == 15, report.text()
    path = await export_to(gw, tmp_path / "export.jsonl")
    assert verify_file(path, pubkeys(gw)).ok
    # a format-1 event is still checked on its own signature
    lines = await trail_lines(gw)
    obj = {**events[3], "reason": "forged"}
    await rewrite_trail(
        gw, [*lines[:3], _line(sign(obj, 1, Ed25519PrivateKey.generate())), *lines[4:]]
    )
    report = await verify(gw)
    assert report.problem is not None and (report.problem.what, report.problem.seq) == (
        "bad signature",
        4,
    )
    assert report.events == 3


# -- the documented offline check ----------------------------------------------------------------
def documented_check() -> Callable[..., tuple[str, bool]]:
    """The `check` function docs/audit.md gives auditors who verify without the gateway's code."""
    text = (Path(__file__).parent.parent / "docs" / "audit.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(import base64.*?)```", text, re.S)
    assert code is not None
    scope: dict[str, object] = {}
    exec(compile(code.group(1), "docs/audit.md", "exec"), scope)
    return scope["check"]  # type: ignore[return-value]


async def test_the_offline_check_in_the_docs_verifies_exports_cut_inside_blocks_and_format_1(
    gw: Gateway, tmp_path: Path
) -> None:
    check = documented_check()
    await make_events(gw, 14, spacing=0.003)
    await seal_all(gw)
    events = [json.loads(x) for x in await trail_lines(gw)]
    path = await export_to(
        gw, tmp_path / "range.jsonl", since=events[2]["at"], until=events[10]["at"]
    )
    begin, *lines, end = path.read_text().splitlines()
    b, e = json.loads(begin), json.loads(end)
    last, closed = check(lines, pubkeys(gw), b["prev"], b["first_seq"], inside_block=True)
    assert (last, closed, e["last_seq"]) == (e["last_hash"], False, 10)  # 9, 10 rest on the end
    last, closed = check(await trail_lines(gw), pubkeys(gw), "0" * 64, 1)
    assert closed and last == events[-1]["hash"]
    lines[3] = lines[3].replace('"reason-5"', '"reason-6"')
    with pytest.raises(AssertionError):
        check(lines, pubkeys(gw), b["prev"], b["first_seq"], inside_block=True)
    v1 = (V1 / "export-all.jsonl").read_text().splitlines()[1:-1]
    last, closed = check(v1, load(V1 / "pubkeys.json"), "0" * 64, 1)
    assert closed and last == json.loads(v1[-1])["hash"]
