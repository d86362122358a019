"""`hogo_security_events_total{kind}` counts every security event exactly once, whoever records
it: `EventLog.security` for the events recorded from Python, the Python caller of a Lua script for
the events the script emits. Each step drives one kind and checks that the counter of that kind,
and no other, moved by exactly as many as the event log gained: counting at a call site as well
would show here as two, and forgetting one as none.

The handshake refusals and certificate mismatches of mutual TLS are driven in tests/test_tls.py.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import gateway
from gateway import flags
from gateway.departments import issue_token, tokens
from gateway.directory_import import (
    DirectoryImport,
    DirectoryRefused,
    ImportInterrupted,
    pairs_rows,
)
from gateway.quarantine import Quarantines, ReviewRefused
from tests.conftest import Running
from tests.staffkit import PASSWORD, Staff
from tests.support import OTHER_REQUESTER, REQUESTER, Query, portal_xml

# driven in tests/test_tls.py (they need a TLS listener)
DRIVEN_IN_TEST_TLS = {"tls_refused", "requester_identity_mismatch"}
METRIC_LINE = re.compile(r'^hogo_security_events_total\{kind="([a-z_]+)"\} ([0-9.e+]+)$', re.M)


async def security_counts(running: Running) -> Counter[str]:
    """The counter per kind, as /metrics shows it to the operator."""
    async with running.session.get(running.url + "/metrics") as resp:
        text = await resp.text()
    return Counter({kind: round(float(v)) for kind, v in METRIC_LINE.findall(text)})


async def security_events(running: Running) -> Counter[str]:
    return Counter(
        str(e["kind"]).removeprefix("security.") for e in await running.events("security.")
    )


class Steps:
    """Steps that each must record and count exactly the security events they name."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.seen: set[str] = set()

    @contextlib.asynccontextmanager
    async def exactly(self, **expected: int) -> AsyncIterator[None]:
        counted, recorded = (
            await security_counts(self.running),
            await security_events(self.running),
        )
        yield
        counted = await security_counts(self.running) - counted
        recorded = await security_events(self.running) - recorded
        assert dict(recorded) == expected, f"recorded {dict(recorded)}, expected {expected}"
        assert dict(counted) == expected, f"counted {dict(counted)}, expected {expected}"
        self.seen |= set(expected)


def kinds_in_the_code() -> set[str]:
    """Every security event kind the gateway's code can record, from Python or from Lua."""
    root = Path(gateway.__file__).parent
    kinds: set[str] = set()
    for path in root.rglob("*.py"):
        kinds |= set(re.findall(r'\.security\(\s*"([a-z_]+)"', path.read_text()))
    for path in root.rglob("*.lua"):
        kinds |= set(re.findall(r"emit(?:_stop)?\('security\.([a-z_]+)'", path.read_text()))
    return kinds


