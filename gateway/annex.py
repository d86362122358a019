"""The council's approval as data: annex 1 (保有課: who may set flags, for which registered business)
and annex 2 (利用課: who may read them), transcribed from the ward's submission (別紙1, 別紙2).

The annexes ship in the package (`gateway/data/annex1.csv`, `annex2.csv`) so that what the council
approved and what the gateway enforces are the same file. Names are matched after NFKC and
whitespace folding (so a full-width space or half-width parenthesis typed by staff still matches),
and always recorded in the annex's own spelling.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources


class AnnexError(ValueError):
    """A department or business the annexes do not approve for what was asked. `reason` says
    which (`department`, `business_required`, `business_unknown`) for those who show their own
    text for it (the console); the message says it plainly, with what is registered."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Registration:
    """One row of an annex: a department and one of its registered businesses (登録業務)."""

    department: str
    business: str
    purpose: str
    media: str = ""

    def as_json(self) -> dict[str, str]:
        out = {"department": self.department, "business": self.business, "purpose": self.purpose}
        if self.media:
            out["media"] = self.media
        return out


def fold(text: str) -> str:
    """The form names are compared in: NFKC, whitespace runs as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


class Annex:
    """One annex: its registrations, looked up by (department, business)."""

    def __init__(self, title: str, rows: list[Registration]) -> None:
        self.title = title
        self.rows = rows
        self._by_department: dict[str, list[Registration]] = {}
        for r in rows:
            self._by_department.setdefault(fold(r.department), []).append(r)

    def departments(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.setdefault(r.department, None)
        return list(seen)

    def businesses(self, department: str) -> list[Registration]:
        return list(self._by_department.get(fold(department), []))

    def has_department(self, department: str) -> bool:
        return fold(department) in self._by_department

    def find(self, department: str, business: str | None) -> Registration:
        """The registration meant by (department, business); the business may be left out only
        where the department has exactly one. Raises AnnexError with what is registered."""
        rows = self.businesses(department)
        if not rows:
            raise AnnexError("department", f"{department!r} is not a department of {self.title}")
        if not business or not business.strip():
            if len(rows) == 1:
                return rows[0]
            names = " / ".join(r.business for r in rows)
            raise AnnexError(
                "business_required",
                f"{rows[0].department} has {len(rows)} businesses in {self.title}; "
                f"name one with --business: {names}",
            )
        wanted = fold(business)
        for r in rows:
            if fold(r.business) == wanted:
                return r
        names = " / ".join(r.business for r in rows)
        raise AnnexError(
            "business_unknown",
            f"{business!r} is not a registered business of {rows[0].department} in {self.title} "
            f"(registered: {names})",
        )

    def allows(self, department: str, business: str) -> bool:
        try:
            self.find(department, business)
        except AnnexError:
            return False
        return True


def _read(name: str, title: str) -> Annex:
    text = (resources.files("gateway") / "data" / name).read_text(encoding="utf-8")
    rows = [
        Registration(
            department=row["department"],
            business=row["business"],
            purpose=row["purpose"],
            media=row.get("media", "") or "",
        )
        for row in csv.DictReader(io.StringIO(text, newline=""))
    ]
    return Annex(title, rows)


@cache
def holding() -> Annex:
    """Annex 1 (別紙1): the holding departments (保有課) and their registered businesses."""
    return _read("annex1.csv", "annex 1 (保有課)")


@cache
def using() -> Annex:
    """Annex 2 (別紙2): the using departments (利用課) and their registered businesses."""
    return _read("annex2.csv", "annex 2 (利用課)")
