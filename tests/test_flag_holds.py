"""Each holding department's flag is its own hold: a person is protected while any department's
hold says so; a department's registration or release changes only its own hold; the aggregate
every decision reads is the OR over the holds, in the same atomic step. Here: the store's real
script against real Redis (with Hypothesis over sequences of acts), the departments' read API,
the operator's command line, and records made before holds (the single-record model)."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gateway.clock import SYSTEM_CLOCK
from gateway.context import Gateway, open_gateway
from gateway.departments import issue_token
from gateway.flag_import import import_flags
from gateway.flags import (
    FlagRuleError,
    confirm_release,
    release_request,
)
from gateway.model import FlagState
from gateway.reports import usage
from gateway.settings import Settings
from gateway.simulator import Resident
from gateway.store.flags import ChangeRefused, FlagChange, atena_context, name_context
from tests.conftest import Running
from tests.flag_support import (
    ask_release,
    cli_runner,
    events_of,
    flag,
    one_line_error,
    unflag,
)
from tests.support import Query

KODOMO, ZEIMU, KOREI = "子ども家庭課", "税務課", "高齢者支援課"
BUSINESS = {KODOMO: "児童手当業務", ZEIMU: None, KOREI: None}


async def _flag(gw: Gateway, person: Resident, department: str, **kw: Any):
    return await flag(gw, person, department=department, business=BUSINESS[department], **kw)


async def _raw(gw: Gateway, pk: str) -> tuple[dict[str, str], dict[str, str]]:
    client = gw.redis.client
    return await client.hgetall(gw.redis.keys.flag(pk)), await client.hgetall(
        gw.redis.keys.flag_holds(pk)
    )


# -- the store: aggregate == OR of holds, each hold changed only by its own department ----------
DEPARTMENTS = (KODOMO, ZEIMU, KOREI)
ACT = st.tuples(
    st.sampled_from(DEPARTMENTS),
    st.sampled_from(("set", "release")),
    st.sampled_from(((True, True), (True, False), (False, True))),
    st.sampled_from((None, "2027-03-31", "2028-01-15")),
)


async def _check_sequence(gw: Gateway, atena_number: str, acts: list[tuple]) -> None:
    keys, client = gw.redis.keys, gw.redis.client
    pk = await gw.flags.person_key(atena_number)
    model: dict[str, tuple[bool, bool]] = {}  # department -> its hold (ard, nd), as acted
    versions: dict[str, int] = {}
    for department, action, (ard, nd), until in acts:
        holds_before = await client.hgetall(keys.flag_holds(pk))
        lengths_before = {d: await client.llen(keys.flag_hold_history(pk, d)) for d in DEPARTMENTS}
        change = FlagChange(
            atena_number=atena_number,
            department=department,
            action=action,
            actor=f"staff:{department}",
            auto_response_disabled=(action == "set") if ard else None,
            non_disclosure=(action == "set") if nd else None,
            entry={"basis": "application"},
            hold_fields={"name": "試験 花子", "business": "x", "basis": "application"}
            | ({"until": until} if until and action == "set" else {}),
        )
        if action == "release" and department not in model:
            with pytest.raises(ChangeRefused, match="no_hold"):
                await gw.flags.apply([change])
            assert await client.hgetall(keys.flag_holds(pk)) == holds_before
            continue
        await gw.flags.apply([change])
        old = model.get(department, (False, False))
        model[department] = (
            (action == "set") if ard else old[0],
            (action == "set") if nd else old[1],
        )
        versions[department] = versions.get(department, 0) + 1
        holds = await client.hgetall(keys.flag_holds(pk))
        # only the acting department's hold and history moved
        for other in DEPARTMENTS:
            if other == department:
                continue
            assert holds.get(other) == holds_before.get(other)
            assert await client.llen(keys.flag_hold_history(pk, other)) == lengths_before[other]
        assert await client.llen(keys.flag_hold_history(pk, department)) == (
            lengths_before[department] + 1
        )
        # each hold as its own department's acts made it
        decoded = {d: json.loads(v) for d, v in holds.items()}
        assert {d: (h["ard"] == "1", h["nd"] == "1") for d, h in decoded.items()} == model
        assert {d: h["version"] for d, h in decoded.items()} == versions
        # the aggregate every decision reads is the OR over the holds, and so are the counts
        record = await client.hgetall(keys.flag(pk))
        any_ard = any(a for a, _ in model.values())
        any_nd = any(n for _, n in model.values())
        assert (record["ard"], record["nd"]) == ("1" if any_ard else "0", "1" if any_nd else "0")
        assert int(record["ard_holds"]) == sum(a for a, _ in model.values())
        assert int(record["nd_holds"]) == sum(n for _, n in model.values())
        assert await gw.flags.state_of_person(pk) == FlagState(any_ard, any_nd)

    # The trail alone recomputes every hold and the aggregate (docs/flags.md, "the fold"): the
    # last flag.set / flag.release of each (subject, department) gives its hold.
    folded: dict[str, tuple[bool, bool]] = {}
    aggregate = (False, False)
    for e in await gw.events.read(count=100_000):
        if e.kind in ("flag.set", "flag.release") and e.fields["subject"] == pk:
            f = e.fields
            folded[f["department"]] = (f["dept_ard"] == "1", f["dept_nd"] == "1")
            aggregate = (f["ard"] == "1", f["nd"] == "1")
            assert aggregate == (
                any(a for a, _ in folded.values()),
                any(n for _, n in folded.values()),
            )
    assert folded == model
    # and so does each hold's history: its last entry is the hold
    for department, state in model.items():
        [last] = await client.lrange(keys.flag_hold_history(pk, department), -1, -1)
        entry = json.loads(last)
        assert (entry["dept_ard"] == 1, entry["dept_nd"] == 1) == state
        assert entry["department"] == department


def test_the_aggregate_is_the_or_of_the_holds_and_each_hold_is_its_departments_alone(
    redis_url: str, tmp_path: Path
) -> None:
    """Hypothesis over sequences of set and release by three departments, through
    lua/flag_change.lua against the real redis-server."""
    loop = asyncio.new_event_loop()
    gw = loop.run_until_complete(
        open_gateway(Settings(data_dir=tmp_path / "data", store_timeout=5.0), redis_url)
    )
    numbers = itertools.count(1)

    @hsettings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(ACT, min_size=1, max_size=10))
    def check(acts: list[tuple]) -> None:
        loop.run_until_complete(_check_sequence(gw, f"9{next(numbers):014d}", acts))

    try:
        check()
    finally:
        loop.run_until_complete(gw.close())
        loop.close()


async def test_a_department_registering_leaves_anothers_hold_exactly_as_it_was(
    running: Running,
) -> None:
    person = running.residents[0]
    first = await _flag(running.gw, person, KODOMO, basis="ex-officio", until="2027-03-31")
    kodomo_before = first.hold(KODOMO)
    record = await _flag(running.gw, person, ZEIMU, nd=False, name="シケン ハナコ")
    assert record.hold(KODOMO) == kodomo_before  # name, business, basis, until, history, actors
    zeimu = record.hold(ZEIMU)
    assert zeimu is not None
    assert (zeimu.name, zeimu.basis, zeimu.until, zeimu.version) == (
        "シケン ハナコ",
        "application",
        "",
        1,
    )
    # the earliest hold in force names the person for those entitled to the whole record
    assert record.name == person.name and record.departments == [KODOMO, ZEIMU]
    [set_event] = [e for e in await events_of(running.gw, "flag.set") if e["department"] == ZEIMU]
    assert (set_event["dept_ard"], set_event["dept_nd"], set_event["ard"], set_event["nd"]) == (
        "1",
        "0",
        "1",
        "1",
    )
    assert set_event["hold_version"] == "1" and set_event["version"] == "2"


async def test_a_departments_release_frees_the_person_only_when_no_other_holds(
    running: Running,
) -> None:
    """Through the real gateway: released by one department (two people), the person is still
    protected and a query about them is held; released by the last one, it is answered."""
    person = running.residents[1]
    await _flag(running.gw, person, KODOMO)
    await _flag(running.gw, person, ZEIMU)
    req = await ask_release(running.gw, person, ZEIMU, "staff:zeimu1")
    hold = await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:zeimu2")
    assert hold.department == ZEIMU and not hold.state.any
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state == FlagState(True, True)
    assert record.departments == [KODOMO]
    assert (await running.submit(Query("DH-1", person.subject_code))).status == "PENDING"
    [event] = await events_of(running.gw, "flag.release")
    assert (event["department"], event["dept_ard"], event["ard"]) == (ZEIMU, "0", "1")

    req = await ask_release(running.gw, person, KODOMO, "staff:kodomo1")
    await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:kodomo2")
    assert await running.gw.flags.state_of_person(record.person_key) == FlagState(False, False)
    assert (await running.submit(Query("DH-2", person.subject_code))).status == "PROVIDED"


async def test_one_departments_pending_request_neither_blocks_nor_shows_to_another(
    running: Running,
) -> None:
    person = running.residents[2]
    await _flag(running.gw, person, KODOMO)
    await _flag(running.gw, person, ZEIMU)
    kodomo = await ask_release(running.gw, person, KODOMO, "staff:k1")
    zeimu = await ask_release(running.gw, person, ZEIMU, "staff:z1")
    assert kodomo.id != zeimu.id
    # 子ども家庭課 renews its hold: 税務課's request is not made stale by it
    await _flag(running.gw, person, KODOMO, until="2028-03-31")
    k = await release_request(running.gw, request_id=kodomo.id)
    z = await release_request(running.gw, request_id=zeimu.id)
    assert k is not None and z is not None and (k.stale, z.stale) == (True, False)
    hold = await confirm_release(running.gw, request_id=zeimu.id, confirmed_by="staff:z2")
    assert not hold.state.any


async def test_the_councils_report_counts_each_release_under_the_department_whose_hold_it_was(
    running: Running,
) -> None:
    person = running.residents[9]
    await _flag(running.gw, person, KODOMO)
    await _flag(running.gw, person, ZEIMU, basis="ex-officio")  # set last
    await unflag(running.gw, person, department=KODOMO)
    report = (await usage(running.gw, running.clock.today().year, fiscal=False)).as_json()
    assert report["flags_set"]["by_department_and_basis"] == [  # type: ignore[index]
        {"department": KODOMO, "basis": "application", "count": 1},
        {"department": ZEIMU, "basis": "ex-officio", "count": 1},
    ]
    assert report["flags_released"]["by_department"] == {KODOMO: 1}  # type: ignore[index]


async def test_an_import_row_sets_its_departments_hold_and_leaves_anothers(
    running: Running, tmp_path: Path
) -> None:
    person = running.residents[10]
    before = (await _flag(running.gw, person, KODOMO, until="2027-03-31")).hold(KODOMO)
    csv = tmp_path / "flags.csv"
    csv.write_text(
        "atena_number,name,department,business,basis,until,flags\n"
        f"{person.atena_number},シケン ハナコ,{ZEIMU},,ex-officio,2026-12-31,non_disclosure\n"
    )
    result = await import_flags(running.gw, csv, "os:operator")
    assert (result.new, result.updated) == (0, 1)
    record = await running.gw.flags.get(person.atena_number, unseal=True)
    assert record is not None and record.hold(KODOMO) == before
    zeimu = record.hold(ZEIMU)
    assert zeimu is not None and (zeimu.name, zeimu.until, zeimu.state) == (
        "シケン ハナコ",
        "2026-12-31",
        FlagState(False, True),
    )
    assert zeimu.history[0]["via"] == "import"


# -- the departments' read API ------------------------------------------------------------------
async def _read(running: Running, token: str, person: Resident) -> tuple[int, bytes]:
    async with running.session.get(
        f"{running.url}/api/v1/flags/{person.atena_number}",
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        return resp.status, await resp.read()


async def test_a_holding_department_reads_by_its_own_hold_alone(running: Running) -> None:
    """高齢者支援課 is a holding department only (annex 1): it reads a person while its own hold is
    on, with its own registration of the name; once released, the answer is the refusal a person
    it never flagged gets, whether or not another department still holds a flag."""
    person, never = running.residents[3], running.residents[4]
    token, _ = await issue_token(
        running.gw, department=KOREI, business=None, label="test", actor="test"
    )
    using, _ = await issue_token(
        running.gw, department="戸籍住民課", business="住民基本台帳", label="t", actor="test"
    )
    await _flag(running.gw, person, KOREI, name="コウレイ ハナコ")
    await _flag(running.gw, person, KODOMO)  # later, with the name as 子ども家庭課 wrote it
    status, body = await _read(running, token, person)
    assert (status, json.loads(body)) == (
        200,
        {"atena_number": person.atena_number, "name": "コウレイ ハナコ", "victim": True},
    )
    # a using department gets the name of the earliest hold in force
    assert json.loads((await _read(running, using, person))[1])["name"] == "コウレイ ハナコ"

    await unflag(running.gw, person, department=KOREI)
    assert json.loads((await _read(running, using, person))[1])["name"] == person.name
    refused_while_another_holds = await _read(running, token, person)
    await unflag(running.gw, person)
    refused_after_all = await _read(running, token, person)
    never_flagged = await _read(running, token, never)
    assert refused_while_another_holds[0] == 403
    assert refused_while_another_holds == refused_after_all == never_flagged
    refusals = await events_of(running.gw, "security.flag_read_refused")
    assert [e["reason"] for e in refusals] == ["not_held_by_this_department"] * 3


# -- the operator's command line ----------------------------------------------------------------
def _set(hogo, atena: str, department: str, *extra: str):
    args = ["flags", "set", atena, "--name", "試験 花子", "--department", department]
    if BUSINESS[department]:
        args += ["--business", str(BUSINESS[department])]
    res = hogo(*args, "--basis", "application", *extra)
    assert res.returncode == 0, res.stderr
    return res


def test_the_operator_releases_one_departments_hold_and_names_it_where_several_hold(
    tmp_path: Path, redis_url: str
) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    atena = "900000000000901"
    _set(hogo, atena, KODOMO, "--until", "2027-03-31")
    _set(hogo, atena, ZEIMU, "--only", "non_disclosure")
    release = ("flags", "release", atena, "--basis", "application", "--note", "本人申出")

    res = hogo(*release)
    assert res.returncode == 2, res.stderr
    [line] = res.stderr.strip().splitlines()
    assert "several departments hold flags" in line and f"{KODOMO}, {ZEIMU}" in line
    assert "--department" in line
    shown = json.loads(hogo("flags", "show", atena, "--json").stdout)
    assert shown["departments"] == [KODOMO, ZEIMU] and len(shown["history"]) == 2

    assert "holds no flag" in one_line_error(hogo(*release, "--department", "高齢者支援課"))
    assert "annex 1" in one_line_error(hogo(*release, "--department", "戸籍住民課"))

    res = hogo(*release, "--department", ZEIMU, "--json")
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert (shown["auto_response_disabled"], shown["non_disclosure"]) == (True, True)
    assert shown["departments"] == [KODOMO]
    assert [(h["department"], h["non_disclosure"]) for h in shown["holds"]] == [
        (KODOMO, True),
        (ZEIMU, False),
    ]
    assert shown["history"][-1]["department"] == ZEIMU
    assert shown["history"][-1]["actor"].startswith("os:")
    # one department holds a flag now: it is the one released when none is named
    res = hogo(*release, "--json")
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert (shown["auto_response_disabled"], shown["non_disclosure"]) == (False, False)
    text = hogo("flags", "show", atena).stdout
    assert f"hold of {KODOMO}: released" in text and f"hold of {ZEIMU}: released" in text


def test_renewals_and_reconciliation_by_each_departments_own_hold(
    tmp_path: Path, redis_url: str
) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    day = lambda n: (SYSTEM_CLOCK.today() + timedelta(days=n)).isoformat()  # noqa: E731
    atena = "900000000000902"
    _set(hogo, atena, KODOMO, "--until", day(100))
    _set(hogo, atena, ZEIMU, "--until", day(10))
    due = json.loads(hogo("flags", "due", "--within", "30", "--json").stdout)
    assert [(i["department"], i["until"]) for i in due] == [(ZEIMU, day(10))]
    due = json.loads(hogo("flags", "due", "--within", "200", "--json").stdout)
    assert [(i["department"], i["until"]) for i in due] == [(ZEIMU, day(10)), (KODOMO, day(100))]
    due = json.loads(
        hogo("flags", "due", "--within", "200", "--department", KODOMO, "--json").stdout
    )
    assert [(i["department"], i["until"]) for i in due] == [(KODOMO, day(100))]
    # protected here until the last hold in force ends: in agreement with the register's end
    export = tmp_path / "support.csv"
    export.write_text(f"atena_number,until\n{atena},{day(100)}\n")
    res = hogo("flags", "reconcile", str(export), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["counts"]["until_differs"] == 0


# -- records made before holds (the single-record model) ----------------------------------------
async def _legacy_record(
    gw: Gateway,
    person: Resident,
    *,
    entries: list[dict[str, Any]],
    department: str,
    business: str,
    until: str = "",
    name: str | None = None,
) -> str:
    """A record as the single-record model wrote it (lua/flag_change.lua before holds): one
    department's fields on flag:<pk>, the departments that set it, one history for everyone."""
    pk = await gw.flags.person_key(person.atena_number)
    k, client = gw.redis.keys, gw.redis.client
    ard = nd = 0
    departments = []
    for version, e in enumerate(entries, 1):
        a, n = "auto_response_disabled" in e["flags"], "non_disclosure" in e["flags"]
        if e["action"] == "set":
            ard, nd = ard or a, nd or n
            departments += [e["department"]] if e.get("department") else []
        else:
            ard, nd = ard and not a, nd and not n
        e.update(at=f"2026-0{version}-01T00:00:00.000Z", version=version, ard=int(ard), nd=int(nd))
        await client.rpush(k.flag_history(pk), json.dumps(e, ensure_ascii=False))
    await client.hset(
        k.flag(pk),
        mapping={
            "version": len(entries),
            "ard": str(int(ard)),
            "nd": str(int(nd)),
            "updated_at": entries[-1]["at"],
            "updated_by": entries[-1]["actor"],
            "name": gw.keyring.seal(name or person.name, name_context(pk)),
            "department": department,
            "business": business,
            "basis": "application",
            "until": until,
            "atena": gw.keyring.seal(person.atena_number, atena_context(pk)),
        },
    )
    if departments:
        await client.sadd(f"{k.prefix}flagdepts:{pk}", *departments)
    await client.zadd(k.flag_index, {pk: 1})
    return pk


