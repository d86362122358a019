"""The decision and the query's life as plain values: no store, no network."""

from __future__ import annotations

import itertools

import pytest

from gateway.decision import Action, AdmissionFacts, decide, may_relay, record_is_non_disclosable
from gateway.lifecycle import TRANSITIONS, IllegalTransition, check_move, is_final, requester_status
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


def test_relay_only_when_flag_state_known_and_clear() -> None:
    assert may_relay(CLEAR)
    assert may_relay(FlagState(False, True))
    assert not may_relay(FlagState(True, False))
    assert not may_relay(None)


def test_record_non_disclosure_marker() -> None:
    assert not record_is_non_disclosable(CLEAR, False)
    assert record_is_non_disclosable(CLEAR, True)
    assert record_is_non_disclosable(FlagState(False, True), False)
    assert not record_is_non_disclosable(None, False)


def test_lifecycle_moves() -> None:
    check_move(QueryState.RECEIVED, QueryState.PROVIDED)
    check_move(QueryState.RECEIVED, QueryState.HELD)
    check_move(QueryState.HELD, QueryState.RELEASED)
    check_move(QueryState.HELD, QueryState.REFUSED)
    # an answer asked for again after the person was flagged goes back to staff
    check_move(QueryState.PROVIDED, QueryState.HELD)
    check_move(QueryState.RELEASED, QueryState.HELD)
    for bad in [
        (QueryState.HELD, QueryState.PROVIDED),
        (QueryState.PROVIDED, QueryState.RELEASED),
        (QueryState.REFUSED, QueryState.HELD),
        (QueryState.RELEASED, QueryState.REFUSED),
        (QueryState.REFUSED, QueryState.RELEASED),
        (QueryState.RECEIVED, QueryState.RELEASED),
    ]:
        with pytest.raises(IllegalTransition):
            check_move(*bad)
    with pytest.raises(IllegalTransition):
        check_move(None, QueryState.HELD)


def test_final_states_and_what_the_requester_sees() -> None:
    # a refusal gives nothing out, so nothing about it can change; an answer can be withheld
    assert {s for s in QueryState if is_final(s)} == {QueryState.REFUSED}
    assert requester_status(QueryState.HELD) == "PENDING"
    assert requester_status(QueryState.RECEIVED) == "PENDING"
    assert requester_status(QueryState.RELEASED) == "PROVIDED"
    assert set(TRANSITIONS) == set(QueryState)
