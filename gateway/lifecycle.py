"""A query's life as one state machine: received → provided | held → released | refused.

An answer is not the end: when it is asked for again, the store checks it against the flag and
the directory as they are then (gateway.recheck), and a provided or released query whose facts
changed goes back to staff (→ held), its answer withheld.

The store enforces these moves atomically (its Lua scripts check the current state before they
write); this table is the one place that says which moves exist, and tests/test_recheck.py runs
every script from every state and checks that the moves they make are exactly these.
"""

from __future__ import annotations

from gateway.model import QueryState

TRANSITIONS: dict[QueryState, frozenset[QueryState]] = {
    QueryState.RECEIVED: frozenset({QueryState.PROVIDED, QueryState.HELD}),
    QueryState.PROVIDED: frozenset({QueryState.HELD}),  # flagged since (lua/result.lua)
    QueryState.HELD: frozenset({QueryState.RELEASED, QueryState.REFUSED}),
    QueryState.RELEASED: frozenset({QueryState.HELD}),  # the flag changed since the release
    QueryState.REFUSED: frozenset(),
}

# A query that was received but whose upstream call failed is forgotten (so the requester may try
# again); this is the one way out of RECEIVED that is not a state.
ABANDONABLE = frozenset({QueryState.RECEIVED})


class IllegalTransition(Exception):
    def __init__(self, current: QueryState | None, wanted: QueryState) -> None:
        shown = current.value if current else "unknown"
        super().__init__(f"query is {shown}, cannot become {wanted.value}")
        self.current = current
        self.wanted = wanted


def can_move(current: QueryState, wanted: QueryState) -> bool:
    return wanted in TRANSITIONS[current]


def check_move(current: QueryState | None, wanted: QueryState) -> None:
    if current is None or not can_move(current, wanted):
        raise IllegalTransition(current, wanted)


def is_final(state: QueryState) -> bool:
    return not TRANSITIONS[state]


def requester_status(state: QueryState) -> str:
    """The SOAP status a requester sees for a query in this state."""
    return {
        QueryState.RECEIVED: "PENDING",
        QueryState.HELD: "PENDING",
        QueryState.PROVIDED: "PROVIDED",
        QueryState.RELEASED: "PROVIDED",
        QueryState.REFUSED: "REFUSED",
    }[state]
