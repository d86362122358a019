"""The decision and the query's life as plain values: no store, no network."""

from __future__ import annotations

import itertools

import pytest

from gateway.decision import (
    Action,
    AdmissionFacts,
    RelayFacts,
    decide,
    record_is_non_disclosable,
    relay,
)
from gateway.lifecycle import TRANSITIONS, may_move, requester_status
from gateway.model import FlagState, HoldReason, QueryState

CLEAR = FlagState(False, False)


def facts(**kw: object) -> AdmissionFacts:
    base = dict(
        requester_registered=True,
        requester_permitted=True,
        existing_query=False,
        subject_known=True,
        flags=CLEAR,
    )
    base.update(kw)
    return AdmissionFacts(**base)  # type: ignore[arg-type]


def test_unregistered_requester_is_refused_not_authorized() -> None:
    d = decide(facts(requester_registered=False))
    assert (d.action, d.reason) == (Action.REFUSE, "NOT_AUTHORIZED")


def test_requester_outside_its_rights_is_refused() -> None:
    assert decide(facts(requester_permitted=False)).action is Action.REFUSE


def test_resubmission_answers_the_existing_query() -> None:
    assert decide(facts(existing_query=True)).action is Action.EXISTING


def test_unknown_subject_is_held_never_automatic() -> None:
    d = decide(facts(subject_known=False, flags=None))
    assert (d.action, d.reason) == (Action.HOLD, HoldReason.SUBJECT_UNKNOWN)


def test_flag_state_not_established_is_held() -> None:
    assert decide(facts(flags=None)).action is Action.HOLD


def test_auto_response_disabled_is_held() -> None:
    d = decide(facts(flags=FlagState(True, False)))
    assert (d.action, d.reason) == (Action.HOLD, HoldReason.AUTO_RESPONSE_DISABLED)


def test_non_disclosure_alone_still_answers_automatically() -> None:
    assert decide(facts(flags=FlagState(False, True))).action is Action.FORWARD


def test_clear_subject_is_forwarded() -> None:
    assert decide(facts()).automatic


@pytest.mark.parametrize(
    "registered,permitted,existing,known,ard",
    list(itertools.product([True, False], repeat=5)),
)
def test_no_combination_forwards_unless_every_condition_is_safe(
    registered: bool, permitted: bool, existing: bool, known: bool, ard: bool
) -> None:
    flags = FlagState(ard, False) if known else None
    d = decide(
        facts(
            requester_registered=registered,
            requester_permitted=permitted,
            existing_query=existing,
            subject_known=known,
            flags=flags,
        )
    )
    safe = registered and permitted and not existing and known and not ard
    assert d.automatic is safe


def test_relay_only_when_the_subject_is_known_clear_the_same_and_under_no_review() -> None:
    assert relay(RelayFacts(True, False, False)).automatic
    assert relay(RelayFacts(False, False, False)).reason == HoldReason.SUBJECT_UNKNOWN
    assert relay(RelayFacts(True, True, False)).reason == HoldReason.FLAG_SET_IN_FLIGHT
    assert relay(RelayFacts(True, False, True)).reason == HoldReason.SUBJECT_REMAPPED
    # a review names its own reason, before the move that may have opened it
    review = relay(RelayFacts(True, False, True, "flag_state_mismatch"))
    assert (review.action, review.reason) == (Action.HOLD, "flag_state_mismatch")


def test_record_non_disclosure_marker() -> None:
    assert not record_is_non_disclosable(False, False, False)
    assert record_is_non_disclosable(False, False, True)
    assert record_is_non_disclosable(True, False, False)
    # 不開示該当 when the query arrived hides the record even if released before the answer
    assert record_is_non_disclosable(False, True, False)


def test_lifecycle_moves() -> None:
    assert may_move("relay", QueryState.RECEIVED, QueryState.PROVIDED)
    assert may_move("relay", QueryState.RECEIVED, QueryState.HELD)
    assert may_move("release", QueryState.HELD, QueryState.RELEASED)
    assert may_move("refuse", QueryState.HELD, QueryState.REFUSED)
    # an answer asked for again after the person was flagged goes back to staff
    assert may_move("recheck", QueryState.PROVIDED, QueryState.HELD)
    assert may_move("recheck", QueryState.RELEASED, QueryState.HELD)
    for step, bad in [
        ("relay", (QueryState.PROVIDED, QueryState.HELD)),  # only the recheck holds an answer
        ("release", (QueryState.PROVIDED, QueryState.RELEASED)),
        ("recheck", (QueryState.REFUSED, QueryState.HELD)),
        ("refuse", (QueryState.RELEASED, QueryState.REFUSED)),
        ("release", (QueryState.REFUSED, QueryState.RELEASED)),
        ("release", (QueryState.RECEIVED, QueryState.RELEASED)),
    ]:
        assert not may_move(step, *bad), (step, bad)


def test_what_the_requester_sees() -> None:
    # a refusal gives nothing out, so nothing about it can change; an answer can be withheld
    assert {s for s in QueryState if not TRANSITIONS[s]} == {QueryState.REFUSED}
    assert requester_status(QueryState.HELD) == "PENDING"
    assert requester_status(QueryState.RECEIVED) == "PENDING"
    assert requester_status(QueryState.RELEASED) == "PROVIDED"
    assert set(TRANSITIONS) == set(QueryState)
