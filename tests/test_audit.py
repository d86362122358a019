"""The audit trail as evidence: sealed gap-free, chained per event and signed per block; every kind
of tampering in the live trail or in an export is detected and named by the first broken event's
sequence number, in mid-block as on a block's signed last event."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.pubkeys import from_keys_dir
from gateway.audit.record import GENESIS, canonical, digest, sign
from gateway.context import Gateway
from gateway.crypto import Keyring
from gateway.settings import Settings
from tests.audit_support import (
    export_to,
    make_events,
    open_fresh,
    pubkeys,
    rewrite_trail,
    seal_all,
    trail_lines,
    verify,
    verify_file,
)

EVENTS = 20
BLOCK = 4  # events per block in these tests: blocks 1-4, 5-8, ..., 17-20


@pytest.fixture
async def gw(settings: Settings, redis_url: str) -> AsyncIterator[Gateway]:
    """A gateway's store without its background work: the tests seal when they choose."""
    g = await open_fresh(replace(settings, audit_block_events=BLOCK), redis_url)
    yield g
    await g.close()


@pytest.fixture
async def sealed(gw: Gateway) -> list[str]:
    await make_events(gw, EVENTS)
    await seal_all(gw)
    return await trail_lines(gw)


def forged(line: str, key_version: int = 1, **changes: object) -> str:
    """The event changed by someone without the gateway's key: re-hashed, and the last event of a
    block signed again with a key of their own."""
    obj = json.loads(line)
    obj.update(changes)
    if "sig" not in obj:
        obj["hash"] = digest(obj)
        return canonical(obj).decode()
    return canonical(sign(obj, key_version, Ed25519PrivateKey.generate())).decode()


def signed_by(line: str, private: Ed25519PrivateKey, **changes: object) -> str:
    """The event changed and signed with `private` (the gateway's own key: a faulty sealer)."""
    obj = json.loads(line)
    obj.update(changes)
    return canonical(sign(obj, obj["key"], private)).decode()


def moved_signature(line: str, donor: str) -> str:
    """The event given another event's block claim, key version and signature, re-hashed."""
    obj = json.loads(line)
    taken = json.loads(donor)
    obj.update(block=taken["block"], key=taken["key"])
    obj["hash"] = digest(obj)
    obj["sig"] = taken["sig"]
    return canonical(obj).decode()


def unsigned(line: str) -> str:
    """The event without its block's claim and signature, re-hashed."""
    obj = {k: v for k, v in json.loads(line).items() if k not in ("block", "key", "sig")}
    obj["hash"] = digest(obj)
    return canonical(obj).decode()


def _swap(lines: list[str], i: int, j: int) -> list[str]:
    out = list(lines)
    out[i], out[j] = out[j], out[i]
    return out


def _at(lines: list[str], seq: int, line: str) -> list[str]:
    return [*lines[: seq - 1], line, *lines[seq:]]


