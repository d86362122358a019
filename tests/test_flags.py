"""Flags as each holding department's own hold with history, set only by the holding departments
of annex 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway import annex
from gateway.flags import release_flags, set_flags
from gateway.store.flags import FlagChange, FlagChanged
from tests.conftest import Running
from tests.flag_support import all_values, cli_runner, flag, one_line_error, unflag


async def test_a_set_flag_records_who_what_why_and_until_in_its_history(running: Running) -> None:
    person = running.residents[0]
    record = await flag(running.gw, person, basis="ex-officio", until="2027-03-31")
    assert record.state.auto_response_disabled and record.state.non_disclosure
    [hold] = record.holds
    assert (hold.department, hold.business, hold.basis, hold.until) == (
        "子ども家庭課",
        "児童手当業務",
        "ex-officio",
        "2027-03-31",
    )
    assert (hold.set_by, hold.version, hold.since) == ("staff:registrar", 1, hold.set_at)
    assert record.name == person.name and record.atena_number == person.atena_number
    assert record.departments == ["子ども家庭課"]
    [entry] = record.history
    assert entry["action"] == "set" and entry["actor"] == "staff:registrar"
    assert entry["department"] == "子ども家庭課" and entry["business"] == "児童手当業務"
    assert entry["basis"] == "ex-officio" and entry["until"] == "2027-03-31"
    assert entry["flags"] == ["auto_response_disabled", "non_disclosure"]
    assert (entry["ard"], entry["nd"], entry["version"]) == (1, 1, 1) and entry["at"]
    assert (entry["dept_ard"], entry["dept_nd"], entry["hold_version"]) == (1, 1, 1)


async def test_the_business_may_be_left_out_only_where_the_department_has_one(
    running: Running,
) -> None:
    # 税務課 has one registered business in annex 1
    record = await flag(running.gw, running.residents[1], department="税務課", business=None)
    assert record.holds[0].business == "特別区民税・都民税"
    # 子ども家庭課 has two: the error names them, and nothing is written
    with pytest.raises(annex.AnnexError, match="児童手当業務 / 児童扶養手当業務"):
        await flag(running.gw, running.residents[2], business=None)
    assert await running.gw.flags.get(running.residents[2].atena_number) is None


@pytest.mark.parametrize(
    ("department", "business", "why"),
    [
        ("戸籍住民課", "住民基本台帳", "not a department of annex 1"),  # a using department only
        ("総務課", None, "not a department of annex 1"),  # in neither annex
        ("子ども家庭課", "母子生活支援施設への入所業務", "not a registered business"),  # annex 2's
        ("税務課", "固定資産税", "not a registered business"),
    ],
)
async def test_only_a_holding_department_with_a_registered_business_may_set(
    running: Running, department: str, business: str | None, why: str
) -> None:
    person = running.residents[3]
    before = await running.gw.events.length()
    with pytest.raises(ValueError, match=why):
        await flag(running.gw, person, department=department, business=business)
    assert await running.gw.flags.get(person.atena_number) is None
    assert await running.gw.events.length() == before


async def test_names_are_matched_across_full_and_half_width_and_recorded_as_in_the_annex(
    running: Running,
) -> None:
    record = await flag(
        running.gw,
        running.residents[4],
        department="生活福祉課\u3000保護担当課",  # a full-width space, as typed on a Japanese IME
        business="中国残留邦人等に対する支援給付",
    )
    assert record.departments == ["生活福祉課 保護担当課"]
    record = await flag(
        running.gw,
        running.residents[5],
        department="高齢者支援課",
        business=None,
    )
    assert (
        record.holds[0].business
        == "高齢者総合相談センター（地域包括支援センター）設置に伴う相談及び申請受付"
    )


async def test_every_change_appends_and_nothing_in_the_history_is_overwritten(
    running: Running,
) -> None:
    person = running.residents[6]
    first = await flag(running.gw, person, until="2026-12-31", nd=False)
    await flag(running.gw, person, department="税務課", business=None, until="2027-12-31")
    await unflag(running.gw, person, note="本人申出", department="税務課", ard=False)
    record = await running.gw.flags.get(person.atena_number, unseal=True)
    assert record is not None
    assert [h["action"] for h in record.history] == ["set", "set", "release"]
    assert record.history[0] == first.history[0]
    assert [(h["ard"], h["nd"]) for h in record.history] == [(1, 0), (1, 1), (1, 0)]
    assert [(h["dept_ard"], h["dept_nd"]) for h in record.history] == [(1, 0), (1, 1), (1, 0)]
    assert record.history[2]["note"] == "(sealed)"  # the note is sealed at rest
    # each department's hold is its own, with its own history
    kodomo, zeimu = record.hold("子ども家庭課"), record.hold("税務課")
    assert kodomo is not None and zeimu is not None
    assert (kodomo.until, zeimu.until) == ("2026-12-31", "2027-12-31")
    assert [h["action"] for h in zeimu.history] == ["set", "release"]
    assert record.departments == ["子ども家庭課", "税務課"]
    assert record.state.auto_response_disabled and not record.state.non_disclosure
    assert (record.version, kodomo.version, zeimu.version) == (3, 1, 2)


async def test_until_is_kept_when_left_out_and_forgotten_only_when_asked(running: Running) -> None:
    person = running.residents[7]
    await flag(running.gw, person, until="2027-01-31")
    again = await flag(running.gw, person, nd=False)  # a renewal of one flag, no date given
    assert [h.until for h in again.holds] == ["2027-01-31"]
    # another department's hold has its own end: none given, none known
    other = await flag(running.gw, person, department="税務課", business=None)
    assert [(h.department, h.until) for h in other.holds] == [
        ("子ども家庭課", "2027-01-31"),
        ("税務課", ""),
    ]
    await flag(running.gw, person, department="税務課", business=None, until="2027-06-30")
    cleared = await set_flags(
        running.gw,
        atena_number=person.atena_number,
        name=person.name,
        department="税務課",
        business=None,
        basis="ex-officio",
        until=None,
        auto_response_disabled=True,
        non_disclosure=True,
        actor="staff:x",
        clear_until=True,
    )
    assert [h.until for h in cleared.holds] == ["2027-01-31", ""]


async def test_a_change_is_announced_and_recorded_with_no_plaintext(running: Running) -> None:
    person = running.residents[8]
    pubsub = running.gw.redis.client.pubsub()
    await pubsub.subscribe(running.gw.redis.keys.flag_channel)
    await pubsub.get_message(timeout=1.0)  # the subscription's confirmation
    record = await flag(running.gw, person)
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2.0)
    await pubsub.aclose()
    assert message is not None and message["data"] == record.person_key
    [event] = await running.events("flag.set")
    assert event["subject"] == record.person_key
    assert (event["department"], event["business"], event["basis"]) == (
        "子ども家庭課",
        "児童手当業務",
        "application",
    )
    blob = await all_values(running.gw)
    assert person.atena_number.encode() not in blob and person.name.encode() not in blob
    assert record.person_key.encode() in blob  # the scan does see what is there


async def test_a_guarded_change_on_a_flag_that_changed_since_changes_nothing(
    running: Running,
) -> None:
    person = running.residents[9]
    record = await flag(running.gw, person)
    await flag(running.gw, person, until="2027-06-30")  # someone renews it meanwhile
    with pytest.raises(FlagChanged):
        await running.gw.flags.change(
            FlagChange(
                atena_number=person.atena_number,
                department="子ども家庭課",
                action="release",
                actor="os:operator",
                auto_response_disabled=False,
                non_disclosure=False,
                entry={"basis": "application", "note": "x"},
                expect_version=record.holds[0].version,
            )
        )
    now = await running.gw.flags.get(person.atena_number)
    assert now is not None and now.state.any and now.version == 2 and len(now.history) == 2


async def test_a_batch_of_changes_happens_entirely_or_not_at_all(running: Running) -> None:
    a, b = running.residents[10], running.residents[11]
    b_record = await flag(running.gw, b)
    await flag(running.gw, b, until="2027-06-30")
    events_before = await running.gw.events.length()
    good = FlagChange(
        atena_number=a.atena_number,
        department="税務課",
        action="set",
        actor="x",
        auto_response_disabled=True,
        non_disclosure=True,
        entry={"basis": "application"},
        hold_fields={"name": a.name},
    )
    stale = FlagChange(
        atena_number=b.atena_number,
        department="子ども家庭課",
        action="release",
        actor="x",
        auto_response_disabled=False,
        non_disclosure=False,
        entry={"basis": "application"},
        expect_version=b_record.holds[0].version,
    )
    with pytest.raises(FlagChanged):
        await running.gw.flags.apply([good, stale])
    assert await running.gw.flags.get(a.atena_number) is None
    assert await running.gw.events.length() == events_before


async def test_release_only_on_application_with_a_note_and_only_of_a_set_flag(
    running: Running,
) -> None:
    person = running.residents[12]
    kw = dict(atena_number=person.atena_number, auto_response_disabled=True, non_disclosure=True)
    with pytest.raises(ValueError, match="no flag set"):
        await release_flags(running.gw, basis="application", note="申出", actor="x", **kw)
    await flag(running.gw, person, nd=False)
    with pytest.raises(ValueError, match="application"):
        await release_flags(running.gw, basis="ex-officio", note="職権", actor="x", **kw)
    with pytest.raises(ValueError, match="note"):
        await release_flags(running.gw, basis="application", note="  ", actor="x", **kw)
    with pytest.raises(ValueError, match="none of the flags"):
        await release_flags(
            running.gw,
            atena_number=person.atena_number,
            auto_response_disabled=False,
            non_disclosure=True,
            basis="application",
            note="申出",
            actor="x",
        )
    record = await release_flags(running.gw, basis="application", note="申出", actor="x", **kw)
    assert not record.state.any


async def test_many_concurrent_changes_to_one_person_keep_a_whole_history(
    running: Running,
) -> None:
    person = running.residents[13]
    await asyncio.gather(
        *(flag(running.gw, person, until=f"2027-01-{d:02d}", actor=f"s{d}") for d in range(1, 21))
    )
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.version == 20 and record.holds[0].version == 20
    assert sorted(int(str(h["version"])) for h in record.history) == list(range(1, 21))
    assert len(await running.events("flag.set")) == 20


def test_flags_cli_set_show_and_clear_errors(tmp_path: Path, redis_url: str) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    err = one_line_error(
        hogo(
            "flags",
            "set",
            "900000000000101",
            "--name",
            "試験 花子",
            "--department",
            "子ども家庭課",
            "--basis",
            "application",
        )
    )
    assert "--business" in err and "児童手当業務" in err
    err = one_line_error(
        hogo(
            "flags",
            "set",
            "900000000000101",
            "--name",
            "試験 花子",
            "--department",
            "戸籍住民課",
            "--basis",
            "application",
        )
    )
    assert "annex 1" in err
    res = hogo(
        "flags",
        "set",
        "900000000000101",
        "--name",
        "試験 花子",
        "--department",
        "保健予防課",  # one business in annex 1: 予防接種事業
        "--basis",
        "ex-officio",
        "--only",
        "auto_response_disabled",
        "--until",
        "2027/02/28",
    )
    assert res.returncode == 0, res.stderr
    shown = json.loads(hogo("flags", "show", "900000000000101", "--json").stdout)
    assert shown["auto_response_disabled"] is True and shown["non_disclosure"] is False
    [hold] = shown["holds"]
    assert (hold["department"], hold["business"], hold["until"]) == (
        "保健予防課",
        "予防接種事業",
        "2027-02-28",
    )
    assert shown["history"][0]["actor"].startswith("os:")
    assert (
        hogo(
            "flags",
            "set",
            "900000000000101",
            "--name",
            "x",
            "--department",
            "税務課",
            "--basis",
            "application",
            "--until",
            "2027-01-01",
            "--no-until",
        ).returncode
        == 2
    )
