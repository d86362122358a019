"""A query's life as one state machine: received → provided | held → released | refused.

An answer is not the end: when it is asked for again, the store checks it against the flag and
the directory as they are then (gateway.recheck), and a provided or released query whose facts
changed goes back to staff (→ held), its answer withheld.

`STEPS` is the one place that says which step may move a query from which state to which; the
store's scripts refuse any other move through a table generated from it (lua `may_move`,
gateway/store/rules_lua.py), and `TRANSITIONS` is what all the steps together allow.
"""

from __future__ import annotations

from gateway.model import QueryState

R, P, H, L, X = (
    QueryState.RECEIVED,
    QueryState.PROVIDED,
    QueryState.HELD,
    QueryState.RELEASED,
    QueryState.REFUSED,
)

# step (the script that makes the move) -> the moves it may make (from, to)
STEPS: dict[str, frozenset[tuple[QueryState, QueryState]]] = {
    "relay": frozenset({(R, P), (R, H)}),  # lua/complete.lua: the automatic path's last moment
    "hold": frozenset({(R, H)}),  # lua/hold.lua: the admission's decision was to hold
    "sweep": frozenset({(R, H)}),  # lua/sweep.lua: interrupted mid-flight
    "recheck": frozenset({(P, H), (L, H)}),  # lua/result.lua: an answer withheld
    "release": frozenset({(H, L)}),  # lua/release_finish.lua: staff release
    "refuse": frozenset({(H, X)}),  # lua/refuse.lua: staff refusal
}

TRANSITIONS: dict[QueryState, frozenset[QueryState]] = {
    s: frozenset(b for moves in STEPS.values() for a, b in moves if a is s) for s in QueryState
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


def may_move(step: str, current: QueryState, wanted: QueryState) -> bool:
    """Whether `step` may move a query from `current` to `wanted`."""
    return (current, wanted) in STEPS[step]


def requester_status(state: QueryState) -> str:
    """The SOAP status a requester sees for a query in this state (an answered one: PROVIDED,
    unless its stored answer is gone: see QueryStore.result)."""
    return {
        QueryState.RECEIVED: "PENDING",
        QueryState.HELD: "PENDING",
        QueryState.PROVIDED: "PROVIDED",
        QueryState.RELEASED: "PROVIDED",
        QueryState.REFUSED: "REFUSED",
    }[state]
