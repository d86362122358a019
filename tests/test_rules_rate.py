"""lua/rate_count.lua through every combination of its facts it can meet, against the pure core its
table is generated from (gateway/rate_rules.py read_counted): a read within a department token's
limit is let through, the first one over it in a window is refused and recorded as a security
event, and every later one in that window is only refused.

As in test_rules_exhaustive.py, each case is built in the real Redis of a running gateway with the
store's key directly (the window's counter, at every count around the limit), the real script is
run through its store (DepartmentTokenStore.count_read), on a frozen clock so that the window
cannot turn between the case being built and run, and both the outcome and what the step wrote
(the counter, the event) are compared with the core.

A read that is not over the limit cannot be the first over it, so `first_over` is only ever true
of a read over the limit (the core still answers the combination: 'ok').
"""

from __future__ import annotations

from gateway import rate_rules
from gateway.departments import tokens
from gateway.store.departments import DepartmentToken
from gateway.store.rules_lua import RULES
from tests.conftest import Running
from tests.flag_support import events_of

LIMIT, WINDOW_S = 3, 60


# -- the rule's safety, said without the core -----------------------------------------------------
def test_no_read_over_the_limit_is_let_through_and_one_is_recorded_is_safe() -> None:
    for key, out in RULES["rate_read"].table().items():
        over = key.split(":")[0]
        assert (out == "ok") is (over == "0"), key
        assert (out == "refused_recorded") is (key == "1:1"), key


# -- lua/rate_count.lua ---------------------------------------------------------------------------
async def test_a_read_is_counted_and_refused_as_the_core_says(running: Running) -> None:
    gw, clock = running.gw, running.clock
    r, k = gw.redis.client, gw.redis.keys
    store = tokens(gw)
    recorded_cases: list[str] = []
    with clock.on_day(clock.today(), 10, 0):
        clock.freeze()
        window = clock.now_ms() // (WINDOW_S * 1000)
        for before in range(LIMIT + 3):  # every count around the limit, the first read included
            token = DepartmentToken(f"rate{before:04d}", "税務課", "", "t", "", "")
            counter = k.department_token_reads(token.id, window)
            if before:
                await r.set(counter, before)
            n = before + 1
            want = rate_rules.read_counted(n > LIMIT, n == LIMIT + 1)
            within, recorded = await store.count_read(
                token, LIMIT, WINDOW_S, operation=f"case-{before}"
            )
            case = (before, want)
            assert (within, recorded) == (want == "ok", want == "refused_recorded"), case
            assert int(await r.get(counter)) == n, case  # every read counted, refused or not
            if recorded:
                recorded_cases.append(f"case-{before}")
    events = await events_of(gw, "security.api_rate_limited")
    assert [e["operation"] for e in events] == recorded_cases == [f"case-{LIMIT}"]
    assert all(e["limit"] == str(LIMIT) for e in events)