# name -> (tampering of the event lines (index = seq - 1), what is reported, at which seq)
TAMPERING: dict[str, tuple[Callable[[list[str]], list[str]], str, int]] = {
    "one_byte_changed": (
        lambda L: _at(L, 7, L[6].replace('"reason-6"', '"reason-7"')),
        "changed",
        7,
    ),
    "one_byte_of_a_signed_event_changed": (
        lambda L: _at(L, 8, L[7].replace('"reason-7"', '"reason-9"')),
        "changed",
        8,
    ),
    "changed_and_re_hashed_in_mid_block": (
        lambda L: _at(L, 7, forged(L[6], reason="nothing happened")),
        "changed",
        7,
    ),
    "first_of_a_block_changed_and_re_hashed": (
        lambda L: _at(L, 9, forged(L[8], reason="nothing happened")),
        "changed",
        9,
    ),
    "block_end_changed_and_signed_again_without_the_key": (
        lambda L: _at(L, 8, forged(L[7], reason="nothing happened")),
        "bad signature",
        8,
    ),
    "whole_block_rewritten_and_signed_without_the_key": (
        lambda L: [*L[:4], *rewrite_block(L[4:8], L[3]), *L[8:]],
        "bad signature",
        8,
    ),
    "event_deleted": (lambda L: L[:9] + L[10:], "deleted", 10),
    "signed_end_of_a_block_deleted": (lambda L: L[:11] + L[12:], "deleted", 12),
    "pair_swapped": (lambda L: _swap(L, 4, 5), "reordered", 5),
    "event_moved_later": (lambda L: [*L[:2], *L[3:8], L[2], *L[8:]], "reordered", 3),
    "signed_event_moved_into_the_next_block": (
        lambda L: [*L[:7], L[8], L[7], *L[9:]],
        "reordered",
        8,
    ),
    "forged_event_inserted": (
        lambda L: [*L[:8], forged(L[8], reason="forged"), *L[8:]],
        "inserted",
        9,
    ),
    "forged_event_inserted_in_mid_block": (
        lambda L: [*L[:9], forged(L[9], reason="forged"), *L[9:]],
        "inserted",
        10,
    ),
    "copy_of_an_event_inserted": (lambda L: [*L[:11], L[3], *L[11:]], "inserted", 12),
    "signed_with_an_unknown_key_version": (
        lambda L: _at(L, 12, forged(L[11], key_version=7)),
        "unknown key",
        12,
    ),
    "block_signature_moved_to_another_block": (
        lambda L: _at(
            L,
            16,
            json.dumps(
                {**json.loads(L[15]), "sig": json.loads(L[7])["sig"]},
                ensure_ascii=False,
                sort_keys=True,
                separators=(",", ":"),
            ),
        ),
        "bad signature",
        16,
    ),
    "block_signature_moved_to_an_event_in_its_block": (
        lambda L: _at(L, 6, moved_signature(L[5], L[7])),
        "bad signature",
        6,
    ),
    "block_signature_removed": (lambda L: _at(L, 8, unsigned(L[7])), "changed", 8),
}


def rewrite_block(block: list[str], before: str) -> list[str]:
    """A whole block replaced: each event changed, chained and re-hashed from the real event
    before it, the last signed with a key of the tamperer's own."""
    out = []
    prev = json.loads(before)["hash"]
    for line in block:
        obj = json.loads(line)
        obj.update(reason="rewritten", prev=prev)
        out.append(forged(canonical(obj).decode()))
        prev = json.loads(out[-1])["hash"]
    return out


def verified_before(seq: int) -> int:
    """Events verified whole before a problem at `seq`: the blocks that end before it."""
    return (seq - 1) // BLOCK * BLOCK


