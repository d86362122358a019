"""Pure: a department token's reads against its limit (照会回数の上限), in fixed windows. No I/O:
lua/rate_count.lua counts the read and decides by a table generated from this function
(gateway/store/rules_lua.py), in the same step; gateway/store/departments.py only acts on the
outcome (gateway/flag_api.py answers 429 on a refusal).
"""

from __future__ import annotations


def read_counted(over_limit: bool, first_over: bool) -> str:
    """One read, counted: 'ok' (within the window's limit), or refused: 'refused_recorded' (the
    first read over the limit in the window: a security event), 'refused' (a later one, only
    refused: an audit trail a flood could fill would be a second way to attack it). A read that
    is not over the limit is never the first over it."""
    if not over_limit:
        return "ok"
    return "refused_recorded" if first_over else "refused"
