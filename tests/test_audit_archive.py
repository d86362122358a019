"""Archiving: old sealed events move to fsynced files under DATA_DIR/audit, the trail stays
verifiable across the boundary, and a crash at any point neither loses nor duplicates an event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.audit.archive import Archive, id_key
from gateway.audit.archiver import Archiver
from gateway.audit.files import verify_files
from gateway.audit.sealer import Sealer
from gateway.context import Gateway
from gateway.settings import Settings
from gateway.store.trail import TrailCorrupt
from tests.audit_support import (
    export_to,
    make_events,
    open_fresh,
    pubkeys,
    seal_all,
    trail_lines,
    verify,
    verify_file,
)


@pytest.fixture
async def gw(settings: Settings, redis_url: str) -> AsyncIterator[Gateway]:
    # keep the newest 5 sealed events in the store; archive the rest whatever their age. The
    # archiver moves whole blocks: blocks of 5 let it stop exactly where these tests expect
    g = await open_fresh(
        replace(
            settings,
            audit_keep_events=5,
            audit_archive_after_seconds=10**9,
            audit_block_events=5,
        ),
        redis_url,
    )
    yield g
    await g.close()


async def archive_all(gw: Gateway) -> int:
    archiver = Archiver(gw.trail, gw.settings)
    moved = total = 1
    total = 0
    while moved:
        moved = await archiver.archive_once()
        total += moved
    await archiver.lease.drop()
    return total


def archived_seqs(gw: Gateway) -> list[int]:
    return [
        json.loads(line)["seq"]
        for path in Archive(gw.settings.audit_dir).files()
        for line in path.read_text().splitlines()
    ]


async def test_verification_and_export_cross_the_archive_boundary(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, 30)
    await seal_all(gw)
    assert await archive_all(gw) == 25
    assert archived_seqs(gw) == list(range(1, 26))
    status = await gw.trail.status()
    assert (status.stored, status.head.archived_seq) == (5, 25)
    assert [json.loads(x)["seq"] for x in await trail_lines(gw)] == list(range(26, 31))
    report = await verify(gw)
    assert report.ok and report.events == 30, report.text()
    path = await export_to(gw, tmp_path / "all.jsonl")
    assert len(path.read_text().splitlines()) == 32
    assert verify_file(path, pubkeys(gw)).ok
    # more events, another round: the archive carries on where it stopped
    await make_events(gw, 10, start=30)
    await seal_all(gw)
    assert await archive_all(gw) == 10
    assert archived_seqs(gw) == list(range(1, 36))
    assert (await verify(gw)).ok


async def test_archive_files_rotate_by_size_and_verify_offline_as_one_stretch(
    gw: Gateway,
) -> None:
    gw.settings = replace(gw.settings, audit_archive_file_bytes=3000)
    await make_events(gw, 40)
    await seal_all(gw)
    await archive_all(gw)
    files = Archive(gw.settings.audit_dir).files()
    assert len(files) >= 3
    assert archived_seqs(gw) == list(range(1, 36))
    report = verify_files(list(reversed(files)), pubkeys(gw))  # any order: sorted by seq
    assert report.ok and (report.first_seq, report.last_seq) == (1, 35), report.text()
    for path in files:  # each ends with a block's signature, so each verifies alone too
        assert verify_files([path], pubkeys(gw)).ok, path.name
    assert (await verify(gw)).ok


async def test_a_crash_between_writing_the_file_and_trimming_loses_and_duplicates_nothing(
    gw: Gateway,
) -> None:
    await make_events(gw, 20)
    await seal_all(gw)
    # the archiver wrote events 1..10 to its file, fsynced, and died before trimming the store
    lines = await trail_lines(gw)
    Archive(gw.settings.audit_dir).append(lines[:10], gw.settings)
    assert (await gw.trail.status()).stored == 20
    report = await verify(gw)  # the events are in the file and the store: read once
    assert report.ok and report.events == 20, report.text()
    assert await archive_all(gw) == 5  # trims 1..10, then archives 11..15
    assert archived_seqs(gw) == list(range(1, 16))
    assert (await gw.trail.status()).stored == 5
    assert (await verify(gw)).ok


async def test_a_half_written_archive_line_is_cut_off_and_written_again(gw: Gateway) -> None:
    await make_events(gw, 15)
    await seal_all(gw)
    gw.settings = replace(gw.settings, audit_keep_events=10)
    assert await archive_all(gw) == 5
    lines = await trail_lines(gw)
    [path] = Archive(gw.settings.audit_dir).files()
    with path.open("a") as fh:
        fh.write(lines[0][:70])  # event 6, cut by a crash mid-write (never trimmed)
    gw.settings = replace(gw.settings, audit_keep_events=5)
    assert await archive_all(gw) == 5
    assert archived_seqs(gw) == list(range(1, 11))
    assert (await verify(gw)).ok


async def test_a_changed_archive_file_is_detected_and_named(gw: Gateway) -> None:
    await make_events(gw, 20)
    await seal_all(gw)
    await archive_all(gw)
    [path] = Archive(gw.settings.audit_dir).files()
    path.write_text(path.read_text().replace('"reason-8"', '"reason-0"'))
    report = await verify(gw)
    assert report.problem is not None, report.text()
    assert (report.problem.what, report.problem.seq) == ("changed", 9)
    assert report.problem.where == f"{path.name} line 9"


async def test_an_archive_kept_on_another_host_shows_as_missing_and_says_where(
    gw: Gateway, tmp_path: Path
) -> None:
    await make_events(gw, 20)
    await seal_all(gw)
    await archive_all(gw)
    [path] = Archive(gw.settings.audit_dir).files()
    path.rename(tmp_path / path.name)
    report = await verify(gw)
    assert report.problem is not None
    assert (report.problem.what, report.problem.seq) == ("deleted", 1)
    assert any(path.name in note for note in report.notes), report.notes
    # with that host's files alongside, the stretches verify as one
    await export_to(gw, tmp_path / "rest.jsonl")
    report = verify_files([tmp_path / path.name, tmp_path / "rest.jsonl"], pubkeys(gw))
    assert report.ok and (report.first_seq, report.last_seq) == (1, 20), report.text()


async def test_events_older_than_the_age_limit_are_archived(gw: Gateway) -> None:
    gw.settings = replace(gw.settings, audit_keep_events=10**6, audit_archive_after_seconds=0)
    await make_events(gw, 12)
    await seal_all(gw)
    assert await archive_all(gw) == 12
    assert (await gw.trail.status()).stored == 0
    await make_events(gw, 3, start=12)
    await seal_all(gw)  # sealing carries on from the head, the store holding none before
    assert (await verify(gw)).ok


async def test_a_store_that_lost_sealed_events_is_not_sealed_into_a_second_chain(
    gw: Gateway,
) -> None:
    await make_events(gw, 12)
    await seal_all(gw)
    await archive_all(gw)
    await gw.redis.client.flushall()  # the store came back from an old backup, say
    await make_events(gw, 3)
    with pytest.raises(TrailCorrupt, match="lost sealed events"):
        await Sealer(gw.trail, gw.keyring, gw.settings).settle(2.0)
    status = await gw.trail.status()
    assert (status.head.seq, status.unsealed) == (0, 3)  # kept, unsealed, for an operator


async def test_reading_the_live_trail_while_the_archiver_trims_it_misses_nothing(
    gw: Gateway,
) -> None:
    from gateway.audit.live import live_lines
    from gateway.audit.verify import Chain, Report

    await make_events(gw, 10)
    await seal_all(gw)
    await archive_all(gw)  # 1..5 in the file, 6..10 in the store
    await make_events(gw, 20, start=10)
    await seal_all(gw)
    head = await gw.trail.head()
    report = Report()
    chain = Chain(pubkeys(gw), report)
    seen = []
    async for line in live_lines(Archive(gw.settings.audit_dir), gw.trail, head.seq):
        chain.feed(line)
        seen.append(json.loads(line.text or "")["seq"])
        if len(seen) == 5:  # the reader is done with the file; now the archiver moves 6..25
            assert await archive_all(gw) == 20
    chain.finish()
    assert seen == list(range(1, 31))
    assert report.ok and report.events == 30, report.text()


async def test_the_event_log_reads_archived_events_by_id_as_before(gw: Gateway) -> None:
    await make_events(gw, 30)
    await seal_all(gw)
    ids_before = [e.id for e in await gw.events.read()]
    await make_events(gw, 3, start=30)  # and some not sealed yet
    assert await archive_all(gw) == 25
    events = await gw.events.read()
    assert [e.fields["n"] for e in events] == [str(i) for i in range(33)]
    assert [e.id for e in events[:30]] == ids_before  # an event keeps its id when archived
    assert [e.seq for e in events] == [*range(1, 31), None, None, None]
    # windows by id across the archive boundary, open and closed bounds, as the console asks
    window = await gw.events.read(ids_before[20], ids_before[27])
    assert [e.fields["n"] for e in window] == [str(i) for i in range(20, 28)]
    window = await gw.events.read(f"({ids_before[23]}", "+", count=4)
    assert [e.fields["n"] for e in window] == ["24", "25", "26", "27"]
    [one] = await gw.events.read(ids_before[3], ids_before[3], count=1)
    assert one.fields["n"] == "3" and one.kind == "query.held" and one.seq == 4
    ms = ids_before[10].split("-")[0]  # a bare time: from its first id on
    [first] = await gw.events.read(ms, "+", count=1)
    assert id_key(ms) <= id_key(first.id) <= id_key(ids_before[10])
    assert [e.fields["n"] async for e in gw.events.iterate(batch=7)] == [str(i) for i in range(33)]
    assert await gw.events.length() == 33
