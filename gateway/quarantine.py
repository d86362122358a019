"""Subjects and persons held for review (quarantine), as staff and the operator see them: the
open reviews, and their confirmation. The CLI (`directory remaps`, `directory confirm`) and the
console (approvers' page /staff/reviews, /api/v1/reviews) both call this.

A confirmation says that a member of staff has checked, with the source of truth (the
addressee system, 団体内統合宛名システム), that the subject's new person is right, or that the
person's flag state is right again. It is recorded with its actor and a sealed note. Nobody
confirms a review they opened themselves (the operator who imported the remap).

A review the check opened (gateway/verify: the flag state or a directory entry unlike the trail)
is confirmed only once the check, run again for that person or subject at that moment, finds
nothing that differs: staff put the state right through the normal commands first (which write
the history and the events), and the confirmation says they did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.context import Gateway
from gateway.model import HoldReason
from gateway.store.quarantine import Quarantine, QuarantineStore, ReviewRefused

MAX_NOTE = 2000
# the reasons of the reviews the check opens: confirmed only when the check agrees again
CHECKED = frozenset({HoldReason.FLAG_STATE_MISMATCH, HoldReason.DIRECTORY_MISMATCH})
# (scope, key) -> what still differs ([] when nothing): gateway.verify.check.recheck
Recheck = Callable[[str, str], Awaitable[list[str]]]

__all__ = ["Quarantine", "Quarantines", "ReviewRefused"]


class Quarantines:
    def __init__(self, store: QuarantineStore, recheck: Recheck | None = None) -> None:
        self.store = store
        self.recheck = recheck

    @classmethod
    def of(cls, gw: Gateway) -> Quarantines:
        from gateway.verify.check import recheck

        async def again(scope: str, key: str) -> list[str]:
            return await recheck(gw, scope, key)

        return cls(QuarantineStore(gw.redis, gw.keyring), again)

    async def open_reviews(self, reason: HoldReason | None = None) -> list[Quarantine]:
        """Every open review (of one reason), oldest first."""
        return await self.store.list(open_only=True, reason=reason)

    async def every_review(self, reason: HoldReason | None = None) -> list[Quarantine]:
        """Every review ever opened, confirmed ones too, oldest first."""
        return await self.store.list(open_only=False, reason=reason)

    async def confirm(
        self, review_id: str, actor: str, note: str, reason: HoldReason | None = None
    ) -> Quarantine:
        """Confirm one open review (of `reason`, when given). ValueError for a missing note;
        ReviewRefused (unknown, not_open, same_person) when the store refuses."""
        note = note.strip()
        if not note:
            raise ValueError("a confirmation needs a note: what was checked, with whom")
        if len(note) > MAX_NOTE:
            raise ValueError(f"the note is longer than {MAX_NOTE} characters")
        if not review_id.isalnum() or len(review_id) > 64:
            raise ReviewRefused("unknown")
        review = await self.store.get(review_id)
        if review is not None and review.open and review.reason in CHECKED:
            # (no check at hand: refused, never confirmed blind)
            differs = (
                ["not checked"]
                if self.recheck is None
                else await self.recheck(review.scope, review.key)
            )
            if differs:
                raise ReviewRefused("still_differs", ", ".join(differs))
        return await self.store.confirm(review_id, actor, note, reason=reason)
