"""The renewal list: support measures ending within N days (default 30), and overdue ones, whose
flags stay on: nothing is ever released because a date has passed."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from gateway.clock import SYSTEM_CLOCK
from gateway.flags import due, release_flags
from tests.conftest import Running
from tests.flag_support import cli_runner, flag
from tests.support import Query

TODAY = date(2026, 11, 26)


def _day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def test_the_due_list_across_the_renewal_window(running: Running) -> None:
    r = running.residents
    await flag(running.gw, r[0], until=_day(-40))  # long overdue
    await flag(running.gw, r[1], until=_day(-1))  # overdue since yesterday
    await flag(running.gw, r[2], until=_day(0))  # ends today: still in force
    await flag(running.gw, r[3], until=_day(1))
    await flag(running.gw, r[4], until=_day(30))  # the last day of the window
    await flag(running.gw, r[5], until=_day(31))  # outside it
    await flag(running.gw, r[6])  # no end known
    await flag(running.gw, r[7], until=_day(2), department="税務課", business=None, nd=False)
    await flag(running.gw, r[8], until=_day(3))
    await release_flags(
        running.gw,
        atena_number=r[8].atena_number,
        basis="application",
        note="申出",
        auto_response_disabled=True,
        non_disclosure=True,
        actor="x",
    )  # released: not due

    items = await due(running.gw, today=TODAY)
    assert [(i.atena_number, i.days_left, i.overdue) for i in items] == [
        (r[0].atena_number, -40, True),
        (r[1].atena_number, -1, True),
        (r[2].atena_number, 0, False),
        (r[3].atena_number, 1, False),
        (r[7].atena_number, 2, False),
        (r[4].atena_number, 30, False),
    ]
    first = items[0].as_json()
    assert first["name"] == r[0].name and first["until"] == _day(-40)
    assert (first["department"], first["business"]) == ("子ども家庭課", "児童手当業務")
    assert items[4].auto_response_disabled and not items[4].non_disclosure

    # a narrower window, and one holding department's own
    assert [i.days_left for i in await due(running.gw, within_days=0, today=TODAY)] == [-40, -1, 0]
    mine = await due(running.gw, today=TODAY, department="税務課")
    assert [i.atena_number for i in mine] == [r[7].atena_number]
    with pytest.raises(ValueError):
        await due(running.gw, within_days=-1, today=TODAY)


async def test_past_the_date_the_flag_stays_on_and_queries_are_still_held(
    running: Running,
) -> None:
    person = running.residents[9]
    await flag(running.gw, person, until=(running.clock.today() - timedelta(days=10)).isoformat())
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state.auto_response_disabled
    assert (await running.submit(Query("DUE-1", person.subject_code))).status == "PENDING"
    [item] = await due(running.gw)
    assert item.overdue and item.days_left == -10


def test_flags_due_on_the_command_line(tmp_path: Path, redis_url: str) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    today = SYSTEM_CLOCK.today()  # (the command's own clock)
    for i, offset in enumerate((-3, 10, 45)):
        res = hogo(
            "flags",
            "set",
            f"90000000000020{i}",
            "--name",
            f"試験 {i}",
            "--department",
            "税務課",
            "--basis",
            "application",
            "--until",
            (today + timedelta(days=offset)).isoformat(),
        )
        assert res.returncode == 0, res.stderr
    items = json.loads(hogo("flags", "due", "--json").stdout)
    assert [(i["atena_number"], i["days_left"], i["overdue"]) for i in items] == [
        ("900000000000200", -3, True),
        ("900000000000201", 10, False),
    ]
    wide = json.loads(hogo("flags", "due", "--within", "60", "--json").stdout)
    assert len(wide) == 3
    text = hogo("flags", "due").stdout
    assert "OVERDUE" in text and "試験 0" in text
