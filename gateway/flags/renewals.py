"""The renewal list (`due`): support measures of each department's holds that end within a
window, and the overdue ones, so that a department renews them before they lapse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gateway import annex
from gateway.context import Gateway
from gateway.flags.rules import RENEWAL_WINDOW_DAYS, FlagRuleError


# -- renewal --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DueItem:
    """A department's hold whose support measure ends within the window, or has ended (overdue):
    ask the person about renewal. The flag stays on either way. For entitled staff only
    (unsealed)."""

    atena_number: str | None
    name: str | None
    department: str
    business: str
    basis: str
    until: str
    days_left: int  # negative once overdue
    overdue: bool
    auto_response_disabled: bool
    non_disclosure: bool

    def as_json(self) -> dict[str, object]:
        return {
            "atena_number": self.atena_number,
            "name": self.name,
            "department": self.department,
            "business": self.business,
            "basis": self.basis,
            "until": self.until,
            "days_left": self.days_left,
            "overdue": self.overdue,
            "auto_response_disabled": self.auto_response_disabled,
            "non_disclosure": self.non_disclosure,
        }


async def due(
    gw: Gateway,
    *,
    within_days: int = RENEWAL_WINDOW_DAYS,
    today: date | None = None,
    department: str | None = None,
) -> list[DueItem]:
    """Holds in force whose `until` is at most `within_days` away (overdue ones included),
    soonest first: one item per department's hold, each with that hold's own name, business,
    basis, end and flags; with `department`, only that department's holds."""
    if within_days < 0:
        raise FlagRuleError("window", "the window is a number of days, 0 or more")
    today = today or gw.clock.today()
    wanted = annex.fold(department) if department else None
    items = []
    for r in await gw.flags.all_records(unseal=True, history=False):
        for h in r.current:
            if not h.until or (wanted is not None and annex.fold(h.department) != wanted):
                continue
            days_left = (date.fromisoformat(h.until) - today).days
            if days_left > within_days:
                continue
            items.append(
                DueItem(
                    atena_number=r.atena_number,
                    name=h.name,
                    department=h.department,
                    business=h.business,
                    basis=h.basis,
                    until=h.until,
                    days_left=days_left,
                    overdue=days_left < 0,
                    auto_response_disabled=h.state.auto_response_disabled,
                    non_disclosure=h.state.non_disclosure,
                )
            )
    return sorted(items, key=lambda i: (i.until, i.atena_number or "", i.department))


async def read_due(
    gw: Gateway,
    *,
    actor: str,
    within_days: int = RENEWAL_WINDOW_DAYS,
    department: str | None = None,
    **who: str,
) -> list[DueItem]:
    """The renewal list as shown to someone (the command line, the departments' API, the console):
    it holds names and atena numbers, so it is recorded (`flag.due_read`: who, for which
    department, how many; `who` adds the business and operator of an API caller) before it is
    returned. If the record cannot be written, nothing is shown."""
    items = await due(gw, within_days=within_days, department=department)
    await gw.events.append(
        "flag.due_read",
        actor,
        department=department or "",
        **who,
        within=str(within_days),
        count=str(len(items)),
    )
    return items
