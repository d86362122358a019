"""Checked again wherever an answer can come out; pure, no I/O.

- A stored answer (GetQueryResult, or the same query sent again) is handed out only while the
  facts it was given on still hold (`answer_withheld`). lua/result.lua looks the answer up in a
  table generated from this function (gateway/store/rules_lua.py), in the one step that reads it.
- A held query is judged on what its subject resolves to *now* (`SubjectNow`), not on what it
  resolved to when it was held. A release carries the token of the facts its approver was shown
  (`seen_token`), and the store refuses the release when they changed in between (lua/prelude.lua
  `seen_token` digests the same pair).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.model import FlagState, HoldReason, QueryState

# Holds made because the person's 自動応答不可 was on: whoever releases one knows the person is
# flagged. Any other hold (subject unknown, interrupted, subject changed) was made without that
# knowledge, so a flag found on it since is news to the approver.
FLAG_REASONS = frozenset(
    {
        HoldReason.AUTO_RESPONSE_DISABLED,
        HoldReason.FLAG_SET_IN_FLIGHT,
        HoldReason.FLAGGED_AFTER_ANSWER,
    }
)
ANSWERED = frozenset({QueryState.PROVIDED, QueryState.RELEASED})


@dataclass(frozen=True, slots=True)
class AnswerFacts:
    """What the store knows, at the moment a stored answer would be handed out again.

    `moved`: the subject resolves now to another person than the one the answer was about (or to
    no one). `review`: the reason of an open review (quarantine) of the subject or of the person
    opened since the answer was given (the first in sort order, if several), or None.
    `flag_changed_since`: for a RELEASED answer, the person's flag record changed after the
    release (its version is not the one released on; for a release recorded before versions
    were kept, its last change is later than the release): lua/result.lua `flag_changed_since`.
    """

    state: QueryState
    moved: bool
    review: str | None
    auto_response_disabled_now: bool
    flag_changed_since: bool = False


def answer_withheld(f: AnswerFacts) -> HoldReason | None:
    """Why a stored answer must not go out again (it goes back to staff), or None to hand it out.

    An automatic answer was given because the person was not flagged: a flag now means the
    premise is gone. A staff release was judged with the flag as it then was: a flag changed since
    (set again, or set for the first time) is a fact the approver did not see. Either way, the
    subject resolving to someone else (or no one) now means the answer may be about the wrong
    person.
    """
    if f.state not in ANSWERED:
        return None
    if f.moved:
        return HoldReason.SUBJECT_CHANGED_AFTER_ANSWER
    if f.review is not None:
        # whose flags apply, or what they are, is not established since the answer was given
        # (a review opened before a staff release was in front of the approver who released)
        return HoldReason(f.review)
    if not f.auto_response_disabled_now:
        return None
    if f.state is QueryState.PROVIDED or f.flag_changed_since:
        return HoldReason.FLAGGED_AFTER_ANSWER
    return None


def seen_token(person_key: str, version: int) -> str:
    """The token of what staff were shown of a held query's subject: whom it resolves to ('' for
    no one) and that person's flag record version (0 without one). Any flag change raises the
    version, so the pair names the flags and their holding departments exactly. The same digest
    as lua/prelude.lua's `seen_token`; opaque, so that no person key travels in a form."""
    return hashlib.sha1(f"{person_key}|{version}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class SubjectNow:
    """A held query's subject as the directory and the flags say now (what staff are shown).

    `departments`: the holding departments that hold the flag (gateway.queue.holding_departments).
    No name here: the item's screen unseals that for the entitled roles only.
    """

    person_key: str  # '' when the directory does not know the subject now
    flags: FlagState | None  # None: the person has no flag record
    version: int = 0
    departments: tuple[str, ...] = ()
    department: str = ""  # of the record's last change
    business: str = ""

    @property
    def known(self) -> bool:
        return bool(self.person_key)

    @property
    def flagged(self) -> bool:
        return self.flags is not None and self.flags.auto_response_disabled

    @property
    def seen(self) -> str:
        return seen_token(self.person_key, self.version)

    def changed_since_hold(self, held_person: str) -> bool:
        """The subject resolves to someone else than when it was held (or than no one)."""
        return self.person_key != held_person

    def as_json(self, held_person: str, reason: str) -> dict[str, object]:
        return {
            "known": self.known,
            "changed_since_hold": self.changed_since_hold(held_person),
            "auto_response_disabled": bool(self.flags and self.flags.auto_response_disabled),
            "non_disclosure": bool(self.flags and self.flags.non_disclosure),
            "flag_version": self.version,
            "holding_departments": list(self.departments),
            "department": self.department or None,
            "business": self.business or None,
            "needs_flag_confirmation": needs_flag_confirmation(reason, held_person, self),
            "seen": self.seen,
        }


def needs_flag_confirmation(reason: str, held_person: str, now: SubjectNow) -> bool:
    """The subject now resolves to a flagged person, and the hold was not made for that person's
    flag (held as unknown, interrupted, or another person since): the approver must have seen it
    before a release (the console shows it; the command line asks for --flagged-ok)."""
    if not now.flagged:
        return False
    return reason not in FLAG_REASONS or now.changed_since_hold(held_person)


def released_record_non_disclosable(
    known_now: bool,
    nd_admitted: bool,
    nd_now: bool,
    nd_at_arrival: bool,
    requester_non_disclosure: bool,
) -> bool:
    """A staff release's provision record is marked 不開示 when the person had 不開示該当 when the
    query arrived, or has it now (the person it was admitted about, or the one its subject
    resolves to now: it may have become known, or another person, since the hold), or the
    requester asked. If no one can be established now, it is: a record hidden by mistake harms
    no one, one shown by mistake may."""
    return not known_now or nd_admitted or nd_now or nd_at_arrival or requester_non_disclosure


def release_begin(held: bool, seen_same: bool, lock_free: bool) -> str:
    """Staff release, step 1 (lua/release_begin.lua): 'ok' (the lock taken), or why not:
    'not_held', 'facts_changed' (the subject is no longer what the approver was shown),
    'busy' (another release holds the lock)."""
    if not held:
        return "not_held"
    if not seen_same:
        return "facts_changed"
    return "ok" if lock_free else "busy"


def release_finish(held: bool, lock_ours: bool, seen_same: bool) -> str:
    """Staff release, step 2 (lua/release_finish.lua): 'released', or why not: 'not_held',
    'lock_lost', 'facts_changed' (a flag set or a directory change while the upstream answered:
    the approver must look again)."""
    if not held:
        return "not_held"
    if not lock_ours:
        return "lock_lost"
    return "released" if seen_same else "facts_changed"


def refusal(held: bool, releasing: bool) -> str:
    """Staff refusal (lua/refuse.lua): 'refused' exactly once, 'not_held', or 'busy' while a
    release is under way."""
    if not held:
        return "not_held"
    return "busy" if releasing else "refused"
