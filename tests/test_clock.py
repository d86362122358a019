"""One clock decides by time (gateway/clock.py): every script's NOW, every event's `at`, and the
Python rules (sessions, lock-outs, ages, due dates) read the gateway's clock, so that a test moves
it instead of sleeping; no other module reads the wall clock for a rule."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import SYSTEM_CLOCK, Clock, ManualClock, iso_ms
from gateway.context import open_gateway
from gateway.settings import Settings
from gateway.wareki import JST
from tests.conftest import Running
from tests.support import Query

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"

# Reads of the wall clock that decide nothing about a query, a person or a session: each says why
# it is not the gateway's clock.
WALL_CLOCK_ALLOWED = {
    "clock.py": "the one clock",
    "lean/http.py": "the HTTP Date header: a protocol stamp",
    "audit/archive.py": "archive files are named and rotated by the host's time (files on disk)",
    "audit/live.py": "an export's own stamp",
    "audit/tasks.py": "the sealing lag, against stream ids (Redis's time, not the gateway's)",
    "store/release_requests.py": "an id (unique and sortable), not a time anything is judged by",
    "verify/check.py": "the check's last run for Prometheus, which compares it with its own time",
}
WALL_CLOCK_CALLS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}


def _wall_clock_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in WALL_CLOCK_CALLS
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_clock_reads_the_wall_clock_for_a_rule() -> None:
    found = {
        str(path.relative_to(GATEWAY)): lines
        for path in sorted(GATEWAY.rglob("*.py"))
        if (lines := _wall_clock_reads(path))
    }
    assert found, "the scan finds nothing: it would pass whatever the code does"
    assert "clock.py" in found
    unexplained = {name: lines for name, lines in found.items() if name not in WALL_CLOCK_ALLOWED}
    assert unexplained == {}, "read the time from the gateway's clock (gw.clock) instead"


def test_a_manual_clock_runs_on_from_where_it_is_set_and_stands_still_when_frozen() -> None:
    clock = ManualClock(datetime(2026, 4, 1, 0, 0, tzinfo=JST))
    assert clock.today() == date(2026, 4, 1)
    first = clock.now_ms()
    assert clock.now_ms() >= first  # running on
    clock.freeze()
    frozen = clock.now_ms()
    assert clock.now_ms() == frozen
    clock.advance(86400)
    assert clock.now_ms() == frozen + 86_400_000 and clock.today() == date(2026, 4, 2)
    with clock.on_day(date(2025, 3, 31), 23, 59):
        assert clock.now().astimezone(JST) == datetime(2025, 3, 31, 23, 59, tzinfo=JST)
    assert clock.now_ms() == frozen + 86_400_000  # back where it was
    with pytest.raises(ValueError):
        clock.advance(-1)
    clock.reset()
    assert abs(clock.now_ms() - SYSTEM_CLOCK.now_ms()) < 60_000
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"


async def test_a_gateway_reads_the_real_clock_unless_given_another(
    settings: Settings, redis_url: str
) -> None:
    gw = await open_gateway(settings, redis_url)
    try:
        assert gw.clock is SYSTEM_CLOCK and type(gw.clock) is Clock
    finally:
        await gw.close()


async def test_the_scripts_and_events_stamp_the_gateways_clock(running: Running) -> None:
    """What the store writes by time (a hold's time and its place in the queue, an event's `at`)
    is the gateway's clock, moved here to another day: not the host's, not Redis's."""
    day = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    running.clock.set(day)
    running.clock.freeze()
    person = running.residents[0]
    await running.flag(person)
    assert (await running.submit(Query("CLK-1", person.subject_code))).status == "PENDING"
    [held] = await running.gw.queries.list_held()
    assert held.held_at == iso_ms(running.clock.now_ms()) == "2025-02-03T04:05:06.000Z"
    score = await running.gw.redis.client.zscore(running.gw.redis.keys.held, held.id)
    assert score == running.clock.now_ms()
    [event] = await running.events("query.held")
    assert event["at"] == "2025-02-03T04:05:06.000Z"
    await running.post("/soap/provision", b"<not xml")  # a security event appended from Python
    [hostile] = await running.events("security.hostile_input")
    assert hostile["at"] == "2025-02-03T04:05:06.000Z"
    assert running.gw.clock.today() == (day + timedelta(hours=9)).date()
