"""lua/flag_change.lua's guards through every combination of their facts against the pure core
their table is generated from (gateway/flag_rules.py change_guard): a release of a hold the
department does not have, the two-person release request a change confirms (none, unknown, no
longer pending, of another department, asked by the confirmer) and the hold's version the change
expects (none, the same, another).

As in test_rules_exhaustive.py, each case is built in the real Redis of a running gateway with the
store's keys directly (the department's hold, the request, its pending marker), the real script
is run through its store (FlagStore.apply), and the outcome, the hold, the request after and the
events written are compared with the core. That the aggregate is the OR of the holds is held in
test_rules_exhaustive.py (a property over the holds, not a table).
"""

from __future__ import annotations

import itertools
import json

from gateway.flag_rules import change_guard
from gateway.store.flags import ChangeRefused, FlagChange, FlagChanged
from gateway.store.rules_lua import RULES
from tests.conftest import Running
from tests.test_rules_exhaustive import DEPT, OTHER_DEPT, _holds, events_are

BOOLS = (False, True)
ACTOR, ASKER = "staff:confirmer", "staff:asker"
HOLD_VERSION = 3  # as _holds writes a hold
# the request a change confirms: None (no request), 'missing' (an id the store does not know), or
# the state of the one stored
REQUESTS = (None, "missing", "pending", "confirmed", "cancelled", "superseded")
VERSIONS = (None, "same", "other")  # the hold's version the change expects


# -- the rule's safety, said without the core -----------------------------------------------------
def test_no_change_confirms_a_request_unless_every_fact_allows_it_is_safe() -> None:
    for key, out in RULES["flag_change"].table().items():
        release, held, request, found, pending, matches, same, version = key.split(":")
        if release == "1" and held == "0":
            assert out == "no_hold", key  # nothing released that the department does not hold
        elif request == "1" and (found, pending, matches, same) != ("1", "1", "1", "0"):
            assert out not in ("ok", "stale"), key  # nobody confirms their own, nor a stale one
        else:
            assert out == ("ok" if version == "1" else "stale"), key


# -- lua/flag_change.lua --------------------------------------------------------------------------
async def test_a_flag_change_is_guarded_as_the_core_says(running: Running) -> None:
    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    expected: dict[tuple[str, str], list[str]] = {}
    cases = itertools.product(("set", "release"), BOOLS, REQUESTS, BOOLS, BOOLS, VERSIONS)
    for n, (action, held, request, matches, same_person, version) in enumerate(cases):
        if request in (None, "missing") and (matches or same_person):
            continue  # no request stored: whose or of what it is, is no fact
        atena = f"78{n:010d}"
        pk = await gw.flags.person_key(atena)
        if held:
            await _holds(running, pk, {DEPT: (True, True)})
        rid = None if request is None else f"{n:013x}beef01"
        if request not in (None, "missing"):
            await r.hset(
                k.release_request(rid),
                mapping={
                    "id": rid,
                    "person": pk,
                    "department": DEPT if matches else OTHER_DEPT,
                    "requested_by": ACTOR if same_person else ASKER,
                    "state": request,
                },
            )
        at = HOLD_VERSION if held else 0
        expect = {None: None, "same": at, "other": at + 4}[version]
        want = change_guard(
            action == "release",
            held,
            request is not None,
            request not in (None, "missing"),
            request == "pending",
            matches,
            same_person,
            expect is None or expect == at,
        )
        before = await r.hget(k.flag_holds(pk), DEPT)
        on = action == "set"
        change = FlagChange(
            atena, DEPT, action, ACTOR, on, on, {"basis": "application", "business": "B1"},
            {"business": "B1"}, expect_version=expect, request_id=rid,
        )  # fmt: skip
        case = (action, held, request, matches, same_person, version)
        try:
            await gw.flags.apply([change])
            outcome = "ok"
        except FlagChanged as exc:
            outcome = "stale"
            assert exc.version == at, case
        except ChangeRefused as exc:
            outcome = "decided" if exc.reason == request else exc.reason
        assert outcome == want, case
        after = await r.hget(k.flag_holds(pk), DEPT)
        if want == "ok":
            hold = json.loads(after)
            assert (hold["version"], hold["ard"], hold["nd"]) == (
                at + 1,
                str(int(on)),
                str(int(on)),
            )
        else:
            assert after == before, case  # nothing written to the hold
        state = await r.hget(k.release_request(rid), "state") if rid else None
        if rid and want in ("ok", "stale"):
            assert state == ("confirmed" if want == "ok" else "superseded"), case
        else:
            assert state == (None if request in (None, "missing") else request), case
        kinds = {"ok": [f"flag.{action}"], "stale": ["flag.release_superseded"] if rid else []}
        expected[("subject", pk)] = kinds.get(want, [])
    await events_are(running, expected)
