"""Pure: the rules of the directory import (宛名の取込): what a row's first pass finds, when its
second pass may write it, and what a remap (a subject code moved to another person) sets off.
No I/O: lua/directory_check.lua and lua/directory_write.lua decide by tables generated from these
functions (gateway/store/rules_lua.py), in the step that acts on them; the import's check pass
(gateway/directory_import/plan.py, through store.directory.Remap) counts and tells by the same
functions.

A subject code belongs to one person: a remap is a data error or an attack until someone has
looked. So a remap is written only when the operator allowed remaps and a review was opened for
it (the review holds the subject until staff confirm), never onto the person it already names,
and never over a store that changed since the first pass (issue 11, item 2).
"""

from __future__ import annotations

from enum import StrEnum


class Expected(StrEnum):
    """What the first pass found for a row, as the second pass is told it."""

    NEW = "new"  # the subject was not in the directory
    UNCHANGED = "unchanged"  # mapped to this row's person already
    REMAP = "remap"  # mapped to another person


class FlagStatus(StrEnum):
    """A person's flags, as a remap is judged by (lua/prelude.lua flag_status)."""

    NOW = "now"  # a flag is on
    BEFORE = "before"  # none on now, but the person had a flag record
    NEVER = "never"


def row_status(mapped: bool, same_person: bool) -> str:
    """The first pass: 'n' (new: the subject is not mapped), 'u' (unchanged: mapped to this
    row's person) or 'r' (remap: mapped to another person)."""
    if not mapped:
        return "n"
    return "u" if same_person else "r"


def row_write(
    expected: Expected, as_found: bool, remaps_allowed: bool, review: bool, same_person: bool
) -> str:
    """The second pass, one row: 'changed' (the store is no longer as the first pass found it:
    nothing of the batch is written), 'remap_refused' (a remap without --allow-remap, without a
    review opened for it, or onto the person it already names), or what is written: 'new',
    'unchanged', 'remap' (written, and its review opened in the same step)."""
    if not as_found:
        return "changed"
    if expected is Expected.REMAP:
        if not (remaps_allowed and review) or same_person:
            return "remap_refused"
        return "remap"
    return expected.value


def remap_protected(old_flag: FlagStatus, new_flag: FlagStatus) -> bool:
    """Either person has a flag, or had one: the move of a protected person's code."""
    return old_flag is not FlagStatus.NEVER or new_flag is not FlagStatus.NEVER


def remap_told(old_flag: FlagStatus, new_flag: FlagStatus) -> bool:
    """Either person has a flag on now: their holding departments are told of the remap (or of
    its refusal)."""
    return FlagStatus.NOW in (old_flag, new_flag)


def remap_notice(old_flag: FlagStatus, new_flag: FlagStatus) -> str:
    """How a written remap is recorded: 'stop:...' (a stop event, its holding departments told)
    or 'event:...'; then 'protected' (counted as a protected person's remap) or 'plain'."""
    told = "stop" if remap_told(old_flag, new_flag) else "event"
    return f"{told}:{'protected' if remap_protected(old_flag, new_flag) else 'plain'}"
