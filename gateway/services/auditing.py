"""The auditors' view of the event log: blocked attempts and security events, filtered by kind,
time and requester, each markable as reviewed with a comment, and a CSV export.

Events are read only through gateway.store.events.EventLog (the audit trail's owner); reviews
live beside them (gateway.store.reviews) and are events themselves.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from gateway.audit.archive import id_key
from gateway.context import Gateway
from gateway.flags import FlagRuleError, parse_date
from gateway.store.events import Event
from gateway.store.reviews import Review, ReviewStore
from gateway.store.sessions import Session

JST = timezone(timedelta(hours=9), "JST")
EVENT_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
ORG_CODE = re.compile(r"^[0-9]{16}$")
KIND = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")
# Blocked attempts that are not security events by name: held and refused queries, stored
# answers withheld when asked for again, releases stopped because the facts shown changed; and
# what holds a subject or person for review (a directory remap, a refused import) and its end.
BLOCKED_KINDS = frozenset(
    {
        "query.held",
        "query.refused",
        "query.answer_withheld",
        "query.release_stale",
        "directory.remapped",
        "directory.import_refused",
        "directory.remap_refused",
        "quarantine.opened",
        "quarantine.confirmed",
    }
)
DEFAULT_DAYS = 30
PAGE_LIMIT = 500  # a page; every page says the total and links the next (older) one
SCAN_WINDOW_MS = 6 * 3600 * 1000
SCAN_BATCH = 5000
EXPORT_CHUNK = 1000  # rows per piece of the streamed CSV export, which has every matching event
MAX_COMMENT = 2000


def is_blocked_or_security(kind: str) -> bool:
    return kind.startswith("security.") or kind in BLOCKED_KINDS


class FilterError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class EventFilter:
    """What the auditor asked for; days are Japan's calendar days (JST), both ends included."""

    since: date
    until: date | None = None
    kind: str = ""
    requester: str = ""
    status: str = "all"  # all | open | reviewed
    scope: str = "blocked"  # blocked (blocked attempts and security events) | all

    @classmethod
    def parse(cls, q: Mapping[str, str], today: date) -> EventFilter:
        """The filter a query string asks for; `today` (the gateway's clock) ends the default range."""

        def day(name: str) -> date | None:
            raw = q.get(name, "").strip()
            if not raw:
                return None
            try:
                return parse_date(
                    raw, name
                )  # the one parser: 2026-12-03, 2026/12/03, 令和8年12月3日
            except FlagRuleError:
                raise FilterError("err.filter_date") from None

        kind = q.get("kind", "").strip()
        requester = q.get("requester", "").strip()
        status = q.get("status", "all") or "all"
        scope = q.get("scope", "blocked") or "blocked"
        if kind and not KIND.match(kind):
            raise FilterError("err.filter_kind")
        if requester and not ORG_CODE.match(requester):
            raise FilterError("err.filter_requester")
        if status not in ("all", "open", "reviewed") or scope not in ("blocked", "all"):
            raise FilterError("err.filter")
        since = day("since") or today - timedelta(days=DEFAULT_DAYS)
        return cls(since, day("until"), kind, requester, status, scope)

    def as_query(self) -> dict[str, str]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else "",
            "kind": self.kind,
            "requester": self.requester,
            "status": self.status,
            "scope": self.scope,
        }

    def matches(self, ev: Event) -> bool:
        if self.scope == "blocked" and not is_blocked_or_security(ev.kind):
            return False
        if self.kind and ev.kind != self.kind:
            return False
        return not (self.requester and ev.fields.get("org") != self.requester)


def _ms(d: date) -> int:
    return int(datetime.combine(d, time.min, JST).timestamp() * 1000)


@dataclass
class EventRow:
    event: Event
    requester_name: str = ""
    reviews: list[Review] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            **self.event.as_json(),
            "requester_name": self.requester_name or None,
            "reviews": [{"by": r.by, "at": r.at, "comment": r.comment} for r in self.reviews],
        }


@dataclass
class Found:
    """One page of the events that match, newest first: `start` newer ones come before it,
    `total` match in all; `next` is the cursor (an event id) of the following, older page."""

    rows: list[EventRow]  # newest first
    total: int
    start: int = 0
    next: str | None = None

    @property
    def truncated(self) -> bool:
        """More events match than this page holds (after it)."""
        return self.next is not None


