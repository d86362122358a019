"""Properties of the block-signed trail for any input, against a real redis-server and the real
sealer: however events fall into blocks and wherever an export's range cuts them, the export
verifies on its own, consecutive exports verify as one stretch, and any changed byte shows."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gateway.audit.files import verify_files
from gateway.audit.sealer import Sealer
from gateway.settings import Settings
from tests.audit_support import (
    export_to,
    make_events,
    open_fresh,
    pubkeys,
    reset_trail,
    trail_lines,
    verify,
)

MAX_EVENTS = 16


async def _example(
    settings: Settings,
    redis_url: str,
    work: Path,
    sizes: list[int],
    n: int,
    cut: tuple[int, int],
    flip: int,
) -> None:
    gw = await open_fresh(settings, redis_url)
    try:
        await reset_trail(gw)
        await make_events(gw, n, spacing=0.002)  # distinct times, so that ranges cut where asked
        sealer = Sealer(gw.trail, gw.keyring, gw.settings)
        step = 0
        while (await gw.trail.status()).unsealed:
            sealer.batch = sizes[step % len(sizes)]  # blocks of any sizes, in any order
            await sealer.seal_once()
            step += 1
        await sealer.lease.drop()
        keys = pubkeys(gw)
        assert (await verify(gw)).ok
        at = [json.loads(x)["at"] for x in await trail_lines(gw)]
        a, b = sorted(cut)
        since = at[a] if 0 < a < n else None
        until = at[b] if b < n else None
        if since is not None and until is not None and until <= since:
            until = None
        path = await export_to(gw, work / "range.jsonl", since=since, until=until)
        _, *events, _ = path.read_text().splitlines()
        report = verify_files([path], keys)
        assert report.ok and report.events == len(events), report.text()
        parts = [path]
        if since is not None:
            parts.append(await export_to(gw, work / "before.jsonl", until=since))
        if until is not None:
            parts.append(await export_to(gw, work / "after.jsonl", since=until))
        report = verify_files(parts, keys)
        assert report.ok and (report.events, report.first_seq) == (n, 1), report.text()
        if events:
            data = path.read_bytes()
            start = data.index(b"\n") + 1  # the first event line
            stop = data.rindex(b"\n", 0, len(data) - 1)  # the end of the last one
            i = start + flip % (stop - start)
            changed = bytearray(data)
            changed[i] ^= 0x01 if changed[i] != ord("\n") ^ 0x01 else 0x02
            path.write_bytes(bytes(changed))
            assert not verify_files([path], keys).ok, f"byte {i - start} changed and not seen"
    finally:
        await gw.close()


@hsettings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=8),
    n=st.integers(1, MAX_EVENTS),
    cut=st.tuples(st.integers(0, MAX_EVENTS), st.integers(0, MAX_EVENTS)),
    flip=st.integers(0, 2**32),
)
def test_any_blocks_and_any_export_range_verify_alone_and_show_any_changed_byte(
    settings: Settings,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    sizes: list[int],
    n: int,
    cut: tuple[int, int],
    flip: int,
) -> None:
    work = tmp_path_factory.mktemp("export")
    asyncio.run(_example(replace(settings), redis_url, work, sizes, n, cut, flip))