def _set_entry(department: str, flags: list[str], **extra: str) -> dict[str, Any]:
    return {
        "action": "set",
        "basis": "application",
        "department": department,
        "business": BUSINESS[department] or "特別区民税・都民税",
        "flags": flags,
        "actor": f"staff:{department}",
        **extra,
    }


BOTH = ["auto_response_disabled", "non_disclosure"]


async def test_an_old_record_becomes_the_holds_its_history_says_with_the_state_unchanged(
    running: Running,
) -> None:
    """子ども家庭課 set both flags, then 税務課 set 不開示 only (the old model then showed 税務課's
    fields for the person); a release request of 税務課 was pending. Read after the upgrade:
    two holds, the aggregate as it was, and 税務課's release no longer frees the person."""
    person = running.residents[5]
    pk = await _legacy_record(
        running.gw,
        person,
        entries=[
            _set_entry(KODOMO, BOTH, until="2027-03-31"),
            _set_entry(ZEIMU, ["non_disclosure"]),
        ],
        department=ZEIMU,
        business="特別区民税・都民税",
        until="2027-03-31",
    )
    k, client = running.gw.redis.keys, running.gw.redis.client
    await client.hset(
        k.release_request("00aa"),
        mapping={
            "id": "00aa",
            "person": pk,
            "ard": "1",
            "nd": "1",
            "requested_by": "staff:z1",
            "department": ZEIMU,
            "basis": "application",
            "note": running.gw.keyring.seal("申出", "relreq:00aa:note"),
            "atena": running.gw.keyring.seal(person.atena_number, "relreq:00aa:atena"),
            "requested_at": "2026-03-01T00:00:00.000Z",
            "version": "2",
            "state": "pending",
        },
    )
    await client.zadd(k.release_requests_pending, {"00aa": 1})
    await client.set(f"{k.prefix}relreqof:{pk}", "00aa")
    assert await running.gw.flags.state_of_person(pk) == FlagState(True, True)

    record = await running.gw.flags.get(person.atena_number, unseal=True)  # upgraded on read
    assert record is not None and record.state == FlagState(True, True)
    kodomo, zeimu = record.hold(KODOMO), record.hold(ZEIMU)
    assert kodomo is not None and zeimu is not None
    assert (kodomo.state, kodomo.until, kodomo.name) == (
        FlagState(True, True),
        "2027-03-31",
        person.name,
    )
    assert (zeimu.state, zeimu.until, zeimu.version) == (FlagState(False, True), "", 2)
    assert [h["action"] for h in record.history] == ["set", "set", "upgrade", "upgrade"]
    raw, _ = await _raw(running.gw, pk)
    assert (raw["model"], raw["ard_holds"], raw["nd_holds"]) == ("2", "1", "2")
    assert "department" not in raw and "name" not in raw
    assert not await client.exists(f"{k.prefix}flagdepts:{pk}", f"{k.prefix}relreqof:{pk}")
    upgraded = await events_of(running.gw, "flag.upgraded")
    assert sorted((e["department"], e["dept_ard"], e["dept_nd"]) for e in upgraded) == [
        (KODOMO, "1", "1"),
        (ZEIMU, "0", "1"),
    ]
    assert {e["actor"] for e in upgraded} == {"system:upgrade"}
    # 税務課's request from before still matches its hold; confirmed, it releases that alone
    hold = await confirm_release(running.gw, request_id="00aa", confirmed_by="staff:z2")
    assert (hold.department, hold.state.any) == (ZEIMU, False)
    assert await running.gw.flags.state_of_person(pk) == FlagState(True, True)
    assert (await running.submit(Query("UP-1", person.subject_code))).status == "PENDING"


