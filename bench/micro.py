"""Where a request's time goes, step by step, each step timed alone in this process.

    .venv/bin/python -m bench.micro [--n 5000] [--loop uvloop|asyncio]

Each step of the automatic path (SubmitQuery for an unflagged subject) is run `n` times on the
same inputs the benchmark sends, and its mean cost in microseconds printed. The two store steps
run against a redis-server of their own (append-only, `appendfsync always`), one call at a time,
so they include a loopback round trip; "redis-py overhead" is the client's share of that.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.load import TEMPLATE
from bench.procs import Processes, start_redis
from gateway.clock import SYSTEM_CLOCK
from gateway.crypto import Keyring
from gateway.directory_import import import_pairs
from gateway.eventloop import chosen, run
from gateway.model import QueryResult, UpstreamAnswer
from gateway.settings import Settings
from gateway.simulator import synthetic_residents
from gateway.soap.canonical import read_answer
from gateway.soap.messages import query_result_envelope, read_submit_query, read_upstream_answer
from gateway.soap.parse import body_element, parse_xml, validate
from gateway.store.directory import DirectoryStore
from gateway.store.events import EventLog
from gateway.store.queries import QueryStore
from gateway.store.redis import Redis, connect
from gateway.store.requesters import RequesterStore


def per_call(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


async def per_call_async(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await fn()  # type: ignore[misc]
    return (time.perf_counter() - started) / n * 1e6


async def measure(n: int, redis_url: str, data_dir: Path) -> list[tuple[str, float]]:
    resident = next(synthetic_residents(1))
    body = TEMPLATE.format(pn="M-1", subject=1).encode()
    fields = resident.fields
    answer_bytes = query_result_envelope(QueryResult("M-1", "PROVIDED", fields=fields), "x")
    answer_bytes = answer_bytes.replace(b"xResponse", b"SubmitQueryResponse")
    root = parse_xml(body)
    element = body_element(root)
    q = read_submit_query(element)
    keyring = Keyring(data_dir / "keys")
    out: list[tuple[str, float]] = []

    out.append(
        ("parse_xml (checks + lxml parse) of the request", per_call(lambda: parse_xml(body), n))
    )
    out.append(("body_element", per_call(lambda: body_element(root), n)))
    out.append(
        (
            "schema validation (XMLSchema.validate)",
            per_call(lambda: validate(element.element, "provision.wsdl"), n),
        )
    )
    out.append(("read_submit_query (12 fields)", per_call(lambda: read_submit_query(element), n)))
    out.append(
        (
            "person key (HMAC-SHA256)",
            per_call(lambda: keyring.person_keys("subject", q.subject_code), n),
        )
    )
    out.append(
        (
            "seal request fields (json + AES-GCM)",
            per_call(
                lambda: keyring.seal(
                    '{"subject_code": "SIM0000000000001", "requester_user_id": "user_7"}',
                    "query:x:request",
                ),
                n,
            ),
        )
    )
    out.append(("the clock's stamp for the script's ARGV", per_call(SYSTEM_CLOCK.stamp, n)))
    out.append(
        (
            "read_upstream_answer (parse + fields)",
            per_call(lambda: read_upstream_answer(answer_bytes), n),
        )
    )
    out.append(
        (
            "read_answer (the fast reader: the canonical answer, rebuilt and compared)",
            per_call(lambda: read_answer(answer_bytes), n),
        )
    )
    result = QueryResult("M-1", "PROVIDED", fields=fields)
    out.append(
        ("response envelope", per_call(lambda: query_result_envelope(result, "SubmitQuery"), n))
    )

    settings = Settings(data_dir=data_dir, store_timeout=5.0)
    r = Redis(connect(redis_url, settings), settings)
    try:
        await RequesterStore(r).add("1310000000000001", "見本市 子ども家庭課", "bench")
        await RequesterStore(r).grant("1310000000000001", "JM00000000000001", [], "bench")
        await import_pairs(
            DirectoryStore(r, keyring),
            EventLog(r),
            [(resident.atena_number, resident.subject_code)],
            "bench",
        )
        store = QueryStore(r, keyring)
        subject_keys = keyring.person_keys("subject", resident.subject_code)
        ids = []

        async def admit() -> None:
            adm = await store.admit(replace(q, processing_number=f"M-{len(ids)}"), subject_keys)
            assert adm.query_id is not None and adm.facts.flags is not None
            ids.append(adm.query_id)

        async def complete() -> None:
            await store.complete(ids.pop(), subject_keys, subject_keys[0], answer)

        answer = UpstreamAnswer(True, fields)
        await r.call(r.client.config_resetstat())
        out.append(
            (
                "admit script (store layer, one at a time, loopback, fsync always)",
                await per_call_async(admit, n),
            )
        )
        out.append(("  of which Redis's own time", await _server_us(r)))
        out.append(
            (
                "complete script (store layer, one at a time, loopback, fsync always)",
                await per_call_async(complete, n),
            )
        )
        out.append(("  of which Redis's own time", await _server_us(r)))
        # What a per-process flag cache could save at most: the flag lookup inside the scripts.
        lookup = r.client.register_script(
            "local a = redis.call('GET', KEYS[1]) "
            "if a then return redis.call('HMGET', ARGV[1] .. 'flag:' .. a, 'ard', 'nd') end "
            "return false"
        )
        dir_key = r.keys.directory(subject_keys[0])
        await per_call_async(lambda: lookup(keys=[dir_key], args=[r.keys.prefix]), n)
        out.append(
            (
                "  the flag lookup alone (GET directory + HMGET flags), Redis's time",
                await _server_us(r),
            )
        )
        ping_client = r.client
        out.append(
            (
                "one PING through redis-py (round trip + client)",
                await per_call_async(ping_client.ping, n),
            )
        )
        out.append(
            (
                "one PING through Redis.call (with the deadline)",
                await per_call_async(lambda: r.call(ping_client.ping()), n),
            )
        )
        raw = await _raw_ping_us(redis_url, n)
        out.append(("one PING on a bare asyncio stream (round trip only)", raw))
    finally:
        await r.close()
    return out


async def _raw_ping_us(url: str, n: int) -> float:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    for _ in range(n):
        writer.write(b"*1\r\n$4\r\nPING\r\n")
        await reader.readuntil(b"\r\n")
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed / n * 1e6


async def _server_us(r: Redis) -> float:
    """Redis's own microseconds per script call since the last reading (INFO commandstats)."""
    stats = await r.call(r.client.info("commandstats"))
    await r.call(r.client.config_resetstat())
    return float(stats.get("cmdstat_evalsha", {}).get("usec_per_call", 0.0))


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.micro")
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--loop", default="uvloop")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hogo-micro-"))
    procs = Processes()
    try:
        _, url = start_redis(procs, tmp / "redis", "always", None)
        result: list[tuple[str, float]] = []

        async def go() -> None:
            result.extend(await measure(a.n, url, tmp / "data"))

        run(go(), a.loop)
        print(f"# per-step cost, mean of {a.n} calls, event loop {chosen(a.loop)}")
        print("| step | µs |\n|---|---:|")
        for name, us in result:
            print(f"| {name} | {us:.1f} |")
        return 0
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
