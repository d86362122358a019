"""The yearly usage report for the privacy council: counts from the event log, nothing personal."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from gateway.clock import SYSTEM_CLOCK
from gateway.context import open_gateway
from gateway.departments import issue_token
from gateway.reports import usage
from tests.conftest import Running
from tests.flag_support import cli_runner, flag, released_by_two, unflag
from tests.support import Query, portal_xml


async def test_usage_counts_what_happened_and_nothing_personal(running: Running) -> None:
    r = running.residents
    gw = running.gw
    await flag(gw, r[0])
    await flag(gw, r[1])
    await flag(gw, r[2], department="税務課", business=None, basis="ex-officio")
    await flag(gw, r[3], department="税務課", business=None, basis="ex-officio", nd=False)
    await unflag(gw, r[2])
    await released_by_two(gw, r[1])

    koseki, _ = await issue_token(gw, department="戸籍住民課", business=None, label="", actor="t")
    zeimu, _ = await issue_token(gw, department="税務課", business=None, label="", actor="t")
    kourei, _ = await issue_token(gw, department="高齢者支援課", business=None, label="", actor="t")
    for token, person in ((koseki, r[0]), (koseki, r[5]), (zeimu, r[0]), (kourei, r[0])):
        async with running.session.get(
            f"{running.url}/api/v1/flags/{person.atena_number}",
            headers={"Authorization": f"Bearer {token}"},
        ):
            pass

    await running.submit(Query("U-1", r[0].subject_code))  # held
    await running.submit(Query("U-2", r[3].subject_code))  # held
    await running.submit(Query("U-3", r[9].subject_code))  # provided
    held = await gw.queries.list_held(only_waiting=True)
    await gw.queue.release(held[0].id, "取扱注意", "staff:c")
    await gw.queue.refuse(held[1].id, "理由", "staff:c")
    await running.post("/soap/portal", portal_xml("GetSelfInformation", r[0].subject_code))
    await running.post("/soap/portal", portal_xml("GetProvisionRecords", r[0].subject_code))

    report = (await usage(gw, running.clock.today().year, fiscal=False)).as_json()  # holds today
    assert report["flags_set"] == {
        "total": 4,
        "by_basis": {"application": 2, "ex-officio": 2},
        "by_department": {"子ども家庭課": 2, "税務課": 2},
        "by_department_and_basis": [
            {"department": "子ども家庭課", "basis": "application", "count": 2},
            {"department": "税務課", "basis": "ex-officio", "count": 2},
        ],
    }
    released = report["flags_released"]
    assert released["total"] == 2 and released["two_person"] == 1 and released["admin_path"] == 1
    assert released["by_department"] == {"子ども家庭課": 1, "税務課": 1}
    assert released["by_basis"] == {"application": 2}
    reads = report["reads"]
    assert reads["total"] == 3 and reads["refused"] == 1
    assert reads["by_department"] == {"戸籍住民課": 2, "税務課": 1}
    assert report["queries"] == {"provided": 1, "held": 2, "released": 1, "refused": 1}
    assert report["portal"] == {"blocked": 1, "filtered": 1}

    text = json.dumps(report, ensure_ascii=False)
    for person in r[:10]:
        assert person.atena_number not in text and person.name not in text
    records = [await gw.flags.get(p.atena_number) for p in r[:4]]
    assert not any(rec and rec.person_key in text for rec in records)


async def test_the_year_is_the_wards_calendar_and_the_fiscal_year_runs_april_to_march(
    settings, redis_url: str
) -> None:
    # A log of past years, written here with past stream ids: no gateway (and so no sealer) runs,
    # since in real life ids only grow and a sealer would never see an id below its head.
    gw = await open_gateway(settings, redis_url)
    client, key = gw.redis.client, gw.redis.keys.events

    async def at(iso_utc: str, department: str) -> None:
        moment = datetime.fromisoformat(iso_utc).replace(tzinfo=UTC)
        await client.xadd(
            key,
            {
                "kind": "flag.set",
                "at": iso_utc.replace("+00:00", "") + "Z",
                "actor": "test",
                "basis": "application",
                "department": department,
            },
            id=f"{int(moment.timestamp() * 1000)}-0",
        )

    await at("2025-12-31T14:59:59", "A")  # 2025-12-31 23:59:59 in Japan
    await at("2025-12-31T15:00:01", "B")  # 2026-01-01 00:00:01 in Japan
    await at("2026-03-31T14:59:00", "C")  # 2026-03-31 23:59 in Japan: fiscal year 2025
    await at("2026-03-31T15:00:00", "D")  # 2026-04-01 00:00 in Japan: fiscal year 2026
    await at("2026-12-31T14:59:59", "E")
    await at("2026-12-31T15:00:00", "F")  # 2027 in Japan

    async def departments(year: int, fiscal: bool = False) -> dict[str, int]:  # calendar here
        report = (await usage(gw, year, fiscal=fiscal)).as_json()
        return report["flags_set"]["by_department"]  # type: ignore[index]

    try:
        assert await departments(2025) == {"A": 1}
        assert await departments(2026) == {"B": 1, "C": 1, "D": 1, "E": 1}
        assert await departments(2027) == {"F": 1}
        assert await departments(2025, fiscal=True) == {"A": 1, "B": 1, "C": 1}
        assert await departments(2026, fiscal=True) == {"D": 1, "E": 1, "F": 1}
    finally:
        await gw.close()


def test_report_usage_on_the_command_line(tmp_path: Path, redis_url: str) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    res = hogo(
        "flags",
        "set",
        "900000000000901",
        "--name",
        "試験 花子",
        "--department",
        "税務課",
        "--basis",
        "ex-officio",
    )
    assert res.returncode == 0, res.stderr
    today = SYSTEM_CLOCK.today()  # (the command's own clock)
    fiscal_year = str(today.year if today.month >= 4 else today.year - 1)  # 年度: the default
    report = json.loads(hogo("report", "usage", "--year", fiscal_year, "--json").stdout)
    assert report["period"]["fiscal_year"] is True
    assert report["flags_set"]["by_department_and_basis"] == [
        {"department": "税務課", "basis": "ex-officio", "count": 1}
    ]
    # --fiscal is still accepted (it is the default now); --format json is --json
    for extra in (["--fiscal", "--json"], ["--format", "json"]):
        again = hogo("report", "usage", "--year", fiscal_year, *extra)
        assert again.returncode == 0 and json.loads(again.stdout) == report
    calendar = hogo("report", "usage", "--year", str(today.year), "--calendar", "--json")
    assert json.loads(calendar.stdout)["period"]["from"] == f"{today.year}-01-01"
    html = hogo("report", "usage", "--year", fiscal_year)  # the council's document by default
    assert html.returncode == 0 and html.stdout.startswith("<!doctype html>")
    assert "年度 情報提供ゲートウェイ（保護）利用状況報告</h1>" in html.stdout
    out = tmp_path / "usage.csv"
    res = hogo("report", "usage", "--year", fiscal_year, "--format", "csv", "--out", str(out))
    assert res.returncode == 0 and res.stdout == "" and str(out) in res.stderr
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert rows[0] == ["区分", "項目", "内訳", "件数"]
    assert ["フラグ設定", "税務課", "職権", "1"] in rows and ["フラグ設定", "合計", "", "1"] in rows
    for text in (html.stdout, out.read_text(encoding="utf-8-sig")):
        assert "試験" not in text and "900000000000901" not in text
    assert hogo("report", "usage").returncode == 2
    assert hogo("report", "usage", "--year", "2026", "--calendar", "--fiscal").returncode == 2
    assert hogo("report", "usage", "--year", "2026", "--format", "pdf").returncode == 2
    assert hogo("report", "usage", "--year", "26").returncode == 1
    bad = hogo("report", "usage", "--year", "2026", "--out", str(tmp_path / "no" / "such" / "x"))
    assert bad.returncode == 1 and "cannot write" in bad.stderr
