"""Scale with the data: does the admission lookup stay flat from 1,000 to 1,000,000 flags and up to
10,000,000 directory entries?

    .venv/bin/python -m bench.scale_data [--max-directory 10000000] [--samples 2000]

Starts its own redis-server (append-only, `appendfsync always`, like the embedded one) and loads
it tier by tier through the store's own key layout (`Keyring.person_key`, `Keys.directory`,
`Keys.flag`), in pipelines of big batches: directory entries, and flag records shaped like those
`lua/flag_change.lua` writes (one department's hold with its sealed name, the sealed atena
number, a history entry, the index). After
each tier it times `QueryStore.admit` (the atomic read of requester, directory and both flags that
every query starts with) one call at a time on random subjects, flagged and not, and reads Redis's
own time per script call and `used_memory`; then the lookup alone (directory GET + flags HMGET in
one read-only script, so no fsync), which is the part whose cost could grow with the data.
Mean Redis times are wall-clock inside Redis: on a busy machine they include preemption, so the
client-side p50 of the lookup is the steadier figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import redis

from bench.procs import Processes, machine_info, start_redis
from gateway.crypto import Keyring
from gateway.model import SubmitQuery
from gateway.settings import Settings
from gateway.store.keys import Keys
from gateway.store.queries import QueryStore
from gateway.store.redis import Redis, connect
from gateway.store.requesters import RequesterStore

REQUESTER = "1310000000000001"
TIERS = [(1_000, 10_000), (10_000, 100_000), (100_000, 1_000_000), (1_000_000, 10_000_000)]
BATCH = 20_000


def subject_code(i: int) -> str:
    return f"SIM{i:013d}"


def atena_number(i: int) -> str:
    return f"{900_000_000_000_000 + i:015d}"


def load_directory(
    client: redis.Redis, keyring: Keyring, keys: Keys, first: int, last: int
) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(first, last + 1):
        pipe.set(
            keys.directory(keyring.person_key("subject", subject_code(i))),
            keyring.person_key("atena", atena_number(i)),
        )
        if len(pipe) >= BATCH:
            pipe.execute()
    pipe.execute()


DEPARTMENT = "子ども家庭課"


def load_flags(client: redis.Redis, keyring: Keyring, keys: Keys, first: int, last: int) -> None:
    now_iso = "2026-11-26T00:00:00.000Z"
    pipe = client.pipeline(transaction=False)
    for i in range(first, last + 1):
        pk = keyring.person_key("atena", atena_number(i))
        pipe.hset(
            keys.flag(pk),
            mapping={
                "version": 1,
                "ard": "1",
                "nd": "1",
                "ard_holds": 1,
                "nd_holds": 1,
                "model": "2",
                "updated_at": now_iso,
                "atena": keyring.seal(atena_number(i), f"flag:{pk}:atena"),
            },
        )
        pipe.hset(
            keys.flag_holds(pk),
            DEPARTMENT,
            json.dumps(
                {
                    "ard": "1",
                    "nd": "1",
                    "name": keyring.seal(f"試験 花子{i}", f"flag:{pk}:name"),
                    "business": "児童手当業務",
                    "basis": "application",
                    "until": "2027-03-31",
                    "since": now_iso,
                    "set_at": now_iso,
                    "set_by": "bench",
                    "updated_at": now_iso,
                    "updated_by": "bench",
                    "version": 1,
                },
                ensure_ascii=False,
            ),
        )
        pipe.rpush(
            keys.flag_hold_history(pk, DEPARTMENT),
            json.dumps(
                {
                    "basis": "application",
                    "department": DEPARTMENT,
                    "business": "児童手当業務",
                    "until": "2027-03-31",
                    "flags": ["auto_response_disabled", "non_disclosure"],
                    "at": now_iso,
                    "actor": "bench",
                    "action": "set",
                    "version": 1,
                    "ard": 1,
                    "nd": 1,
                    "hold_version": 1,
                    "dept_ard": 1,
                    "dept_nd": 1,
                },
                ensure_ascii=False,
            ),
        )
        pipe.zadd(keys.flag_index, {pk: 1_790_000_000_000 + i})
        if len(pipe) >= BATCH:
            pipe.execute()
    pipe.execute()


async def time_admits(
    url: str, data_dir: Path, flagged: int, directory: int, samples: int, tier: int
) -> dict[str, float]:
    settings = Settings(data_dir=data_dir, store_timeout=5.0)
    keyring = Keyring(settings.keys_dir)
    r = Redis(connect(url, settings), settings)
    store = QueryStore(r, keyring)
    rng = random.Random(tier)
    lat: dict[str, list[float]] = {"flagged": [], "unflagged": []}
    seen: dict[str, int] = {"flagged": 0, "unflagged": 0}
    try:
        await r.call(r.client.config_resetstat())
        for n in range(samples):
            kind = "flagged" if n % 2 else "unflagged"
            i = (
                rng.randint(1, flagged)
                if kind == "flagged"
                else rng.randint(flagged + 1, directory)
            )
            q = SubmitQuery(
                processing_number=f"S{tier}-{n}",
                requester_org_code=REQUESTER,
                affair_code="JM00000000000001",
                procedure_code="JT00000000000001",
                item_code="TM00000000000001",
                subject_code=subject_code(i),
                requested_at="2026-11-26T10:00:00+09:00",
            )
            subject_keys = keyring.person_keys("subject", q.subject_code)
            started = time.perf_counter()
            admission = await store.admit(q, subject_keys)
            lat[kind].append(time.perf_counter() - started)
            flags = admission.facts.flags
            # the lookup found what was loaded: a sanity check on every sample
            assert flags is not None and flags.auto_response_disabled == (kind == "flagged")
            seen[kind] += 1
        stats = await r.call(r.client.info("commandstats"))
        # The lookup alone (what a flag cache could spare Redis), on random subjects of all sizes
        lookup = r.client.register_script(
            "local a = redis.call('GET', KEYS[1]) "
            "if a then return redis.call('HMGET', ARGV[1] .. 'flag:' .. a, 'ard', 'nd') end "
            "return false"
        )
        await lookup(keys=[r.keys.directory("warm")], args=[r.keys.prefix])
        await r.call(r.client.config_resetstat())
        lookups: list[float] = []
        for _ in range(samples):
            sk = keyring.person_key("subject", subject_code(rng.randint(1, directory)))
            started = time.perf_counter()
            assert await lookup(keys=[r.keys.directory(sk)], args=[r.keys.prefix])
            lookups.append(time.perf_counter() - started)
        lookup_stats = await r.call(r.client.info("commandstats"))
    finally:
        await r.close()
    evalsha = stats.get("cmdstat_evalsha") or stats.get("cmdstat_eval") or {}

    def pct(values: list[float], p: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1e6

    both = lat["flagged"] + lat["unflagged"]
    return {
        "admit_p50_us": pct(both, 50),
        "admit_p99_us": pct(both, 99),
        "admit_p50_flagged_us": pct(lat["flagged"], 50),
        "admit_p50_unflagged_us": pct(lat["unflagged"], 50),
        "admit_mean_us": statistics.mean(both) * 1e6,
        "redis_us_per_admit": float(evalsha.get("usec_per_call", 0.0)),
        "samples": float(len(both)),
        "lookup_p50_us": pct(lookups, 50),
        "lookup_p99_us": pct(lookups, 99),
        "redis_us_per_lookup": float(
            lookup_stats.get("cmdstat_evalsha", {}).get("usec_per_call", 0.0)
        ),
    }


def main() -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.scale_data", description=__doc__.split("\n")[0]
    )
    p.add_argument("--max-directory", type=int, default=10_000_000)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--fsync", choices=["always", "everysec"], default="always")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hogo-scale-"))
    procs = Processes()
    info = machine_info()
    print(
        f"# scale with the data — {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"Redis {info['redis']}, appendfsync {a.fsync}, {time.strftime('%Y-%m-%d %H:%M')}",
        flush=True,
    )
    print(
        "| flags | directory entries | load time s | used_memory MiB | AOF MiB | admit p50 µs "
        "| admit p99 µs | p50 flagged / unflagged µs | Redis µs per admit | lookup p50 / p99 µs "
        "| Redis µs per lookup |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        flush=True,
    )
    try:
        _, url = start_redis(procs, tmp / "redis", a.fsync, None)
        client = redis.Redis.from_url(url, socket_timeout=600)
        keyring = Keyring(tmp / "data" / "keys")
        keys = Keys()
        asyncio.run(_register(url, tmp / "data"))
        flags_done = directory_done = 0
        for flags, directory in TIERS:
            directory = min(directory, a.max_directory)
            flags = min(flags, directory // 10)  # every tier: one in ten directory entries flagged
            if directory <= directory_done and flags <= flags_done:
                break
            started = time.perf_counter()
            load_directory(client, keyring, keys, directory_done + 1, directory)
            load_flags(client, keyring, keys, flags_done + 1, flags)
            load_s = time.perf_counter() - started
            flags_done, directory_done = flags, directory
            _quiet(client)
            mem = client.info("memory")["used_memory"] / 2**20
            aof = sum(f.stat().st_size for f in (tmp / "redis").rglob("*.aof")) / 2**20
            t = asyncio.run(time_admits(url, tmp / "data", flags, directory, a.samples, flags))
            print(
                f"| {flags:,} | {directory:,} | {load_s:.0f} | {mem:,.0f} | {aof:,.0f} | "
                f"{t['admit_p50_us']:.0f} | {t['admit_p99_us']:.0f} | "
                f"{t['admit_p50_flagged_us']:.0f} / {t['admit_p50_unflagged_us']:.0f} | "
                f"{t['redis_us_per_admit']:.1f} | {t['lookup_p50_us']:.0f} / "
                f"{t['lookup_p99_us']:.0f} | {t['redis_us_per_lookup']:.1f} |",
                flush=True,
            )
        return 0
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def _quiet(client: redis.Redis) -> None:
    """Wait out an AOF rewrite or RDB save the load set off: it would be timed with the admits."""
    while True:
        info = client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("rdb_bgsave_in_progress"):
            return
        time.sleep(0.5)


async def _register(url: str, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, store_timeout=5.0)
    Keyring(settings.keys_dir)  # creates the keys
    r = Redis(connect(url, settings), settings)
    try:
        await RequesterStore(r).add(REQUESTER, "見本市 子ども家庭課", "bench")
        await RequesterStore(r).grant(REQUESTER, "JM00000000000001", [], "bench")
    finally:
        await r.close()


if __name__ == "__main__":
    raise SystemExit(main())
