"""Pure: whether a process may use the store with its keys (鍵の一致確認). A host whose keys
differ from those the store was written with would look persons up under other person keys: a
flag set there would be invisible to it, and its queries about that person answered
automatically. No I/O: lua/keyring_check.lua decides by a table generated from this function
(gateway/store/rules_lua.py); gateway/store/keycheck.py fails the process closed on a refusal.
"""

from __future__ import annotations


def keyring_agreement(differs: bool, missing: bool) -> str:
    """This host's key check values against the store's: 'ok' (every version the store knows is
    here with the same value: the versions the store has not seen are recorded), or, recording
    nothing: 'differs' (a version here has another value in the store), 'missing' (the store
    knows a version this host lacks)."""
    if differs:
        return "differs"
    return "missing" if missing else "ok"
