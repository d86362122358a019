"""The yearly usage report for the privacy council (情報公開・個人情報保護審議会): counts only.

Read from the event log: flags set and released (by basis and department), reads of the flag
state by department and business (and the refused ones), held, released and refused queries,
blocked portal views, and attempts (gateway.attempts) per month. No person key, name or number is
in the report. The fiscal year 年度 (April to March) is the council's default; the document for
print and the CSV are made by gateway.report_document.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from gateway.attempts import AttemptKind, Attempts, event_time, portal_outcome
from gateway.context import Gateway
from gateway.flags import JST


@dataclass
class UsageReport:
    start: date  # first day, JST
    end: date  # last day, JST
    fiscal: bool
    flags_set: Counter[tuple[str, str]] = field(default_factory=Counter)  # (department, basis)
    flags_released: Counter[tuple[str, str]] = field(default_factory=Counter)
    releases_two_person: int = 0
    releases_admin_path: int = 0
    reads: Counter[tuple[str, str]] = field(default_factory=Counter)  # (department, business)
    reads_refused: int = 0
    renewal_lists: int = 0
    queries: Counter[str] = field(default_factory=Counter)
    portal: Counter[str] = field(default_factory=Counter)
    attempts: Counter[tuple[str, AttemptKind]] = field(default_factory=Counter)  # (YYYY-MM, kind)

    def months(self) -> list[str]:
        """The period's months, YYYY-MM, in order (April first for a fiscal year)."""
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    def attempts_by_month(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for month in self.months():
            row: dict[str, object] = {"month": month}
            row.update({k.value: self.attempts[(month, k)] for k in AttemptKind})
            row["total"] = sum(self.attempts[(month, k)] for k in AttemptKind)
            rows.append(row)
        return rows

    @staticmethod
    def _by(counter: Counter[tuple[str, str]], second: str) -> list[dict[str, object]]:
        return [{"department": d, second: s, "count": n} for (d, s), n in sorted(counter.items())]

    @staticmethod
    def _sum(counter: Counter[tuple[str, str]], index: int) -> dict[str, int]:
        out: Counter[str] = Counter()
        for key, n in counter.items():
            out[key[index]] += n
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, object]:
        return {
            "period": {
                "from": self.start.isoformat(),
                "to": self.end.isoformat(),
                "fiscal_year": self.fiscal,
                "timezone": "Asia/Tokyo",
            },
            "flags_set": {
                "total": sum(self.flags_set.values()),
                "by_basis": self._sum(self.flags_set, 1),
                "by_department": self._sum(self.flags_set, 0),
                "by_department_and_basis": self._by(self.flags_set, "basis"),
            },
            "flags_released": {
                "total": sum(self.flags_released.values()),
                "two_person": self.releases_two_person,
                "admin_path": self.releases_admin_path,
                "by_basis": self._sum(self.flags_released, 1),
                "by_department": self._sum(self.flags_released, 0),
                "by_department_and_basis": self._by(self.flags_released, "basis"),
            },
            "reads": {
                "total": sum(self.reads.values()),
                "refused": self.reads_refused,
                "renewal_lists": self.renewal_lists,
                "by_department": self._sum(self.reads, 0),
                "by_department_and_business": self._by(self.reads, "business"),
            },
            "queries": {k: self.queries[k] for k in ("provided", "held", "released", "refused")},
            "portal": {k: self.portal[k] for k in ("blocked", "filtered")},
            "attempts": {
                "total": sum(self.attempts.values()),
                "by_kind": {k.value: self._kind_total(k) for k in AttemptKind},
                "by_month": self.attempts_by_month(),
            },
        }

    def _kind_total(self, kind: AttemptKind) -> int:
        return sum(n for (_, k), n in self.attempts.items() if k == kind)


def period(year: int, fiscal: bool) -> tuple[date, date]:
    """Calendar year, or the Japanese fiscal year (年度: April to March) that begins in `year`."""
    if fiscal:
        return date(year, 4, 1), date(year + 1, 3, 31)
    return date(year, 1, 1), date(year, 12, 31)


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=JST).timestamp() * 1000)


async def usage(gw: Gateway, year: int, *, fiscal: bool = True) -> UsageReport:
    if not 2000 <= year <= 2999:
        raise ValueError("--year must be a year such as 2026")
    start, end = period(year, fiscal)
    start_ms = _ms(start)
    end_ms = _ms(date.fromordinal(end.toordinal() + 1))
    report = UsageReport(start, end, fiscal)
    attempts = Attempts()
    async for ev in gw.events.iterate(start=f"{start_ms}-0"):
        # An event's own time counts; its stream id (given when it was stored, a moment after)
        # only narrows the scan, with a minute's margin at the end.
        if int(ev.id.split("-")[0]) >= end_ms + 60_000:
            break
        attempt = attempts.of(ev)  # every event, in order: the portal rule needs it
        at = event_time(ev)
        if at is None or not start_ms <= at.timestamp() * 1000 < end_ms:
            continue
        if attempt is not None:
            report.attempts[(at.astimezone(JST).strftime("%Y-%m"), attempt.kind)] += 1
            if attempt.kind is AttemptKind.PORTAL_BLOCKED:
                report.portal[portal_outcome(ev)] += 1
        f = ev.fields
        if ev.kind == "flag.set":
            report.flags_set[(f.get("department", ""), f.get("basis", ""))] += 1
        elif ev.kind == "flag.release":
            report.flags_released[(f.get("department", ""), f.get("basis", ""))] += 1
            if f.get("request"):
                report.releases_two_person += 1
            else:
                report.releases_admin_path += 1
        elif ev.kind == "flag.read":
            report.reads[(f.get("department", ""), f.get("business", ""))] += 1
        elif ev.kind == "security.flag_read_refused":
            report.reads_refused += 1
        elif ev.kind == "flag.due_read":
            report.renewal_lists += 1
        elif ev.kind.startswith("query."):
            report.queries[ev.kind.removeprefix("query.")] += 1
    return report
