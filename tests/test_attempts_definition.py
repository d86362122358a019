"""The one definition of an attempt (gateway/attempts.py), through a real gateway: what the
auditors' pictures count is what happened, whatever else is in the log around it."""

from __future__ import annotations

from gateway.attempts import AttemptKind
from gateway.services.patterns import Patterns
from tests.conftest import Running
from tests.support import Query, portal_xml


async def _today(running: Running) -> dict[AttemptKind, int]:
    pictures = await Patterns(running.gw).pictures(running.clock.today())
    return {k: v[-1] for k, v in pictures.attempts.items()}


async def test_a_blocked_view_counts_after_a_shown_one(running: Running) -> None:
    r = running.residents
    await running.flag(r[0])
    # a view that shows something first (recorded as portal.view), then blocked ones
    await running.post("/soap/portal", portal_xml("GetSelfInformation", r[1].subject_code))
    await running.post("/soap/portal", portal_xml("GetSelfInformation", r[0].subject_code))
    await running.post("/soap/portal", portal_xml("GetProvisionRecords", r[0].subject_code))
    assert (await _today(running))[AttemptKind.PORTAL_BLOCKED] == 2


async def test_a_withheld_answer_is_one_attempt(running: Running) -> None:
    r = running.residents
    assert (await running.submit(Query("D-1", r[2].subject_code))).status == "PROVIDED"
    await running.flag(r[2])
    assert (await running.result("D-1")).status == "PENDING"  # withheld, and held again
    today = await _today(running)
    assert today[AttemptKind.ANSWER_WITHHELD] == 1
    assert sum(today.values()) == 1