async def test_an_old_release_counted_for_everyone_and_a_flag_on_stays_on(
    running: Running,
) -> None:
    person, orphan = running.residents[6], running.residents[7]
    pk = await _legacy_record(
        running.gw,
        person,
        entries=[
            _set_entry(KODOMO, BOTH),
            {
                "action": "release",
                "basis": "application",
                "flags": ["non_disclosure"],
                "actor": "os:op",
            },
            _set_entry(ZEIMU, ["auto_response_disabled"]),
        ],
        department=ZEIMU,
        business="特別区民税・都民税",
    )
    upgraded, orphans = await running.gw.flags.upgrade_keys([pk], "os:operator")
    assert (upgraded, orphans) == (1, [])
    assert await running.gw.flags.upgrade_keys([pk], "os:operator") == (0, [])  # once
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state == FlagState(True, False)
    assert [(h.department, h.state) for h in record.holds] == [
        (KODOMO, FlagState(True, False)),
        (ZEIMU, FlagState(True, False)),
    ]
    # a flag on with no department anywhere: left as it is (protected), and nothing is applied
    opk = await _legacy_record(
        running.gw,
        orphan,
        entries=[{"action": "set", "flags": BOTH, "actor": "x", "basis": "application"}],
        department="",
        business="",
    )
    assert await running.gw.flags.upgrade_keys([opk], "os:operator") == (0, [opk])
    with pytest.raises(ChangeRefused, match="orphan"):
        await _flag(running.gw, orphan, ZEIMU, nd=False)
    with pytest.raises(FlagRuleError, match="no department holds") as refused:
        await unflag(running.gw, orphan)
    assert refused.value.reason == "no_hold"
    assert await running.gw.flags.state_of_person(opk) == FlagState(True, True)


