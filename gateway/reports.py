"""The yearly usage report for the privacy council (情報公開・個人情報保護審議会): counts only.

Read from the event log: flags set and released (by basis and department), reads of the flag
state by department and business (and the refused ones), held, released and refused queries, and
blocked portal views. No person key, name or number is in the report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

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
        }

    def text(self) -> str:
        j = self.as_json()
        kind = "年度 fiscal year" if self.fiscal else "年 calendar year"
        lines = [f"usage {self.start} – {self.end} ({kind}, JST); counts only"]
        for title, key in (
            ("flags set 設定", "flags_set"),
            ("flags released 解除", "flags_released"),
        ):
            part = j[key]
            assert isinstance(part, dict)
            lines.append(f"{title}: {part['total']}  by basis {part['by_basis']}")
            if key == "flags_released":
                lines.append(
                    f"  two-person {part['two_person']}, operator's admin path {part['admin_path']}"
                )
            for row in part["by_department_and_basis"]:
                lines.append(f"  {row['department']}  {row['basis']}: {row['count']}")
        reads = j["reads"]
        assert isinstance(reads, dict)
        lines.append(
            f"flag reads 照会: {reads['total']}  refused {reads['refused']}  "
            f"renewal lists {reads['renewal_lists']}"
        )
        for row in reads["by_department_and_business"]:
            lines.append(f"  {row['department']}  {row['business']}: {row['count']}")
        lines.append(f"queries: {j['queries']}")
        lines.append(f"portal views: {j['portal']}")
        return "\n".join(lines)


def period(year: int, fiscal: bool) -> tuple[date, date]:
    """Calendar year, or the Japanese fiscal year (年度: April to March) that begins in `year`."""
    if fiscal:
        return date(year, 4, 1), date(year + 1, 3, 31)
    return date(year, 1, 1), date(year, 12, 31)


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=JST).timestamp() * 1000)


async def usage(gw: Gateway, year: int, *, fiscal: bool = False) -> UsageReport:
    if not 2000 <= year <= 2999:
        raise ValueError("--year must be a year such as 2026")
    start, end = period(year, fiscal)
    start_ms = _ms(start)
    end_ms = _ms(date.fromordinal(end.toordinal() + 1))
    report = UsageReport(start, end, fiscal)
    async for ev in gw.events.iterate(start=f"{start_ms}-0"):
        # An event's own time counts; its stream id (given when it was stored, a moment after)
        # only narrows the scan, with a minute's margin at the end.
        if int(ev.id.split("-")[0]) >= end_ms + 60_000:
            break
        at = datetime.fromisoformat(ev.at.replace("Z", "+00:00")).astimezone(UTC) if ev.at else None
        if at is None or not start_ms <= at.timestamp() * 1000 < end_ms:
            continue
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
        elif ev.kind == "security.portal_blocked":
            report.portal["blocked"] += 1
        elif ev.kind == "security.portal_filtered":
            report.portal["filtered"] += 1
    return report
