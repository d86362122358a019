"""What the flag state check's fold costs per trail event: the walk alone (`Chain.feed`, as
`hogo-gateway audit verify` runs it) and the check's whole fold (`Blocks`, the sans-I/O core of
`verified_blocks`, + `TrailFold.apply`), the full path (`fast=False`, the walk as it was) and the
fast path side by side, in the same run, on the same lines.

    .venv/bin/python -m bench.fold_cost [--events 200000] [--flag-every 50] [--block 256] [--rounds 5]

The trail is made by the sealer's own chaining and signing (`record.chain_events`, a real
Ed25519 key, blocks of `--block` events as the sealer's default): events shaped like the
automatic path's `query.provided` (bench/audit_seal.py), and one `flag.set` every
`--flag-every` events (the kinds the fold takes). No Redis: the lines are read from memory, so
the numbers are the walk's and the fold's CPU, without the store's paging. Prints µs per event
(median of the rounds, CPU time of this process) and the ratio full / fast.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.audit_seal import raw_event
from gateway.audit.record import GENESIS, chain_events
from gateway.audit.verify import Chain, Line, Report
from gateway.verify.check import _fields
from gateway.verify.fold import TrailFold
from gateway.verify.trail import Blocks, Verified


def flag_event(n: int) -> dict[str, str]:
    """A raw `flag.set` as the flag store emits it (synthetic values; its MAC is not checked)."""
    return {
        "kind": "flag.set",
        "at": "2026-11-26T01:02:03.456Z",
        "actor": "staff-1",
        "subject": f"1.{n:032x}",
        "change": f"{n:016x}",
        "dept": "子ども家庭課",
        "business": "児童手当業務",
        "want": "11",
        "dept_ard": "1",
        "dept_nd": "1",
        "mac": "0" * 64,
    }


def make_trail(events: int, flag_every: int, block: int, private: Ed25519PrivateKey) -> list[Line]:
    lines: list[Line] = []
    prev, seq = GENESIS, 1
    for start in range(0, events, block):
        raw = [
            (f"{n + 1}-0", flag_event(n) if n % flag_every == 0 else raw_event(n))
            for n in range(start, min(start + block, events))
        ]
        sealed = chain_events(seq, raw, prev, close=(seq, 1, private))
        lines += [Line(s.line, f"trail entry {s.seq}-0") for s in sealed]
        prev, seq = sealed[-1].hash, sealed[-1].seq + 1
    return lines


def walk(lines: list[Line], pubkeys: dict, fast: bool) -> Report:
    report = Report()
    chain = Chain(pubkeys, report, fast=fast)
    for line in lines:
        if not chain.feed(line):
            break
    chain.finish()
    chain.fail_unsigned()
    return report


def fold(lines: list[Line], pubkeys: dict, fast: bool) -> TrailFold:
    blocks = Blocks(pubkeys, seq=0, hash="", fast=fast)
    state = TrailFold()

    def no_mac(*_: object) -> bool:
        return False

    for line in lines:
        item, more = blocks.feed(line)
        if isinstance(item, Verified):
            for obj in item.events:
                state.apply(str(obj.get("kind")), _fields(obj), no_mac)
            state.seq, state.hash, state.id = item.seq, item.hash, item.id
        if not more:
            break
    problem = blocks.finish(len(lines))
    assert problem is None, problem
    return state


def cpu_us(step: Callable[[], object], events: int) -> float:
    before = time.process_time()
    step()
    return (time.process_time() - before) / events * 1e6


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fold_cost")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--flag-every", type=int, default=50)
    p.add_argument("--block", type=int, default=256)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    private = Ed25519PrivateKey.generate()
    lines = make_trail(a.events, a.flag_every, a.block, private)
    pubkeys = {1: private.public_key()}
    full, fast = walk(lines, pubkeys, False), walk(lines, pubkeys, True)
    assert full.ok and full == fast, (full, fast)
    size = sum(len(line.text or "") for line in lines) / len(lines)
    print(
        f"{a.events} events, blocks of {a.block}, 1 in {a.flag_every} flag.set, {size:.0f} B/line"
    )
    rows: dict[str, list[float]] = {}
    for _ in range(a.rounds):
        for name, step in (
            ("walk full", lambda: walk(lines, pubkeys, False)),
            ("walk fast", lambda: walk(lines, pubkeys, True)),
            ("fold full", lambda: fold(lines, pubkeys, False)),
            ("fold fast", lambda: fold(lines, pubkeys, True)),
        ):
            rows.setdefault(name, []).append(cpu_us(step, a.events))
    med = {name: statistics.median(v) for name, v in rows.items()}
    for name, us in med.items():
        print(f"{name}: {us:6.2f} us/event (rounds: {', '.join(f'{x:.2f}' for x in rows[name])})")
    print(
        f"ratio full/fast: walk {med['walk full'] / med['walk fast']:.2f}x, "
        f"fold {med['fold full'] / med['fold fast']:.2f}x "
        f"(load average {os.getloadavg()[0]:.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
