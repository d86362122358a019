"""Pure: when a pattern rule of the security team fires (検知ルールの発火), once its counts are
known (gateway/rules.py says what is counted; lua/attempts_fold.lua counts, in the step that
records the attempts). No I/O: attempts_fold.lua decides by tables generated from these functions
(gateway/store/rules_lua.py), reducing each count to booleans against the ward's limits first.
"""

from __future__ import annotations


def count_fires(reached: bool, fired_in_window: bool) -> str:
    """`requesters`, `portal_views`, `probing`: 'fire' (the count reached its threshold, and the
    rule has not fired for this person or requester within its window: it fires, and is
    recorded as fired) or 'quiet'."""
    return "fire" if reached and not fired_in_window else "quiet"


def rate_fires(floor_reached: bool, above_usual: bool, fired_today: bool) -> str:
    """`requester_rate`: 'fire' (today's count is at least the floor and above the requester's
    usual, mean + k·σ of the days before, and the rule has not fired for it today) or 'quiet'."""
    return "fire" if floor_reached and above_usual and not fired_today else "quiet"
