"""Who may read a person's flag state, per the council's approval, and the tokens that say who asks.

The council approved sharing exactly three items (name, 団体内統合宛名番号, the fact of being a DV
victim) with the using departments of annex 2, for their registered businesses; the holding
department that set a flag holds that knowledge already. So:

- a using department of annex 2, with one of its registered businesses, may read anyone's state;
- a holding department of annex 1 that is not a using one for that business may read only the
  persons it holds a flag on now, and is answered from its own hold alone (its own registration
  of the name), so that it learns nothing of another department's; and may list its own renewals;
- anyone else is refused, and that is a security event (also after an annex was amended and a
  department's old token no longer fits it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway import annex
from gateway.context import Gateway
from gateway.store.departments import DepartmentToken, DepartmentTokenStore


class Reach(StrEnum):
    """What a department/business may read of flags."""

    ANYONE = "anyone"  # 利用課 (annex 2)
    OWN = "own"  # 保有課 (annex 1) only: the persons it holds a flag on now
    NONE = "none"  # outside the annexes


def reach(department: str, business: str) -> Reach:
    if annex.using().allows(department, business):
        return Reach.ANYONE
    if annex.holding().allows(department, business):
        return Reach.OWN
    return Reach.NONE


def may_list_renewals(department: str, business: str) -> bool:
    return annex.holding().allows(department, business)


def tokens(gw: Gateway) -> DepartmentTokenStore:
    return DepartmentTokenStore(gw.redis)


async def issue_token(
    gw: Gateway, *, department: str, business: str | None, label: str, actor: str
) -> tuple[str, DepartmentToken]:
    """A token for a department's business system: only for a department and business of annex 1
    or annex 2 (the business may be left out where the department has only one there)."""
    if len(label) > 100 or any(ord(ch) < 32 for ch in label):
        raise ValueError("the label must be one line of at most 100 characters")
    registration = _registration(department, business)
    return await tokens(gw).issue(
        registration.department, registration.business, label.strip(), actor
    )


def _registration(department: str, business: str | None) -> annex.Registration:
    """The registration of either annex meant by (department, business)."""
    found: dict[str, annex.Registration] = {}
    for a in (annex.using(), annex.holding()):
        for r in a.businesses(department):
            found.setdefault(annex.fold(r.business), r)
    if not found:
        raise annex.AnnexError(
            "department",
            f"{department!r} is neither a using department (annex 2) nor a holding one (annex 1)",
        )
    names = " / ".join(r.business for r in found.values())
    if not business or not business.strip():
        if len(found) == 1:
            return next(iter(found.values()))
        raise annex.AnnexError(
            "business_required",
            f"{department} has {len(found)} registered businesses; name one with --business: "
            f"{names}",
        )
    registration = found.get(annex.fold(business))
    if registration is None:
        raise annex.AnnexError(
            "business_unknown",
            f"{business!r} is not a registered business of {department} in annex 1 or 2 "
            f"(registered: {names})",
        )
    return registration


@dataclass(frozen=True, slots=True)
class DepartmentRow:
    department: str
    business: str
    holding: bool
    using: bool

    def as_json(self) -> dict[str, object]:
        return {
            "department": self.department,
            "business": self.business,
            "holding": self.holding,
            "using": self.using,
        }


def registrations() -> list[DepartmentRow]:
    """Every (department, business) of either annex and what it may do, in annex order."""
    rows: dict[tuple[str, str], DepartmentRow] = {}
    for a, is_holding in ((annex.holding(), True), (annex.using(), False)):
        for r in a.rows:
            key = (annex.fold(r.department), annex.fold(r.business))
            old = rows.get(key)
            rows[key] = DepartmentRow(
                r.department,
                r.business,
                holding=is_holding or (old.holding if old else False),
                using=(not is_holding) or (old.using if old else False),
            )
    return list(rows.values())
