"""What a registrar sees of their own department's attempts (試行), for the console's pages and
its JSON API alike: the list (newest first, paged, with the total), the count of those not yet
acknowledged (the header), one attempt with what was stopped and what has become of it, and the
acknowledgement ("the person was told" / "known, expected", with an optional sealed note).

A registrar sees their department's attempts only: another department's is refused exactly like
one that does not exist (and the try is a security event), and nothing of it shows in a list or a
count. The person's name shows only on the attempt's own screen, unsealed from the department's
own hold, and showing it is recorded first (as approvers see names). No name in a list, the API,
a URL, a title or a mail.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import annex
from gateway.context import Gateway
from gateway.errors import BadCursor
from gateway.model import MAX_PAGE
from gateway.store.attempts import ACK_OUTCOMES, AckRefused, AttemptRecord, AttemptStore
from gateway.store.quarantine import QuarantineStore
from gateway.store.sessions import Session

PAGE_SIZE = 50
MAX_NOTE = 2000


class AttemptRefused(Exception):
    """A registrar's request refused; `code` is a catalog key without `err.`."""

    def __init__(self, code: str, status: int, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


@dataclass
class AttemptView:
    """One attempt as its department's registrars see it: the stop, the requester (organisation
    code and registered name), the query's affair, procedure and item, or the portal operation,
    and what has become of it now."""

    record: AttemptRecord
    requester_name: str = ""
    processing_number: str = ""
    affair: str = ""
    procedure: str = ""
    item: str = ""
    now: str = ""  # held | released | refused | provided | blocked | filtered | withheld | ...
    note: str | None = None  # the acknowledgement's note, unsealed for the department
    person_name: str | None = None  # only on the attempt's own screen

    def as_json(self) -> dict[str, object]:
        """For the API: never the person's name."""
        r = self.record
        return {
            "id": r.id,
            "department": r.department,
            "kind": r.kind,
            "at": r.at,
            "state": r.state,
            "stopped": r.stopped,
            "now": self.now,
            "reason": r.reason or None,
            "requester_org_code": r.org or None,
            "requester_name": self.requester_name or None,
            "processing_number": self.processing_number or None,
            "affair_code": self.affair or None,
            "procedure_code": self.procedure or None,
            "item_code": self.item or None,
            "operation": r.operation or None,
            "reader": r.reader or None,
            "acknowledgement": (
                None
                if r.open
                else {"outcome": r.ack_outcome, "by": r.ack_by, "at": r.ack_at, "note": self.note}
            ),
        }


@dataclass
class AttemptsPage:
    items: list[AttemptView]
    total: int
    start: int
    next: str | None
    open: int  # the department's attempts not acknowledged yet


def _ours(record: AttemptRecord, viewer: Session) -> bool:
    return annex.fold(record.department) == annex.fold(viewer.department)


class RegistrarAttempts:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.store: AttemptStore = gw.notices.store
        self.reviews = QuarantineStore(gw.redis, gw.keyring)

    def _department(self, viewer: Session) -> str:
        """The department as its holds are kept: the annex's spelling."""
        rows = annex.holding().businesses(viewer.department)
        return rows[0].department if rows else viewer.department

    async def open_count(self, viewer: Session) -> int:
        """The header's count: the department's attempts not acknowledged yet, after folding
        whatever the inbox holds (the count is never behind the store)."""
        await self.gw.notices.catch_up()
        return await self.store.open_count(self._department(viewer))

    async def _views(self, records: list[AttemptRecord]) -> list[AttemptView]:
        names = {}
        for org in {r.org for r in records if r.org}:
            req = await self.gw.requesters.get(org)
            names[org] = req.name if req else ""
        views = []
        for r in records:
            view = AttemptView(r, requester_name=names.get(r.org, ""), now=r.stopped)
            if r.query:
                held = await self.gw.queries.get(r.query)
                if held is not None:
                    view.processing_number = held.processing_number
                    view.affair = held.affair_code
                    view.procedure = held.procedure_code
                    view.item = held.item_code
                    view.now = held.state.value
            elif r.review:
                review = await self.reviews.get(r.review)
                if review is not None:
                    view.now = "review_" + review.state  # review_open | review_confirmed
            if not r.open and r.ack_note:
                view.note = self.store.unseal_note(r)
            views.append(view)
        return views

    async def page(
        self, viewer: Session, *, open_only: bool = False, after: str = "", limit: int = PAGE_SIZE
    ) -> AttemptsPage:
        if not 1 <= limit <= MAX_PAGE:
            raise AttemptRefused("bad_page", 400)
        await self.gw.notices.catch_up()
        department = self._department(viewer)
        try:
            found = await self.store.page(department, open_only=open_only, after=after, limit=limit)
        except BadCursor:
            raise AttemptRefused("bad_page", 400) from None
        return AttemptsPage(
            await self._views(found.items),
            found.total,
            found.start,
            found.next,
            await self.store.open_count(department),
        )

    async def _record(self, viewer: Session, attempt_id: str) -> AttemptRecord:
        record = await self.store.get(attempt_id)
        if record is not None and not _ours(record, viewer):
            # another department's attempt: as if there were none, and the try is recorded
            await self.gw.events.security(
                "department_mismatch",
                viewer.actor,
                attempt=attempt_id,
                department=viewer.department,
            )
            record = None
        if record is None:
            raise AttemptRefused("attempt_unknown", 404)
        return record

    async def one(self, viewer: Session, attempt_id: str, *, show_name: bool) -> AttemptView:
        """One attempt of the department; with `show_name` (its own screen), the person's name as
        the department registered it, recorded before it is shown."""
        record = await self._record(viewer, attempt_id)
        [view] = await self._views([record])
        if show_name and record.person:
            hold = await self.gw.flags.hold_by_key(record.person, record.department, unseal=True)
            if hold is not None and hold.name:
                await self.gw.events.append(
                    "staff.viewed_name", viewer.actor, attempt=record.id, subject=record.person
                )
                view.person_name = hold.name
        return view

    async def acknowledge(
        self, viewer: Session, attempt_id: str, outcome: str, note: str
    ) -> AttemptView:
        note = note.strip()
        if outcome not in ACK_OUTCOMES:
            raise AttemptRefused("ack_outcome", 400)
        if len(note) > MAX_NOTE:
            raise AttemptRefused("note_too_long", 400, max=str(MAX_NOTE))
        record = await self._record(viewer, attempt_id)
        try:
            await self.store.acknowledge(record.id, record.department, outcome, note, viewer.actor)
        except AckRefused as exc:
            if exc.code == "already":
                raise AttemptRefused("attempt_acknowledged", 409, who=exc.by) from None
            raise AttemptRefused("attempt_unknown", 404) from None
        return await self.one(viewer, attempt_id, show_name=False)