class Auditing:
    def __init__(self, gw: Gateway, reviews: ReviewStore) -> None:
        self.gw = gw
        self.reviews = reviews

    async def newest_first(self, start_ms: int, end_ms: int) -> AsyncIterator[Event]:
        """The events of [start_ms, end_ms), newest first, read through EventLog window by
        window (the log is read oldest first), so that a page of recent events does not read a
        month of automatic answers. A window that held few events doubles for the next one, so
        that a quiet log or a long period costs few reads."""
        hi = end_ms
        window = SCAN_WINDOW_MS
        while hi > start_ms:
            lo = max(start_ms, hi - window)
            chunk: list[Event] = []
            cursor = str(lo)
            while True:
                rows = await self.gw.events.read(cursor, str(hi - 1), count=SCAN_BATCH)
                chunk += rows
                if len(rows) < SCAN_BATCH:
                    break
                cursor = f"({rows[-1].id}"
            for ev in reversed(chunk):
                yield ev
            hi = lo
            if len(chunk) < SCAN_BATCH:
                window *= 2
            elif window > SCAN_WINDOW_MS:
                window //= 2

    async def matching(self, flt: EventFilter) -> AsyncIterator[Event]:
        """Every event the filter matches, newest first."""
        now_ms = self.gw.clock.now_ms()
        end_ms = _ms(flt.until + timedelta(days=1)) if flt.until else now_ms + 1
        reviewed = await self.reviews.reviewed_ids() if flt.status != "all" else set()
        async for ev in self.newest_first(_ms(flt.since), end_ms):
            if not flt.matches(ev):
                continue
            if flt.status == "open" and ev.id in reviewed:
                continue
            if flt.status == "reviewed" and ev.id not in reviewed:
                continue
            yield ev

    async def find(self, flt: EventFilter, limit: int = PAGE_LIMIT, before: str = "") -> Found:
        """A page of the events that match, newest first: the newest `limit` older than the
        event `before` (a page's `next`; '' for the first page), with the total that match.

        The total is counted over the whole period, so a page reads it all: narrowing the period
        makes it faster, never shorter."""
        if before and not EVENT_ID.match(before):
            raise FilterError("err.bad_page")
        cursor = id_key(before) if before else None
        events: list[Event] = []
        total = start = 0
        nxt: str | None = None
        async for ev in self.matching(flt):
            total += 1
            if cursor is not None and id_key(ev.id) >= cursor:
                start += 1
            elif len(events) < limit:
                events.append(ev)
            elif nxt is None:
                nxt = events[-1].id
        return Found(await self._rows(events, {}), total, start, nxt)

    async def _rows(self, events: list[Event], names: dict[str, str]) -> list[EventRow]:
        """The events with their reviews and requester names (`names`: looked up ones, by org)."""
        reviews = await self.reviews.of([e.id for e in events])
        rows = []
        for ev in events:
            org = ev.fields.get("org", "")
            if org and org not in names:
                req = await self.gw.requesters.get(org)
                names[org] = req.name if req else ""
            rows.append(EventRow(ev, names.get(org, ""), reviews.get(ev.id, [])))
        return rows

    async def review(self, event_id: str, viewer: Session, comment: str) -> int:
        comment = comment.strip()
        if not comment or len(comment) > MAX_COMMENT:
            raise FilterError("err.comment_required")
        if not EVENT_ID.match(event_id):
            raise FilterError("err.no_event")
        found = await self.gw.events.read(event_id, event_id, count=1)
        if not found:
            raise FilterError("err.no_event")
        return await self.reviews.add(event_id, found[0].kind, viewer.actor, comment)

    async def export_csv(self, flt: EventFilter, viewer: Session) -> AsyncIterator[str]:
        """Every event the filter matches as CSV (UTF-8 with BOM, for spreadsheet software), a
        piece at a time, however many; the export is recorded with the rows it held (and whether
        it was read to the end)."""
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\r\n")
        out.writerow(CSV_COLUMNS)
        yield "\ufeff" + buf.getvalue()
        rows = 0
        complete = False
        names: dict[str, str] = {}
        try:
            chunk: list[Event] = []
            async for ev in self.matching(flt):
                chunk.append(ev)
                if len(chunk) == EXPORT_CHUNK:
                    yield self._csv(await self._rows(chunk, names))
                    rows += len(chunk)
                    chunk = []
            if chunk:
                yield self._csv(await self._rows(chunk, names))
                rows += len(chunk)
            complete = True
        finally:
            await self.gw.events.append(
                "audit.exported",
                viewer.actor,
                rows=str(rows),
                complete="1" if complete else "0",
                **{f"filter_{k}": v for k, v in flt.as_query().items() if v},
            )

    @staticmethod
    def _csv(rows: list[EventRow]) -> str:
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\r\n")
        for row in rows:
            out.writerow([_cell(v) for v in csv_row(row)])
        return buf.getvalue()


CSV_COLUMNS = [
    "event_id",
    "at",
    "kind",
    "actor",
    "requester_org_code",
    "requester_name",
    "query",
    "processing_number",
    "item_code",
    "reason",
    "error_code",
    "subject_key",
    "details",
    "reviewed",
    "reviewed_at",
    "reviewed_by",
    "review_comment",
]
_SHOWN_APART = {"org", "query", "pn", "item", "reason", "error_code", "subject"}


def csv_row(row: EventRow) -> list[str]:
    ev = row.event
    last = row.reviews[-1] if row.reviews else None
    details = "; ".join(f"{k}={v}" for k, v in sorted(ev.fields.items()) if k not in _SHOWN_APART)
    return [
        ev.id,
        ev.at,
        ev.kind,
        ev.actor,
        ev.fields.get("org", ""),
        row.requester_name,
        ev.fields.get("query", ""),
        ev.fields.get("pn", ""),
        ev.fields.get("item", ""),
        ev.fields.get("reason", ""),
        ev.fields.get("error_code", ""),
        ev.fields.get("subject", ""),
        details,
        "yes" if last else "no",
        last.at if last else "",
        last.by if last else "",
        last.comment if last else "",
    ]


def _cell(value: str) -> str:
    """Spreadsheets run cells starting with these as formulas (CSV injection): quote them."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
