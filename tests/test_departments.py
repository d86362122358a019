"""The annexes as shipped, the departments' tokens, and the read API: the three approved items
only, every read recorded, anything outside the annexes refused and recorded."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from gateway import annex
from gateway.departments import Reach, issue_token, reach, tokens
from tests.conftest import Running, stop_running
from tests.flag_support import all_values, cli_runner, events_of, flag, one_line_error, unflag


# -- the annexes ------------------------------------------------------------------------------
def test_the_annexes_are_shipped_as_transcribed_from_the_seed() -> None:
    holding, using = annex.holding(), annex.using()
    assert len(holding.rows) == 25 and len(using.rows) == 26
    assert holding.rows[0] == annex.Registration(
        "税務課",
        "特別区民税・都民税",
        "特別区民税及び都民税の賦課徴収",
        "①電磁的記録 ・課税資料管理システム) ・滞納整理支援システム ②紙媒体",
    )
    assert holding.rows[-1].business == "私立幼稚園の施設型給付業務"
    assert using.rows[1] == annex.Registration(
        "戸籍住民課",
        "住民基本台帳",
        "住民の居住関係の公証など、住民に関する事務の基礎とするとともに、住民に関する記録の適正な管理を図るため",
    )
    assert using.rows[-1] == annex.Registration(
        "学校運営課", "学校保健", "児童生徒の健康管理並びに健康の保持増進を図ることを目的とするため"
    )
    assert [r.business for r in holding.businesses("生活福祉課 保護担当課")] == [
        "生活保護受給世帯に対する法内援護",
        "外国人に対する生活保護の準用",
        "中国残留邦人等に対する支援給付",
    ]
    assert all(r.purpose for r in holding.rows + using.rows)


def test_reach_follows_the_annexes() -> None:
    assert reach("戸籍住民課", "住民基本台帳") is Reach.ANYONE  # annex 2 only
    assert reach("税務課", "特別区民税・都民税") is Reach.ANYONE  # in both
    assert (
        reach("高齢者支援課", annex.holding().businesses("高齢者支援課")[0].business) is Reach.OWN
    )
    assert reach("保健予防課 保健センター", "保健師活動") is Reach.OWN  # annex 1 only
    assert reach("戸籍住民課", "印鑑登録") is Reach.NONE
    assert reach("総務課", "文書管理") is Reach.NONE


# -- tokens -----------------------------------------------------------------------------------
def test_tokens_are_issued_once_stored_as_a_hash_and_revocable(
    tmp_path: Path, redis_url: str
) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    res = hogo(
        "departments",
        "token",
        "issue",
        "--department",
        "税務課",
        "--label",
        "課税資料管理システム",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    issued = json.loads(res.stdout)
    token = issued["token"]
    assert issued["business"] == "特別区民税・都民税"  # the one business it has in either annex
    import redis as redis_lib

    client = redis_lib.Redis.from_url(redis_url)
    everything = b"".join(
        (k + b"".join(client.hgetall(k).values())) if client.type(k) == b"hash" else k
        for k in client.keys("*")
    )
    assert token.encode() not in everything
    assert hashlib.sha256(token.encode()).hexdigest().encode() in everything
    listed = json.loads(hogo("departments", "token", "list", "--json").stdout)
    assert [(t["id"], t["active"]) for t in listed] == [(issued["id"], True)]
    assert "token" not in listed[0] and "hash" not in listed[0]
    assert hogo("departments", "token", "revoke", issued["id"]).returncode == 0
    listed = json.loads(hogo("departments", "token", "list", "--json").stdout)
    assert listed[0]["active"] is False and listed[0]["revoked_by"].startswith("os:")
    one_line_error(hogo("departments", "token", "revoke", "000000000000"))
    # only for a department and business of the annexes
    assert "neither" in one_line_error(
        hogo("departments", "token", "issue", "--department", "総務課")
    )
    assert "registered businesses" in one_line_error(
        hogo("departments", "token", "issue", "--department", "子ども家庭課")
    )
    listing = hogo("departments", "list", "--json")
    rows = json.loads(listing.stdout)
    assert {
        "department": "税務課",
        "business": "特別区民税・都民税",
        "holding": True,
        "using": True,
    } in rows


# -- the read API -----------------------------------------------------------------------------
async def _token(running: Running, department: str, business: str | None = None) -> str:
    token, _ = await issue_token(
        running.gw, department=department, business=business, label="test", actor="test"
    )
    return token


async def _get(running: Running, path: str, token: str | None, **headers: str):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with running.session.get(running.url + path, headers=headers) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_a_using_department_reads_exactly_the_three_approved_items(running: Running) -> None:
    flagged, clear, released = running.residents[0], running.residents[1], running.residents[2]
    await flag(running.gw, flagged, until="2027-03-31")
    await flag(running.gw, released)
    await unflag(running.gw, released, actor="x")
    token = await _token(running, "戸籍住民課", "住民基本台帳")

    status, body, headers = await _get(running, f"/api/v1/flags/{flagged.atena_number}", token)
    assert status == 200
    assert body == {"atena_number": flagged.atena_number, "name": flagged.name, "victim": True}
    assert headers["Cache-Control"] == "no-store"
    # not flagged, and released, look the same: no name, no history, no trace of a past flag
    for person in (clear, released):
        status, body, _ = await _get(running, f"/api/v1/flags/{person.atena_number}", token)
        assert (status, body) == (
            200,
            {"atena_number": person.atena_number, "name": None, "victim": False},
        )


async def test_every_read_is_recorded_with_the_person_key_never_the_number(
    running: Running,
) -> None:
    person = running.residents[3]
    record = await flag(running.gw, person, nd=False)
    token = await _token(running, "介護保険課", "要介護認定者の管理業務")
    status, _, _ = await _get(
        running, f"/api/v1/flags/{person.atena_number}", token, **{"X-Hogo-Operator": "kaigo_07"}
    )
    assert status == 200
    [event] = await events_of(running.gw, "flag.read")
    assert event["subject"] == record.person_key
    assert (event["department"], event["business"], event["operator"]) == (
        "介護保険課",
        "要介護認定者の管理業務",
        "kaigo_07",
    )
    assert str(event["actor"]).startswith("dept-token:") and event["at"] and event["victim"] == "1"
    blob = await all_values(running.gw)
    assert person.atena_number.encode() not in blob and person.name.encode() not in blob


async def test_a_holding_department_reads_only_the_persons_it_flagged(running: Running) -> None:
    ours, theirs = running.residents[4], running.residents[5]
    business = annex.holding().businesses("高齢者支援課")[0].business
    await flag(running.gw, ours, department="高齢者支援課", business=None)
    theirs_record = await flag(running.gw, theirs)  # flagged by 子ども家庭課
    token = await _token(running, "高齢者支援課")
    status, body, _ = await _get(running, f"/api/v1/flags/{ours.atena_number}", token)
    assert (status, body["victim"], body["name"]) == (200, True, ours.name)

    # 高齢者支援課 is not a using department (annex 2): another department's victim stays hidden,
    # and an unflagged person is refused the same way, so the refusal itself reveals nothing
    for person in (theirs, running.residents[6]):
        status, body, _ = await _get(running, f"/api/v1/flags/{person.atena_number}", token)
        assert status == 403 and body["error"] == "forbidden" and "victim" not in body
    refused = await events_of(running.gw, "security.flag_read_refused")
    assert len(refused) == 2 and refused[0]["subject"] == theirs_record.person_key
    assert {(e["department"], e["business"], e["reason"]) for e in refused} == {
        ("高齢者支援課", business, "not_held_by_this_department")
    }


async def test_a_department_outside_the_annexes_is_refused_and_recorded(running: Running) -> None:
    person = running.residents[7]
    record = await flag(running.gw, person)
    # a token that no longer fits the annexes (as after an amendment): made in the store directly,
    # since `issue_token` gives none for a department outside them
    token, _ = await tokens(running.gw).issue("総務課", "文書管理", "legacy", "test")
    status, body, _ = await _get(running, f"/api/v1/flags/{person.atena_number}", token)
    assert status == 403 and set(body) == {"error", "message"}
    [event] = await events_of(running.gw, "security.flag_read_refused")
    assert (event["department"], event["business"], event["reason"]) == (
        "総務課",
        "文書管理",
        "outside_annexes",
    )
    assert event["subject"] == record.person_key
    assert await events_of(running.gw, "flag.read") == []
    # a using department, but for a business not registered in annex 2
    token, _ = await tokens(running.gw).issue("戸籍住民課", "印鑑登録", "legacy", "test")
    status, _, _ = await _get(running, f"/api/v1/flags/{person.atena_number}", token)
    assert status == 403
    assert len(await events_of(running.gw, "security.flag_read_refused")) == 2


async def test_no_token_a_bad_one_or_a_revoked_one_is_401_and_recorded(running: Running) -> None:
    person = running.residents[8]
    good, record = await issue_token(
        running.gw, department="税務課", business=None, label="x", actor="x"
    )
    path = f"/api/v1/flags/{person.atena_number}"
    status, body, headers = await _get(running, path, None)
    assert status == 401 and body["error"] == "unauthorized"
    assert headers["WWW-Authenticate"].startswith("Bearer")
    wrong = good[:-1] + ("B" if good.endswith("A") else "A")  # one character of the secret changed
    assert (await _get(running, path, wrong))[0] == 401
    assert (await _get(running, path, "hgd_nonsense"))[0] == 401
    assert (await _get(running, path, good))[0] == 200
    await tokens(running.gw).revoke(record.id, "test")
    assert (await _get(running, path, good))[0] == 401
    events = await events_of(running.gw, "security.api_unauthorized")
    assert [e["reason"] for e in events] == ["no_token", "bad_token", "bad_token", "bad_token"]


async def test_bad_input_is_400_and_recorded(running: Running) -> None:
    token = await _token(running, "税務課")
    status, body, _ = await _get(running, "/api/v1/flags/12345", token)
    assert status == 400 and body["error"] == "bad_request"
    status, _, _ = await _get(
        running,
        f"/api/v1/flags/{running.residents[0].atena_number}",
        token,
        **{"X-Hogo-Operator": "<script>"},
    )
    assert status == 400
    status, _, _ = await _get(running, "/api/v1/flags/due?within=-3", token)
    assert status == 400
    reasons = [e["reason"] for e in await events_of(running.gw, "security.api_bad_input")]
    assert reasons == ["atena_number", "operator", "within"]


async def test_the_renewal_list_for_a_holding_departments_own_flags(running: Running) -> None:
    from datetime import timedelta

    soon = (running.clock.today() + timedelta(days=5)).isoformat()
    ours, theirs = running.residents[9], running.residents[10]
    await flag(running.gw, ours, department="税務課", business=None, until=soon)
    await flag(running.gw, theirs, until=soon)
    token = await _token(running, "税務課")
    status, body, _ = await _get(running, "/api/v1/flags/due", token)
    assert status == 200 and body["department"] == "税務課" and body["within_days"] == 30
    assert [(i["atena_number"], i["days_left"], i["overdue"]) for i in body["items"]] == [
        (ours.atena_number, 5, False)
    ]
    status, body, _ = await _get(running, "/api/v1/flags/due?within=2", token)
    assert body["items"] == []
    [event, _] = await events_of(running.gw, "flag.due_read")
    assert (event["department"], event["count"]) == ("税務課", "1")
    # a using department that holds nothing may not list renewals
    using_only = await _token(running, "戸籍住民課", "住民基本台帳")
    status, _, _ = await _get(running, "/api/v1/flags/due", using_only)
    assert status == 403
    [refused] = await events_of(running.gw, "security.flag_read_refused")
    assert refused["reason"] == "not_a_holding_department"


async def test_the_api_says_503_and_answers_nothing_when_the_store_is_down(
    settings, own_redis, residents
) -> None:
    from tests.conftest import start_running

    r, runners = await start_running(settings, own_redis.url, residents)
    try:
        token = await _token(r, "税務課")
        await flag(r.gw, residents[0])
        own_redis.pause()
        try:
            async with r.session.get(
                f"{r.url}/api/v1/flags/{residents[0].atena_number}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=aiohttp.ClientTimeout(total=30),
            ) as resp:
                assert resp.status == 503
                assert (await resp.json())["error"] == "temporarily_unavailable"
        finally:
            own_redis.resume()
    finally:
        await stop_running(r, runners)


async def test_a_token_reading_faster_than_its_limit_is_refused_and_recorded_once(
    settings, redis_url, residents
) -> None:
    """Enumerating the directory through one token, to find who is protected, stops at the limit
    per minute: the rest of the minute is 429, the first refusal a security event, every one
    counted; the reads refused are not made (no flag.read) and other tokens are not affected."""
    from tests.conftest import start_running

    r, runners = await start_running(
        replace(settings, flag_api_reads_per_minute=5), redis_url, residents
    )
    try:
        busy, other = await _token(r, "税務課"), await _token(r, "戸籍住民課", "住民基本台帳")
        await flag(r.gw, residents[0])
        # all of it inside one window of the limit: the clock at a window's start, standing still
        window_start = (r.clock.now_ms() // 60_000 + 1) * 60_000
        r.clock.set(datetime.fromtimestamp(window_start / 1000, UTC))
        r.clock.freeze()
        refused_before = _sample("hogo_api_rate_refused_total", department="税務課")
        statuses = []
        for person in residents[:9]:
            status, body, headers = await _get(r, f"/api/v1/flags/{person.atena_number}", busy)
            statuses.append(status)
            if status == 429:
                assert body["error"] == "too_many_requests" and headers["Retry-After"] == "60"
        assert statuses == [200] * 5 + [429] * 4
        [event] = await events_of(r.gw, "security.api_rate_limited")
        assert (event["department"], event["limit"], event["window_s"]) == ("税務課", "5", "60")
        assert str(event["actor"]).startswith("dept-token:")
        assert len(await events_of(r.gw, "flag.read")) == 5  # the refused reads were not made
        assert _sample("hogo_api_rate_refused_total", department="税務課") == refused_before + 4
        status, body, _ = await _get(r, f"/api/v1/flags/{residents[0].atena_number}", other)
        assert (status, body["victim"]) == (200, True)
        r.clock.advance(59)
        assert (await _get(r, f"/api/v1/flags/{residents[0].atena_number}", busy))[0] == 429
        r.clock.advance(1)  # the next window: the token reads again
        assert (await _get(r, f"/api/v1/flags/{residents[0].atena_number}", busy))[0] == 200
    finally:
        await stop_running(r, runners)


def _sample(name: str, **labels: str) -> float:
    from gateway import metrics

    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0
