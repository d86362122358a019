"""What the flag state check (gateway/verify) costs: with 1,000 flagged persons and 100,000 events
in the trail, and with a large directory.

    .venv/bin/python -m bench.verify_scale [--events 100000] [--persons 1000] [--directory 1000000]

Starts its own redis-server (append-only, `appendfsync everysec`: the check only reads, and the
loading is faster so) and fills it through the gateway's own code: flags through
`FlagStore.apply` (each change with its MAC, history entry and event), the directory through the
import, filler events appended and sealed by the real Sealer (chained, signed in blocks), and, for
the directory tier, entries written in pipelines with the values the import writes (person key
and MAC). Then it times:

- the first fold: the whole trail from seq 1, every block's signature and chain verified;
- a round with nothing new (every person compared in atomic looks, the remapped and flagged
  persons' subjects, one sweep step of `verify_sweep_keys`);
- a round after 1,000 more events and 20 flag changes (the fold carried on);
- a confirmation's re-check of one person (saved fold loaded, carried on, one look);
- a whole sweep of the directory (`flags verify`) and the share of one round's sweep step,
  with redis-server's own time per sweep step (the longest it is blocked at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

import redis

from bench.procs import Processes, machine_info, start_redis
from gateway.audit.sealer import Sealer
from gateway.context import Gateway, open_gateway
from gateway.directory_import import import_pairs
from gateway.flags import set_change
from gateway.orders import FlagOrder
from gateway.settings import Settings
from gateway.store.directory import entry_mac_parts
from gateway.store.events import event_fields
from gateway.store.flags import FlagChange
from gateway.verify.check import Verifier, VerifyReport, recheck
from gateway.verify.checkpoint import encode

KODOMO, ZEIMU = ("子ども家庭課", "児童手当業務"), ("税務課", None)


def atena(i: int) -> str:
    return f"{800_000_000_000_000 + i:015d}"


def code(i: int) -> str:
    return f"BENCH{i:011d}"


def change(i: int, dept: tuple[str, str | None], on: bool) -> FlagChange:
    c = set_change(
        FlagOrder(
            atena_number=atena(i),
            name="試験 花子",
            department=dept[0],
            business=dept[1],
            basis="application",
            until=None,
            auto_response_disabled=True,
            non_disclosure=True,
            actor="bench",
        )
    )
    if not on:
        c.action, c.auto_response_disabled, c.non_disclosure = "release", False, False
        c.entry = {"basis": "application", "note": "本人申出", "flags": []}
        c.hold_fields = {}
    return c


async def fill_trail(gw: Gateway, persons: int, events: int) -> None:
    await import_pairs(gw.directory, gw.events, [(atena(i), code(i)) for i in range(persons)], "b")
    changes = [change(i, KODOMO, True) for i in range(persons)]
    changes += [change(i, ZEIMU, True) for i in range(0, persons, 3)]
    changes += [change(i, KODOMO, False) for i in range(0, persons, 5)]
    for i in range(0, len(changes), 200):
        await gw.flags.apply(changes[i : i + 200], timeout=30.0)
    await filler(gw, events - len(changes) - 4)


async def filler(gw: Gateway, n: int) -> None:
    client, key = gw.redis.client, gw.redis.keys.events
    sealer = Sealer(gw.trail, gw.keyring, gw.settings)
    for start in range(0, n, 5000):
        pipe = client.pipeline(transaction=False)
        for j in range(start, min(n, start + 5000)):
            pipe.xadd(
                key,
                event_fields(
                    "query.provided",
                    "gateway",
                    {"query": f"{j:020x}", "org": "1310000000000001", "pn": f"P-{j}",
                     "item": "TM00000000000001", "subject": f"1.{j:032x}", "outcome": "provided",
                     "record_nd": "0"},
                    gw.clock,
                ),
            )  # fmt: skip
        await pipe.execute()
        await sealer.settle(600.0)


def load_directory(url: str, gw: Gateway, first: int, last: int) -> None:
    client = redis.Redis.from_url(url)
    make = gw.keyring.tag_checker("directory-entry").make
    keys, keyring = gw.redis.keys, gw.keyring
    pipe = client.pipeline(transaction=False)
    for i in range(first, last):
        sk, pk = keyring.person_key("subject", code(i)), keyring.person_key("atena", atena(i))
        pipe.set(keys.directory(sk), f"{pk}|{make(*entry_mac_parts(sk, pk))}")
        if len(pipe) >= 20_000:
            pipe.execute()
    pipe.execute()


async def timed(what: str, coro):  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), time.process_time()
    out = await coro
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"{what:<62} {wall:8.2f} s wall {used:8.2f} s CPU (this process)", flush=True)
    return out


async def run(url: str, data: Path, persons: int, events: int, directory: int) -> None:
    settings = Settings(data_dir=data, store_timeout=30.0)
    gw = await open_gateway(settings, url)
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        await timed(f"fill: {persons} flagged persons, {events} events (sealed)",
                    fill_trail(gw, persons, events))  # fmt: skip
        head = (await gw.trail.head()).seq
        print(f"trail head seq {head}", flush=True)
        v = Verifier(gw)
        await timed("first fold from seq 1 (every block verified)",
                    v._advance(head, VerifyReport(), None))  # fmt: skip
        assert v.fold is not None
        blob = encode(v.fold, gw.keyring)
        print(f"saved fold: {len(blob) / 1024:.0f} KiB, {len(v.fold.persons)} persons, "
              f"{len(v.fold.changes)} change ids", flush=True)  # fmt: skip
        report = await timed("first round (fold there; compare, sweep a step, save)", v.run())
        assert report.ok, report.as_json()
        report = await timed("a round with nothing new", v.run())
        assert report.ok, report.as_json()
        await filler(gw, 1000)
        await gw.flags.apply([change(i, ZEIMU, True) for i in range(1, 41, 2)])
        await Sealer(gw.trail, gw.keyring, gw.settings).settle(60.0)
        report = await timed("a round after 1,000 events and 20 flag changes", v.run())
        assert report.ok, report.as_json()
        pk = gw.keyring.person_key("atena", atena(0))
        assert await timed("a confirmation's re-check of one person",
                           recheck(gw, "person", pk)) == []  # fmt: skip
        if directory:
            before = int(client.info("memory")["used_memory"])
            await timed(f"load {directory:,} directory entries (pipelines)",
                        asyncio.to_thread(load_directory, url, gw, persons, directory))  # fmt: skip
            after = int(client.info("memory")["used_memory"])
            print(f"redis used_memory +{(after - before) / 2**20:.0f} MiB "
                  f"({(after - before) / max(1, directory - persons):.0f} bytes an entry)")  # fmt: skip
            client.config_resetstat()
            sweeper = Verifier(gw)
            await sweeper._advance((await gw.trail.head()).seq, VerifyReport(), None)
            rep = VerifyReport()
            await timed("a whole sweep of the directory (flags verify)",
                        sweeper.sweep.run(rep, True, set(sweeper.fold.persons), sweeper.fold.directory_sealed))  # fmt: skip
            stats = client.info("commandstats").get("cmdstat_evalsha", {})
            print(f"  swept {rep.swept:,} entries; redis: {stats.get('calls')} sweep steps, "
                  f"{stats.get('usec_per_call', 0) / 1000:.1f} ms each (blocked for that long), "
                  f"{stats.get('usec', 0) / 1e6:.1f} s in all", flush=True)  # fmt: skip
            step = Verifier(gw)
            step.fold = sweeper.fold
            await timed(f"one round's sweep step ({settings.verify_sweep_keys:,} keys)",
                        step.sweep.run(VerifyReport(), False, set(sweeper.fold.persons), sweeper.fold.directory_sealed))  # fmt: skip
            report = await timed("a round with the directory (nothing new)", v.run())
            assert report.ok, json.dumps(report.as_json())[:2000]
    finally:
        await gw.close()


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.verify_scale", description=__doc__)
    p.add_argument("--persons", type=int, default=1000)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--directory", type=int, default=1_000_000)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hogo-verify-"))
    procs = Processes()
    info = machine_info()
    print(f"# the flag state check — {info['nproc']} CPUs ({info['cpu']}), Python "
          f"{info['python']}, Redis {info['redis']}, {time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
    try:
        _, url = start_redis(procs, tmp / "redis", "everysec", None)
        asyncio.run(run(url, tmp / "data", a.persons, a.events, a.directory))
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
