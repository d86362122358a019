"""Pure: the rules of the audit trail's store steps: who holds a role's lease (the sealer, the
archiver), when a signed block may be sealed onto the trail, and when sealed entries may be
trimmed after they were archived. No I/O: lua/audit_lease.lua, audit_seal.lua and
audit_trim.lua decide by tables generated from these functions (gateway/store/rules_lua.py), in
the step that acts on them, so that the chain never forks and nothing unsealed or unarchived is
dropped, whatever a stalled or racing process asks.
"""

from __future__ import annotations


def lease(found: bool, ours: bool) -> str:
    """Taking or keeping a role: 'renew' (the lease is the one we hold: its time starts again),
    'take' (no one holds it: we take it under the next epoch), 'taken' (another holds it)."""
    if not found:
        return "take"
    return "renew" if ours else "taken"


def seal(lease_ours: bool, head_same: bool, trail_before: bool) -> str:
    """Sealing one signed block: 'sealed', or, writing nothing: 'lease_lost' (we no longer hold
    the sealer's lease), 'head_moved' (the head is not the one the block was built on: another
    sealer sealed meanwhile), 'trail_ahead' (the trail holds an entry not older than the
    block's first event: the trail does not match its head)."""
    if not lease_ours:
        return "lease_lost"
    if not head_same:
        return "head_moved"
    return "sealed" if trail_before else "trail_ahead"


def trim(lease_ours: bool, beyond_head: bool, past_mark: bool) -> str:
    """Dropping entries the archiver has written to its files: 'lease_lost', 'beyond_head' (the
    archive claims more than was ever sealed: nothing dropped), or 'trimmed:mark' (dropped, and
    the archive mark moves up to it) / 'trimmed:keep' (dropped again, the mark already past it:
    a mark never moves back)."""
    if not lease_ours:
        return "lease_lost"
    if beyond_head:
        return "beyond_head"
    return "trimmed:mark" if past_mark else "trimmed:keep"
