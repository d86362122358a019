"""The approvers' work on the manual queue: the queue oldest first, one item with what is needed
to judge it, claims, release with the handling notice (取扱注意) or refusal, and the optional
four-eyes release. Releases and refusals go through gateway.queue, the same path as the CLI.

Nothing here ever releases by itself: an item past the age limit is only highlighted.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from gateway.context import Gateway
from gateway.errors import BadCursor
from gateway.model import FlagState, HeldQuery, QueryState
from gateway.queue import QueueRefusal
from gateway.recheck import SubjectNow, needs_flag_confirmation
from gateway.store.claims import Claim, ClaimOutcome, ClaimStore, Proposal
from gateway.store.sessions import Session

# Who may see the person's name (unsealed from the flag record) on an item's screen: the staff
# who answer the query. Nobody sees it in a list, a URL, a title, a log or the JSON API.
NAME_ENTITLED_ROLES = frozenset({"approver"})
MAX_TEXT = 2000
PAGE_SIZE = 100  # the queue's page; every page says the total and links the next


class ApprovalError(Exception):
    """A refused step; `code` is a message key of the console's catalog (err.<code>)."""

    def __init__(self, code: str, status: int, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


_CLAIM_ERRORS = {
    "not_held": 409,
    "taken": 409,
    "not_claimed": 409,
    "not_yours": 409,
    "proposed": 409,
    "none": 409,
    "confirming": 409,
    "same_person": 403,
}


def _from_claim(exc: ClaimOutcome) -> ApprovalError:
    code = "no_proposal" if exc.code == "none" else exc.code
    return ApprovalError(code, _CLAIM_ERRORS.get(exc.code, 409), who=exc.detail)


# The manual queue's refusals (gateway.queue.QueueRefusal) as the console tells them: the code is
# the catalogue's err.<code>; the status is the API's.
_QUEUE_STATUS = {
    "not_held": 409,
    "busy": 409,
    "facts_changed": 409,
    "upstream": 502,  # nothing changed, the item stays held
    "notice_required": 400,
    "reason_required": 400,
}


@contextlib.asynccontextmanager
async def _told() -> AsyncIterator[None]:
    """A claim step or a queue step refused, as the console's one refusal (ApprovalError)."""
    try:
        yield
    except ClaimOutcome as exc:
        raise _from_claim(exc) from None
    except QueueRefusal as exc:
        raise ApprovalError(exc.code, _QUEUE_STATUS[exc.code]) from None


def _age_seconds(iso: str, now_ms: int) -> int:
    try:
        at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return max(0, now_ms // 1000 - int(at.timestamp()))


@dataclass
class QueueItem:
    """A held query as approvers see it, with its subject as it resolves now. No personal data."""

    held: HeldQuery
    requester_name: str
    age_seconds: int
    overdue: bool
    claim: Claim | None
    proposal: Proposal | None
    subject: SubjectNow

    @property
    def changed_since_hold(self) -> bool:
        return self.subject.changed_since_hold(self.held.person_key)

    @property
    def needs_flag_confirmation(self) -> bool:
        """Now a flagged person, and not held for that person's flag: look before releasing."""
        return needs_flag_confirmation(self.held.reason, self.held.person_key, self.subject)

    def as_json(self) -> dict[str, object]:
        out = self.held.as_json()
        out.update(
            requester_name=self.requester_name,
            age_seconds=self.age_seconds,
            overdue=self.overdue,
            claimed_by=self.claim.holder if self.claim else None,
            proposal=(
                {"by": self.proposal.by, "at": self.proposal.at, "notice": self.proposal.notice}
                if self.proposal
                else None
            ),
            subject_now=self.subject.as_json(self.held.person_key, self.held.reason),
        )
        return out


@dataclass
class QueuePage:
    """One page of the queue: `start` items come before it, `total` wait in all."""

    items: list[QueueItem]
    total: int
    start: int
    next: str | None


@dataclass
class ItemDetail(QueueItem):
    """One item on its own screen; the person's name only for entitled staff. The person is the
    one its subject resolves to now, which may be another than when it was held."""

    person_known: bool = False
    person_name: str | None = None
    flags_now: FlagState | None = None
    flag_department: str = ""
    flag_business: str = ""


class Approvals:
    def __init__(self, gw: Gateway, claims: ClaimStore) -> None:
        self.gw = gw
        self.claims = claims
        self.settings = gw.settings

    @property
    def four_eyes(self) -> bool:
        return self.settings.staff_four_eyes_release

    @property
    def claim_ms(self) -> int:
        return self.settings.staff_claim_seconds * 1000

    async def _items(self, held: list[HeldQuery]) -> list[QueueItem]:
        ids = [h.id for h in held]
        claims = await self.claims.holders(ids)
        proposals = await self.claims.proposals(ids)
        subjects = await self.gw.queue.subjects_now(held)
        names: dict[str, str] = {}
        for org in {h.requester_org_code for h in held}:
            req = await self.gw.requesters.get(org)
            names[org] = req.name if req else ""
        ms = self.gw.clock.now_ms()
        limit = self.settings.held_age_warning_seconds
        items = []
        for h, subject in zip(held, subjects, strict=True):
            h.requester_name = names.get(h.requester_org_code, "")
            age = _age_seconds(h.held_at, ms)
            items.append(
                QueueItem(
                    h,
                    h.requester_name,
                    age,
                    h.state is QueryState.HELD and age >= limit,
                    claims.get(h.id),
                    proposals.get(h.id),
                    subject,
                )
            )
        return items

    async def queue(self, after: str = "", limit: int = PAGE_SIZE) -> QueuePage:
        """The queries waiting for staff, oldest first, a page at a time (after the cursor
        `after`, a page's `next`); ApprovalError bad_page for a cursor the queue never gave."""
        try:
            page = await self.gw.queries.held_page(only_waiting=True, after=after, limit=limit)
        except BadCursor:
            raise ApprovalError("bad_page", 400) from None
        return QueuePage(await self._items(page.items), page.total, page.start, page.next)

    async def _held(self, query_id: str) -> HeldQuery:
        held = await self.gw.queries.get(query_id) if query_id.isalnum() else None
        if held is None:
            raise ApprovalError("not_found", 404)
        return held

    async def item(self, query_id: str, viewer: Session, *, show_name: bool) -> ItemDetail:
        """One item, its subject re-resolved through the directory now (a query held as "subject
        unknown" may since be a flagged person); with `show_name`, the person's name for staff
        entitled to it (recorded)."""
        held = await self._held(query_id)
        [base] = await self._items([held])
        detail = ItemDetail(**vars(base))
        subject = detail.subject
        detail.person_known = subject.known
        detail.flags_now = subject.flags
        detail.flag_department = subject.department
        detail.flag_business = subject.business
        if subject.flags is not None and show_name and viewer.role in NAME_ENTITLED_ROLES:
            record = await self.gw.flags.get_by_key(subject.person_key, unseal=True)
            if record is not None and record.name is not None:
                # Seeing a protected person's name is itself recorded, before it is shown.
                await self.gw.events.append(
                    "staff.viewed_name", viewer.actor, query=held.id, subject=subject.person_key
                )
                detail.person_name = record.name
        return detail

    async def _still_as_seen(self, query_id: str, seen: str) -> None:
        """The release carries what its approver was shown; refused if missing or out of date
        (the store checks it again, atomically, when it releases)."""
        held = await self._held(query_id)
        if held.state is not QueryState.HELD:
            raise ApprovalError("not_held", 409)
        if not seen:
            raise ApprovalError("seen_required", 400)
        if (await self.gw.queue.subject_now(held)).seen != seen:
            raise ApprovalError("facts_changed", 409)

    async def claim(self, query_id: str, viewer: Session) -> None:
        await self._held(query_id)
        async with _told():
            await self.claims.claim(query_id, viewer.login, self.claim_ms)

    async def unclaim(self, query_id: str, viewer: Session) -> None:
        await self._held(query_id)
        async with _told():
            await self.claims.unclaim(query_id, viewer.login)

    async def release(self, query_id: str, viewer: Session, notice: str, seen: str) -> str:
        """Release with the notice; with four-eyes on, propose it instead. 'released'|'proposed'.
        `seen`: the token of the subject's facts the approver was shown (ItemDetail.subject)."""
        notice = notice.strip()
        if not notice or len(notice) > MAX_TEXT:
            raise ApprovalError("notice_required", 400)
        await self._still_as_seen(query_id, seen)
        await self.claim(query_id, viewer)
        if self.four_eyes:
            async with _told():
                await self.claims.propose(query_id, viewer.login, notice, seen)
            return "proposed"
        await self._release(query_id, notice, viewer.actor, seen)
        return "released"

    async def _release(self, query_id: str, notice: str, actor: str, seen: str) -> HeldQuery:
        async with _told():
            held = await self.gw.queue.release(query_id, notice, actor, seen)
        await self.claims.done(query_id)
        return held

    async def confirm(self, query_id: str, viewer: Session, seen: str) -> HeldQuery:
        """Four-eyes: a second approver releases what the first proposed, with that notice, if
        both were shown the subject as it is now (else the proposer must look and propose again)."""
        await self._still_as_seen(query_id, seen)
        try:
            proposal = await self.claims.take_for_confirmation(
                query_id, viewer.login, self.claim_ms
            )
        except ClaimOutcome as exc:
            if exc.code == "same_person":
                await self.gw.events.security("self_approval", viewer.actor, query=query_id)
            raise _from_claim(exc) from None
        if proposal.seen != seen:
            # Proposed on other facts than are shown now: the proposer must look again, so the
            # confirmer lets go of the item (its claim) for the proposer to withdraw and propose.
            await self.claims.confirmation_failed(query_id, viewer.login)
            with contextlib.suppress(ClaimOutcome):
                await self.claims.unclaim(query_id, viewer.login)
            raise ApprovalError("proposal_stale", 409)
        try:
            held = await self._release(query_id, proposal.notice, viewer.actor, seen)
        except ApprovalError:
            await self.claims.confirmation_failed(query_id, viewer.login)
            raise
        await self.gw.events.append(
            "staff.release_confirmed",
            viewer.actor,
            query=query_id,
            proposed_by=f"staff:{proposal.by}",
        )
        return held

    async def withdraw(self, query_id: str, viewer: Session) -> None:
        await self._held(query_id)
        async with _told():
            await self.claims.withdraw(query_id, viewer.login)

    async def refuse(self, query_id: str, viewer: Session, reason: str) -> HeldQuery:
        reason = reason.strip()
        if not reason or len(reason) > MAX_TEXT:
            raise ApprovalError("reason_required", 400)
        await self.claim(query_id, viewer)
        async with _told():
            held = await self.gw.queue.refuse(query_id, reason, viewer.actor)
        await self.claims.done(query_id)
        return held