def test_flags_upgrade_on_the_command_line(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    person = Resident("900000000000903", "A00000000000000000000903", "試験 一郎", ())

    async def make() -> None:
        gw = await open_gateway(replace(settings), redis_url)
        try:
            await _legacy_record(
                gw, person, entries=[_set_entry(KOREI, BOTH)], department=KOREI, business="x"
            )
        finally:
            await gw.close()

    asyncio.run(make())
    hogo = cli_runner(settings.data_dir, redis_url)
    res = hogo("flags", "upgrade", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"upgraded": 1, "orphans": []}
    assert json.loads(hogo("flags", "upgrade", "--json").stdout)["upgraded"] == 0
    shown = json.loads(hogo("flags", "show", person.atena_number, "--json").stdout)
    assert shown["departments"] == [KOREI] and shown["name"] == "試験 一郎"
    assert shown["history"][-1]["action"] == "upgrade"
    assert shown["history"][-1]["actor"].startswith("os:")


async def test_what_an_older_gateway_writes_during_a_rolling_upgrade_is_folded_in(
    running: Running,
) -> None:
    """An older gateway (the single-record model) sets 子ども家庭課's flags on a person whose
    record is already holds: it writes the aggregate and the old fields, not a hold. The next step
    of this version folds that in first, so that 税務課 releasing its own hold does not drop
    子ども家庭課's protection (the counts alone would have)."""
    person = running.residents[8]
    record = await _flag(running.gw, person, ZEIMU, ard=False)  # 税務課: 不開示 only
    pk, k, client = record.person_key, running.gw.redis.keys, running.gw.redis.client
    # what lua/flag_change.lua of the single-record model did for a set of both flags
    version = await client.hincrby(k.flag(pk), "version", 1)
    await client.hset(
        k.flag(pk),
        mapping={
            "ard": "1",
            "nd": "1",
            "updated_at": "2026-12-01T00:00:00.000Z",
            "updated_by": "staff:old",
            "name": running.gw.keyring.seal(person.name, name_context(pk)),
            "department": KODOMO,
            "business": "児童手当業務",
            "basis": "application",
        },
    )
    entry = _set_entry(KODOMO, BOTH) | {
        "at": "2026-12-01T00:00:00.000Z",
        "version": version,
        "ard": 1,
        "nd": 1,
    }
    await client.rpush(k.flag_history(pk), json.dumps(entry, ensure_ascii=False))
    await client.sadd(f"{k.prefix}flagdepts:{pk}", KODOMO)

    await unflag(running.gw, person, department=ZEIMU)
    record = await running.gw.flags.get(person.atena_number, unseal=True)
    assert record is not None and record.state == FlagState(True, True)
    kodomo = record.hold(KODOMO)
    assert kodomo is not None and kodomo.state == FlagState(True, True)
    assert kodomo.name == person.name and record.departments == [KODOMO]
    raw, _ = await _raw(running.gw, pk)
    assert (raw["ard_holds"], raw["nd_holds"], raw["legacy_seen"]) == ("1", "1", "1")
    assert "department" not in raw
    [upgraded] = await events_of(running.gw, "flag.upgraded")
    assert (upgraded["department"], upgraded["dept_ard"], upgraded["dept_nd"]) == (KODOMO, "1", "1")