async def test_sealed_trail_is_gap_free_chained_per_event_and_signed_per_block(
    gw: Gateway, sealed: list[str]
) -> None:
    events = [json.loads(line) for line in sealed]
    assert [e["seq"] for e in events] == list(range(1, EVENTS + 1))
    stored = await gw.redis.client.xrange(gw.redis.keys.trail, "-", "+")
    assert [e["id"] for e in events] == [entry_id for entry_id, _ in stored]  # ids kept
    assert events[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(events):
        assert after["prev"] == before["hash"] == digest(before)
    first = events[0]
    assert first["kind"] == "query.held" and first["decision"] == "held"
    assert first["reason"] == "reason-0" and first["fields"] == {"n": "0"}
    assert first["subject"] == gw.keyring.person_key("atena", "900000000000000")
    assert {e["v"] for e in events} == {2}
    # one signature per block, on its last event, over that event's hash (which holds the
    # block's first seq, its last seq and the key version)
    ends = [e for e in events if "sig" in e]
    assert [e["seq"] for e in ends] == list(range(BLOCK, EVENTS + 1, BLOCK))
    assert [e["block"] for e in ends] == list(range(1, EVENTS + 1, BLOCK))
    assert {e["key"] for e in ends} == {1}
    public = pubkeys(gw)[1]
    for e in ends:
        public.verify(base64.b64decode(e["sig"]), bytes.fromhex(e["hash"]))
    assert all(not {"block", "key", "sig"} & e.keys() for e in events if "sig" not in e)
    head = await gw.trail.head()
    assert (head.seq, head.hash) == (EVENTS, events[-1]["hash"])
    assert (await gw.trail.status()).unsealed == 0
    report = await verify(gw)
    assert report.ok, report.text()
    assert (report.events, report.first_seq, report.last_seq) == (EVENTS, 1, EVENTS)


@pytest.mark.parametrize("case", sorted(TAMPERING))
async def test_tampering_with_the_live_trail_is_detected_and_named(
    gw: Gateway, sealed: list[str], case: str
) -> None:
    tamper, what, seq = TAMPERING[case]
    await rewrite_trail(gw, tamper(sealed))
    report = await verify(gw)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == (what, seq), report.text()
    assert report.events == verified_before(seq), report.text()


@pytest.mark.parametrize("case", sorted(TAMPERING))
async def test_tampering_with_an_export_is_detected_and_named(
    gw: Gateway, sealed: list[str], case: str, tmp_path: Path
) -> None:
    path = await export_to(gw, tmp_path / "export.jsonl")
    keys = pubkeys(gw)
    assert verify_file(path, keys).ok
    begin, *events, end = path.read_text().splitlines()
    tamper, what, seq = TAMPERING[case]
    path.write_text("\n".join([begin, *tamper(events), end]) + "\n")
    report = verify_file(path, keys)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == (what, seq), report.text()
    assert report.events == verified_before(seq), report.text()


@pytest.mark.parametrize("seq", [6, 8, 20])  # in mid-block, a block's signed end, the last
async def test_every_single_byte_change_of_an_exported_event_is_detected(
    gw: Gateway, sealed: list[str], tmp_path: Path, seq: int
) -> None:
    path = await export_to(gw, tmp_path / "export.jsonl")
    keys = pubkeys(gw)
    data = path.read_bytes()
    lines = data.split(b"\n")
    target = lines[seq]  # event seq (line 0 is the begin record)
    start = data.index(target)
    for i in range(len(target)):
        changed = bytearray(data)
        changed[start + i] ^= 0x01 if changed[start + i] != ord("\n") ^ 0x01 else 0x02
        path.write_bytes(bytes(changed))
        report = verify_file(path, keys)
        assert not report.ok, f"byte {i} of event {seq} changed and not detected"
        problem = report.problem
        assert problem is not None, report.text()
        # named by its place (a flipped digit of its own seq is no guide) or by its seq
        named = problem.where == f"export.jsonl line {seq + 1}" or problem.seq in (seq, seq + 1)
        assert named and report.events <= verified_before(seq), report.text()


async def test_a_cut_export_is_truncated_and_a_shortened_one_has_deleted_events(
    gw: Gateway, sealed: list[str], tmp_path: Path
) -> None:
    path = await export_to(gw, tmp_path / "export.jsonl")
    keys = pubkeys(gw)
    whole = path.read_bytes()
    lines = whole.decode().splitlines()

    path.write_bytes(whole[: whole.index(lines[12].encode()) + 40])  # cut mid-line
    report = verify_file(path, keys)
    assert report.problem is not None and report.problem.what == "truncated"
    assert report.problem.seq == 12

    path.write_text("\n".join(lines[:-1]) + "\n")  # the end record is gone
    report = verify_file(path, keys)
    assert report.problem is not None and report.problem.what == "truncated", report.text()

    path.write_text("\n".join([*lines[:-3], lines[-1]]) + "\n")  # last two events removed
    report = verify_file(path, keys)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == ("deleted", EVENTS - 1)

    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")  # the first event removed
    report = verify_file(path, keys)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == ("deleted", 1)

    path.write_text("\n".join(lines[1:]) + "\n")  # the begin record removed
    report = verify_file(path, keys)
    assert report.problem is not None and report.problem.what == "changed", report.text()
    assert "begin record" in report.problem.detail


async def test_the_live_trail_cut_short_of_its_head_is_truncated(
    gw: Gateway, sealed: list[str]
) -> None:
    await rewrite_trail(gw, sealed[:-3])
    report = await verify(gw)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == ("truncated", EVENTS - 2)


async def test_a_wrong_public_key_fails_every_signature(
    gw: Gateway, sealed: list[str], tmp_path: Path, settings: Settings, redis_url: str
) -> None:
    Keyring(tmp_path / "other" / "keys")  # another data dir's keys
    wrong = from_keys_dir(tmp_path / "other" / "keys")
    report = await verify(gw, wrong)
    assert report.problem is not None
    assert (report.problem.what, report.problem.seq) == ("bad signature", BLOCK)  # the first
    assert report.events == 0
    path = await export_to(gw, tmp_path / "export.jsonl")
    report = verify_file(path, wrong)
    assert report.problem is not None and report.problem.what == "bad signature"


async def test_signing_key_rotation_midway_keeps_every_event_verifiable(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, 7)
    await seal_all(gw)  # blocks 1-4 and 5-7
    assert gw.keyring.rotate("signing") == 2
    await make_events(gw, 6, start=7)
    await seal_all(gw)  # blocks 8-11 and 12-13
    events = [json.loads(line) for line in await trail_lines(gw)]
    assert [(e["seq"], e["key"]) for e in events if "sig" in e] == [
        (4, 1),
        (7, 1),
        (11, 2),
        (13, 2),
    ]
    report = await verify(gw)
    assert report.ok and report.keys == {1, 2}, report.text()
    path = await export_to(gw, tmp_path / "export.jsonl")
    assert verify_file(path, pubkeys(gw)).ok
    only_old = {1: pubkeys(gw)[1]}
    report = await verify(gw, only_old)
    assert report.problem is not None
    assert (report.problem.what, report.problem.seq) == ("unknown key", 11)
    assert report.events == 7
    report = verify_file(path, only_old)  # its begin record is signed with the new key too
    assert report.problem is not None and report.problem.what == "unknown key"


async def test_a_range_export_verifies_alone_and_links_to_the_events_before_it(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, EVENTS, spacing=0.003)  # distinct times, so ranges cut where asked
    await seal_all(gw)
    events = [json.loads(line) for line in await trail_lines(gw)]
    since, until = events[5]["at"], events[15]["at"]
    path = await export_to(gw, tmp_path / "range.jsonl", since=since, until=until)
    begin, *lines, end = (json.loads(x) for x in path.read_text().splitlines())
    seqs = [e["seq"] for e in lines]
    assert seqs == list(range(seqs[0], seqs[-1] + 1))  # contiguous
    assert all(since <= e["at"] < until for e in lines)
    assert begin["first_seq"] == seqs[0] and begin["prev"] == events[seqs[0] - 2]["hash"]
    assert end["last_seq"] == seqs[-1] and end["count"] == len(lines)
    report = verify_file(path, pubkeys(gw))
    assert report.ok, report.text()
    assert any("must equal the hash of event" in n for n in report.notes)
    # the export before it, and this one, verify as one stretch; with a gap between, not
    before = await export_to(gw, tmp_path / "before.jsonl", until=since)
    assert verify_files_ok([before, path], gw)
    earlier = await export_to(gw, tmp_path / "earlier.jsonl", until=events[3]["at"])
    from gateway.audit.files import verify_files

    earlier_end = json.loads(earlier.read_text().splitlines()[-1])["last_seq"]
    assert earlier_end < seqs[0] - 1
    report = verify_files([earlier, path], pubkeys(gw))
    assert report.problem is not None and report.problem.what == "deleted"
    assert report.problem.seq == earlier_end + 1


def verify_files_ok(paths: list[Path], gw: Gateway) -> bool:
    from gateway.audit.files import verify_files

    report = verify_files(paths, pubkeys(gw))
    assert report.ok, report.text()
    return report.first_seq == 1


async def test_events_already_in_the_trail_are_readable_in_order_with_the_unsealed(
    gw: Gateway,
) -> None:
    await make_events(gw, 3)
    await seal_all(gw)
    await make_events(gw, 2, start=3)
    events = await gw.events.read()
    assert [e.fields["n"] for e in events] == ["0", "1", "2", "3", "4"]
    assert [e.seq for e in events] == [1, 2, 3, None, None]


async def test_an_event_naming_a_personal_data_field_is_refused(gw: Gateway) -> None:
    with pytest.raises(ValueError, match="person keys"):
        await gw.events.append("test.bad", "tester", atena_number="900000000000001")
    assert await gw.events.unsealed() == 0
