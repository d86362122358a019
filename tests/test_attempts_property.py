"""For any sequence of flag changes by any holding departments and of queries, portal views and
refused reads about any persons (through the real gateway and store), each department is told of
exactly the stops about persons it held a flag on at that moment: no more (a department that had
released its hold, or never had one, learns nothing), no less, each once, in order."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.departments import tokens
from tests.conftest import Running
from tests.flag_support import flag, unflag
from tests.support import Query, portal_xml

DEPARTMENTS = {"子ども家庭課": "児童手当業務", "税務課": None, "保育課": None}
PERSONS = 3
ops = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(("flag", "release")),
            st.integers(0, PERSONS - 1),
            st.sampled_from(sorted(DEPARTMENTS)),
        ),
        st.tuples(
            st.sampled_from(("query", "self", "records", "read")),
            st.integers(0, PERSONS - 1),
            st.just(""),
        ),
    ),
    min_size=1,
    max_size=10,
)
KIND = {"query": "query_held", "self": "portal_blocked", "records": "portal_blocked"}
KIND["read"] = "read_refused"


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=ops)
async def test_each_department_is_told_exactly_of_the_stops_about_whom_it_held(
    running: Running, steps: list[tuple[str, int, str]]
) -> None:
    gw, residents = running.gw, running.residents
    # one gateway for every example: holds and attempts carry on from one example to the next
    model = running.__dict__.setdefault(
        "attempts_model",
        {"holds": {p: set() for p in range(PERSONS)}, "told": {d: [] for d in DEPARTMENTS}, "n": 0},
    )
    if "token" not in model:
        model["token"], _ = await tokens(gw).issue("総務課", "文書管理", "outside", "test")
    holds: dict[int, set[str]] = model["holds"]
    told: dict[str, list[tuple[str, str]]] = model["told"]
    for op, p, department in steps:
        person = residents[p]
        pk = gw.keyring.person_key("atena", person.atena_number)
        if op == "flag":
            await flag(gw, person, department=department, business=DEPARTMENTS[department])
            holds[p].add(department)
            continue
        if op == "release":
            if department in holds[p]:
                await unflag(gw, person, department=department)
                holds[p].discard(department)
            continue
        model["n"] += 1
        if op == "query":
            answer = await running.submit(Query(f"HP-{model['n']}", person.subject_code))
            assert answer.status == ("PENDING" if holds[p] else "PROVIDED")
        elif op == "read":
            async with running.session.get(
                f"{running.url}/api/v1/flags/{person.atena_number}",
                headers={"Authorization": f"Bearer {model['token']}"},
            ) as resp:
                assert resp.status == 403  # outside both annexes: always refused
        else:
            operation = "GetSelfInformation" if op == "self" else "GetProvisionRecords"
            await running.post("/soap/portal", portal_xml(operation, person.subject_code))
        # every stop is a refused read; a query or a view is a stop while someone holds a flag
        if op == "read" or holds[p]:
            for d in holds[p]:
                told[d].append((KIND[op], pk))
    await gw.notices.catch_up()
    for department, expected in told.items():
        page = await gw.notices.store.page(department, limit=1000)
        assert [(a.kind, a.person) for a in reversed(page.items)] == expected, department
        assert page.total == len(expected)
