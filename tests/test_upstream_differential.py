"""The differential property (tests/differential.py): for every generated and mutated envelope,
either a Client fault and nothing sent, or the upstream receives exactly the request built from
the checked values, naming the subject the gateway decided on and nothing else that looks like
one; the flagged person's answer never comes back. A few hundred examples here, derandomized;
`python -m bench.differential --examples 10000` runs the long one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.differential import DECOY, HIDDEN, Example, Harness, render, run

pytestmark = pytest.mark.slow

EXAMPLES = 300


@pytest.fixture
def harness(redis_url: str, tmp_path: Path):
    h = Harness(redis_url, tmp_path)
    try:
        yield h.start()
    finally:
        h.stop()


def test_what_the_upstream_receives_is_exactly_what_was_checked(harness: Harness) -> None:
    run(harness, EXAMPLES)
    o = harness.outcomes
    # the generator reaches every kind of outcome (else the property would hold vacuously)
    assert o["fault"] > 0 and o["forwarded"] > 0 and o["held"] > 0, o
    assert o["portal_forwarded"] > 0 and o["portal_blocked"] > 0, o
    assert sum(o.values()) == harness.count


def test_the_header_attack_is_refused(harness: Harness) -> None:
    """The attack the property is about, spelled out: the Body asks about the unflagged decoy,
    a whole request in the Header about the flagged person."""
    attack = Example(
        operation="SubmitQuery", subject="decoy", dept=None, user=None, non_disclosure=None,
        period_from=None, period_to=None, requested_at="2026-11-26T10:00:00Z", item=None,
        env_prefix="soap", op_prefix="q", redeclare="none", prolog="none", header="entries",
        header_snippet="request", inserts=(), attributes=(), forms=(), indent=False,
    )  # fmt: skip
    body = render(attack, "DF-header-1").body
    assert HIDDEN.subject_code.encode() in body and DECOY.subject_code.encode() in body
    assert harness.check(attack) == "fault"
    assert harness.upstream.received == []
