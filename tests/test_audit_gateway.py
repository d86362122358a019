"""The audit trail inside a running gateway: sealed within moments, visible in /metrics, free of
plaintext personal data in the store, the archive and exports, and off only when asked, loudly."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path

from gateway.audit.archive import Archive
from gateway.flags import release_flags
from gateway.model import Field
from gateway.settings import Settings
from gateway.simulator import Resident, Simulator, synthetic_residents
from gateway.store.scripts import AUDIT_OFF, script_source
from tests.audit_support import export_to, trail_lines, verify
from tests.conftest import Running, start_running, stop_running
from tests.support import GatewayProcess, Query, portal_xml

SECRET_PEOPLE = [
    Resident(
        atena_number=f"97531086420{i:04d}",
        subject_code=f"QZAUDITSUBJECT{i:04d}",
        name=f"監査 秘匿子{i}",
        fields=(Field("住所", f"架空県監査市秘密町{i}丁目"),),
    )
    for i in range(8)
]
NOTICE = "取扱注意：避難先は監査市秘密町"
REFUSAL = "理由：加害者（監査 秘匿子）からの照会の疑い"
RELEASE_NOTE = "本人（監査 秘匿子3）の申出"


def sensitive_strings() -> list[str]:
    out = [NOTICE, REFUSAL, RELEASE_NOTE, "監査", "秘匿", "秘密町"]
    for p in SECRET_PEOPLE:
        out += [p.atena_number, p.subject_code, p.name, *(f.value for f in p.fields)]
    return out


async def wait_sealed(r: Running, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (await r.gw.trail.status()).unsealed:
        assert time.monotonic() < deadline, "the sealer did not keep up"
        await asyncio.sleep(0.02)


async def test_events_are_sealed_as_they_come_and_metrics_show_the_lag(running: Running) -> None:
    await running.flag(running.residents[0])
    for i in range(20):
        await running.submit(Query(f"AM-{i}", running.residents[i % 5].subject_code))
    await wait_sealed(running)  # sealing runs continuously, not in a nightly batch
    async with running.session.get(running.url + "/metrics") as resp:
        text = await resp.text()
    lines = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("hogo_audit_")
    )
    assert float(lines["hogo_audit_unsealed_events"]) == 0
    assert float(lines["hogo_audit_seal_lag_seconds"]) == 0
    assert float(lines["hogo_audit_sealed_seq"]) >= 21
    assert float(lines['hogo_audit_role{role="sealer"}']) == 1
    kinds = [e["kind"] for e in await running.events()]
    assert kinds.count("query.provided") == 16 and kinds.count("query.held") == 4
    assert (await verify(running.gw)).ok


async def test_no_plaintext_personal_data_in_the_trail_the_archive_or_an_export(
    settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    settings = replace(
        settings,
        audit_keep_events=5,
        audit_archive_after_seconds=0,
        audit_archive_interval_seconds=0.1,
    )
    sim = Simulator(residents={p.subject_code: p for p in SECRET_PEOPLE})
    r, runners = await start_running(settings, redis_url, SECRET_PEOPLE, upstream=sim)
    try:
        for p in SECRET_PEOPLE[:4]:
            await r.flag(p)
        for i, p in enumerate(SECRET_PEOPLE):
            await r.submit(Query(f"AP-{i}", p.subject_code))
        await r.submit(Query("AP-unknown", "QZUNKNOWNAUDIT0001"))
        await r.post(
            "/soap/portal", portal_xml("GetSelfInformation", SECRET_PEOPLE[0].subject_code)
        )
        await r.post(
            "/soap/portal", portal_xml("GetProvisionRecords", SECRET_PEOPLE[1].subject_code)
        )
        await r.post("/soap/provision", Query("AP-bad", SECRET_PEOPLE[5].subject_code + "!").xml())
        held = await r.gw.queries.list_held(only_waiting=True)
        await r.gw.queue.release(held[0].id, NOTICE, "staff:a")
        await r.gw.queue.refuse(held[1].id, REFUSAL, "staff:b")
        await release_flags(
            r.gw,
            atena_number=SECRET_PEOPLE[3].atena_number,
            basis="application",
            note=RELEASE_NOTE,
            auto_response_disabled=True,
            non_disclosure=True,
            actor="test",
        )
        await wait_sealed(r)
        deadline = time.monotonic() + 10
        while (await r.gw.trail.status()).stored > 5:
            assert time.monotonic() < deadline, "the archiver did not run"
            await asyncio.sleep(0.05)
        export = await export_to(r.gw, tmp_path / "export.jsonl")
        report = await verify(r.gw)
        assert report.ok and report.events > 20, report.text()
        kinds = {json.loads(x)["kind"] for x in export.read_text().splitlines()[1:-1]}
        assert {
            "flag.set",
            "flag.release",
            "query.held",
            "query.released",
            "query.refused",
        } <= kinds
        assert {"query.provided", "security.portal_blocked", "security.hostile_input"} <= kinds

        texts = {"export": export.read_text(), "store": "\n".join(await trail_lines(r.gw))}
        texts["unsealed"] = json.dumps(
            await r.gw.redis.client.xrange(r.gw.redis.keys.events), ensure_ascii=False
        )
        for path in Archive(settings.audit_dir).files():
            texts[path.name] = path.read_text()
        assert len(texts) >= 4  # archive files exist
        for where, text in texts.items():
            for secret in sensitive_strings():
                assert secret not in text, f"{secret!r} in {where}"
        for line in texts["export"].splitlines()[1:-1]:
            subject = json.loads(line)["subject"]
            assert subject == "" or (subject.split(".")[0].isdigit() and len(subject) == 34)
    finally:
        await stop_running(r, runners)


async def test_with_the_audit_off_nothing_is_recorded_and_nothing_seals(
    settings: Settings, redis_url: str
) -> None:
    assert AUDIT_OFF in script_source("complete", audit=False)
    assert AUDIT_OFF not in script_source("complete", audit=True)
    residents = list(synthetic_residents(5))
    r, runners = await start_running(replace(settings, audit_enabled=False), redis_url, residents)
    try:
        assert (await r.submit(Query("OFF-1", residents[0].subject_code))).status == "PROVIDED"
        await r.post("/soap/provision", b"<bad")
        await asyncio.sleep(0.3)
        keys = set(await r.gw.redis.client.keys("*"))
        assert not keys & r.gw.redis.keys.audit_keys
        assert await r.events() == []
    finally:
        await stop_running(r, runners)


async def test_serve_warns_loudly_when_the_audit_is_off(tmp_path: Path, redis_url: str) -> None:
    proc = GatewayProcess(
        tmp_path / "data", redis_url, "http://127.0.0.1:9/", HOGO_AUDIT_ENABLED="0"
    )
    try:
        await proc.wait_ready()
        log = proc.log.read_text()
        assert "THE AUDIT TRAIL IS OFF" in log and "never production" in log
    finally:
        proc.kill9()
