"""Helpers for the audit trail's tests: make events, seal them, read and tamper with the trail."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.archive import Archive
from gateway.audit.files import verify_files
from gateway.audit.live import export, verify_live
from gateway.audit.pubkeys import from_keys_dir
from gateway.audit.report import Report
from gateway.audit.sealer import Sealer
from gateway.clock import ManualClock
from gateway.context import Gateway


async def open_fresh(settings: Any, redis_url: str) -> Gateway:
    """A gateway's store with an empty event log: its first store call (the keyring check, an
    event itself) is made, and that event cleared, so that a test's events are seq 1, 2, ...
    Its clock is a ManualClock (the real time until a test moves it)."""
    from gateway.context import open_gateway

    gw = await open_gateway(settings, redis_url, ManualClock())
    await gw.trail.head()
    await gw.redis.client.delete(gw.redis.keys.events)
    return gw


@contextlib.asynccontextmanager
async def fresh(settings: Any, redis_url: str) -> AsyncIterator[Gateway]:
    """open_fresh, closed at the end: a store none of the gateway's own loops (sealer, archiver,
    fold) writes to meanwhile, for tests that build the store's keys by hand."""
    gw = await open_fresh(settings, redis_url)
    try:
        yield gw
    finally:
        await gw.close()


async def make_events(gw: Gateway, count: int, start: int = 0, spacing: float = 0) -> None:
    """Events of several kinds, with person keys as subjects (as the gateway writes them);
    `spacing` seconds apart on the gateway's clock (moved, not slept through), for tests that
    need distinct times."""
    clock = gw.clock
    assert not spacing or isinstance(clock, ManualClock), "spacing moves a ManualClock"
    for i in range(start, start + count):
        if spacing:
            clock.advance(spacing)
        await gw.events.append(
            ("query.held", "flag.set", "security.portal_blocked")[i % 3],
            f"tester-{i % 4}",
            subject=gw.keyring.person_key("atena", f"{900000000000000 + i:015d}"),
            reason=f"reason-{i}",
            n=i,
        )


async def seal_all(gw: Gateway, timeout: float = 20.0) -> None:
    left = await Sealer(gw.trail, gw.keyring, gw.settings).settle(timeout)
    assert left == 0, f"{left} events still unsealed"


def pubkeys(gw: Gateway) -> dict[int, Ed25519PublicKey]:
    return from_keys_dir(gw.settings.keys_dir)


async def verify(gw: Gateway, keys: dict[int, Ed25519PublicKey] | None = None) -> Report:
    return await verify_live(Archive(gw.settings.audit_dir), gw.trail, keys or pubkeys(gw))


async def export_to(gw: Gateway, path: Path, **kw: Any) -> Path:
    await export(
        Archive(gw.settings.audit_dir),
        gw.trail,
        gw.keyring.signing_key,
        path,
        pubkeys=pubkeys(gw),
        since=kw.get("since"),
        until=kw.get("until"),
        exported_by="test",
    )
    return path


def verify_file(path: Path, keys: dict[int, Ed25519PublicKey]) -> Report:
    return verify_files([path], keys)


async def trail_lines(gw: Gateway) -> list[str]:
    rows = await gw.redis.client.xrange(gw.redis.keys.trail, "-", "+")
    return [fields["e"] for _, fields in rows]


async def rewrite_trail(gw: Gateway, lines: list[str]) -> None:
    """Replace the stored trail with `lines` under the same entry ids in order (more lines get
    ids after the last), as a tamperer with write access to Redis would."""
    ids = [i for i, _ in await gw.redis.client.xrange(gw.redis.keys.trail, "-", "+")]
    while len(ids) < len(lines):
        ms, n = ids[-1].split("-")
        ids.append(f"{ms}-{int(n) + 1}")
    pipe = gw.redis.client.pipeline(transaction=True)
    pipe.delete(gw.redis.keys.trail)
    for entry_id, line in zip(ids, lines, strict=False):
        pipe.xadd(gw.redis.keys.trail, {"e": line}, id=entry_id)
    await pipe.execute()


def edit(line: str, **changes: Any) -> str:
    """The line with some fields changed, keeping its (now wrong) hash and signature."""
    obj = json.loads(line)
    obj.update(changes)
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def v1_line(seq: int, event_id: str, raw: dict[str, str], prev: str, key: Any) -> tuple[str, str]:
    """An event sealed as format 1 was (a signature on every event): the line and its hash."""
    from gateway.audit.record import canonical, chain_event, sign

    event = {**chain_event(seq, event_id, raw, prev), "v": 1}
    signed = sign(event, key.version, key.private)
    return canonical(signed).decode(), signed["hash"]


async def seal_as_format_1(gw: Gateway) -> int:
    """Seal what waits the way the gateway did before blocks (format 1); the events sealed."""
    from gateway.audit.lease import Lease

    lease = Lease(gw.trail, "sealer", 5.0)
    assert await lease.hold()
    head = await gw.trail.head()
    raw = await gw.trail.unsealed(10_000)
    batch, prev = [], head.hash
    for i, (raw_id, fields) in enumerate(raw, start=1):
        line, prev = v1_line(head.seq + i, raw_id, fields, prev, gw.keyring.signing_key)
        batch.append((raw_id, line, prev))
    if batch:
        await gw.trail.seal(lease.value, head, gw.keyring.signing_key.version, batch)
    await lease.drop()
    return len(batch)


async def reset_trail(gw: Gateway) -> None:
    """An empty event log and trail (for property tests that seal many trails in one test)."""
    await gw.redis.client.delete(*gw.redis.keys.audit_keys)


def block_sizes(lines: list[str]) -> list[int]:
    """The trail's blocks, checked to follow one another from seq 1 with the last event closing
    one (no event outside a signed block): their sizes."""
    sizes, start = [], 1
    for obj in (json.loads(line) for line in lines):
        if "sig" in obj:
            assert obj.get("block", obj["seq"]) == start, f"block at {obj['seq']} claims {obj}"
            sizes.append(obj["seq"] - start + 1)
            start = obj["seq"] + 1
    assert start == len(lines) + 1, f"events {start}..{len(lines)} are in no signed block"
    return sizes