async def test_every_security_event_is_counted_exactly_once(running: Running, staff: Staff) -> None:
    r, steps = running, Steps(running)
    gw = r.gw
    flagged, other = r.residents[0], r.residents[1]

    # the SOAP services
    async with steps.exactly(hostile_input=1):
        await r.post("/soap/provision", b"<bad")
    async with steps.exactly(unknown_requester=1):  # emitted by lua/admit.lua
        await r.submit(Query("S-1", other.subject_code, requester="9999999999999999"))
    async with steps.exactly(unknown_requester=1):  # emitted by lua/result.lua
        await r.result("S-1", requester="9999999999999999")
    await gw.requesters.add("1390000000000009", "試験村 福祉課", "test")  # no rights granted
    async with steps.exactly(requester_not_permitted=1):
        await r.submit(Query("S-2", other.subject_code, requester="1390000000000009"))

    # the citizen portal
    async with steps.exactly():  # setting a flag is not a security event
        await r.flag(flagged)
    for operation, kind in (
        ("GetSelfInformation", "portal_blocked"),
        ("GetProvisionRecords", "portal_filtered"),
    ):
        async with steps.exactly(**{kind: 1}):
            await r.session.post(
                r.url + "/soap/portal",
                data=portal_xml(operation, flagged.subject_code),
                headers={"Content-Type": "text/xml; charset=utf-8"},
            )

    # the departments' flag API
    async def read(token: str | None, atena_number: str) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{r.url}/api/v1/flags/{atena_number}"
        async with r.session.get(url, headers=headers) as resp:
            return resp.status

    async with steps.exactly(api_unauthorized=1):
        assert await read(None, flagged.atena_number) == 401
    holding_only, _ = await issue_token(
        gw, department="高齢者支援課", business=None, label="t", actor="test"
    )
    async with steps.exactly(api_bad_input=1):
        assert await read(holding_only, "123") == 400
    async with steps.exactly(flag_read_refused=1):  # emitted by lua/flag_read.lua
        assert await read(holding_only, flagged.atena_number) == 403
    outside, _ = await tokens(gw).issue("総務課", "文書管理", "legacy", "test")
    async with steps.exactly(flag_read_refused=1):  # recorded from Python: outside the annexes
        assert await read(outside, flagged.atena_number) == 403
    busy, _ = await issue_token(gw, department="税務課", business=None, label="t", actor="test")
    limit = gw.settings.flag_api_reads_per_minute
    # inside one minute of the limit: the clock at its start, as long as the reads take
    with r.clock.on_day(r.clock.today(), 10, 0):
        r.clock.freeze()
        async with steps.exactly(api_rate_limited=1):  # emitted by lua/rate_count.lua, once
            assert [await read(busy, other.atena_number) for _ in range(limit)] == [200] * limit
            assert await read(busy, other.atena_number) == 429
            assert await read(busy, other.atena_number) == 429  # refused again, not recorded

    # the staff console: logins (lua/staff_login_failed.lua), then the guard of every route
    await staff.create("approver")
    anonymous = staff.anonymous()
    for _ in range(gw.settings.staff_lockout_attempts - 1):
        async with steps.exactly(login_failed=1):
            assert await anonymous.login("appr-one", PASSWORD + "x") == 401
    async with steps.exactly(login_failed=1, login_locked=1):
        assert await anonymous.login("appr-one", PASSWORD + "x") == 401
    admin = await staff.client("admin")
    async with steps.exactly(csrf_refused=1):
        status, _, _ = await admin.request(
            "POST", "/api/v1/requesters", json={"org_code": "1", "name": "x"}, csrf=""
        )
        assert status == 403
    registrar = await staff.client("registrar")
    async with steps.exactly(access_denied=1):
        assert (await registrar.api("GET", "/api/v1/held"))[0] == 403

    # the flag rules (gateway.flags) and the console's department rule
    release = {
        "atena_number": flagged.atena_number,
        "basis": "application",
        "note": "本人から解除の申出",
        "auto_response_disabled": "1",
        "non_disclosure": "1",
    }
    tax = await staff.client("registrar_tax")
    async with steps.exactly(department_mismatch=1):
        status, _, _ = await tax.request("POST", "/staff/flags/release-request", form=release)
        assert status == 403
    async with steps.exactly():
        assert (await registrar.submit("/staff/flags/release-request", release))[0] == 200
    [pending] = await flags.pending_releases(gw)
    async with steps.exactly(self_approval=1):
        status, _, _ = await registrar.request(
            "POST", "/staff/flags/release-confirm", form={"request_id": pending.id}
        )
        assert status == 403

    # the directory import (gateway.directory_import, gateway.store.quarantine)
    moved = [(r.residents[2].atena_number, flagged.subject_code)]
    async with steps.exactly(protected_subject_remap=1):  # a flagged person's code, refused
        with pytest.raises(DirectoryRefused):
            await DirectoryImport(gw.directory, gw.events).run(pairs_rows(moved), "os:op@h")
    async with steps.exactly(protected_subject_remap=1):  # applied with --allow-remap, held
        done = await DirectoryImport(gw.directory, gw.events).run(
            pairs_rows(moved), "os:op@h", allow_remap=True
        )
    [(_, review)] = done.reviews
    async with steps.exactly(self_approval=1):  # emitted by lua/quarantine_confirm.lua
        with pytest.raises(ReviewRefused):
            await Quarantines.of(gw).confirm(review, "os:op@h", "mine")
    passes = 0

    def growing():  # type: ignore[no-untyped-def]
        nonlocal passes
        passes += 1
        yield from pairs_rows([("990000000000091", "GROWS1")] * passes)()

    async with steps.exactly(directory_import_interrupted=1):  # the rows changed between passes
        with pytest.raises(ImportInterrupted):
            await DirectoryImport(gw.directory, gw.events).run(growing, "os:op@h")

    # the security team's pattern rules (gateway/rules.py), each at its threshold: recorded when
    # the inbox of attempts is folded (gateway/notices.py), here at once
    watched = r.residents[7]
    await r.flag(watched)
    async with steps.exactly(pattern_requesters=1):
        for pn, org in (("PR-1", REQUESTER), ("PR-2", OTHER_REQUESTER)):
            assert (await r.submit(Query(pn, watched.subject_code, requester=org))).status == (
                "PENDING"
            )
        await gw.notices.catch_up()
    async with steps.exactly(portal_blocked=3, pattern_portal_views=1):
        for _ in range(3):
            await r.post("/soap/portal", portal_xml("GetSelfInformation", watched.subject_code))
        await gw.notices.catch_up()
    async with steps.exactly(pattern_requester_rate=1):
        for i in range(gw.settings.attempts.rule_rate_floor - 1):  # one is held already today
            await r.submit(Query(f"PR-R{i}", watched.subject_code, requester=OTHER_REQUESTER))
        await gw.notices.catch_up()
    async with steps.exactly(pattern_probing=1):
        for i in range(gw.settings.attempts.rule_probing):
            await r.submit(Query(f"PR-P{i}", f"SIMUNKNOWN{i:04d}"))
        await gw.notices.catch_up()

    # every kind the code can record was driven (here, or in tests/test_tls.py)
    assert steps.seen | DRIVEN_IN_TEST_TLS == kinds_in_the_code()
