"""Releasing flags at once: the operator's command line on the server, the one immediate, audited
admin path; one department's hold only, on the person's application (申出), naming the department
where several hold flags. Releasing leaves held queries held."""

from __future__ import annotations

from typing import Any

from gateway.context import Gateway
from gateway.flags.rules import (
    FlagRuleError,
    _check_release,
    _holding_department,
    _which,
    check_atena_number,
    order_from,
)
from gateway.orders import ReleaseOrder
from gateway.store.flags import (
    FlagChange,
    FlagRecord,
)


# -- releasing: the operator's immediate admin path ---------------------------------------------
async def release_flags(
    gw: Gateway, order: ReleaseOrder | None = None, **fields: Any
) -> FlagRecord:
    """Release one department's hold at once (the command line on the server): the department
    named, or, left out, the one department that holds a flag of the person now; where several do,
    which one must be said (`several_departments`): each department's protection is its own to
    end, so there is no releasing them all in one go. Checked against the hold as it is in the
    same atomic step as the release: if it changed after it was read, nothing is released."""
    order = order_from(ReleaseOrder, order, fields)
    atena_number, basis, department = order.atena_number, order.basis, order.department
    auto_response_disabled, non_disclosure = order.auto_response_disabled, order.non_disclosure
    check_atena_number(atena_number)
    note = _check_release(basis, order.note, auto_response_disabled, non_disclosure)
    current = await gw.flags.get(atena_number)
    if current is None or not current.state.any:
        raise FlagRuleError("no_flag", "this person has no flag set")
    if department is not None:
        canonical = _holding_department(department)
        hold = current.hold(canonical)
        if hold is None or not hold.state.any:
            raise FlagRuleError(
                "not_held", f"{canonical} holds no flag of this person now", department=canonical
            )
    elif len(current.current) > 1:
        names = ", ".join(current.departments)
        raise FlagRuleError(
            "several_departments",
            f"several departments hold flags of this person ({names}): name the one whose hold "
            "to release with --department",
            departments=names,
        )
    elif not current.current:
        # a record of the single-record model that names no department (see `upgrade_records`)
        raise FlagRuleError(
            "no_hold", "no department holds this person's flags: see hogo-gateway flags upgrade"
        )
    else:
        [hold] = current.current
    if not (
        (auto_response_disabled and hold.state.auto_response_disabled)
        or (non_disclosure and hold.state.non_disclosure)
    ):
        raise FlagRuleError(
            "not_on", f"none of the flags to release is set by {hold.department} for this person"
        )
    return await gw.flags.change(
        FlagChange(
            atena_number=atena_number,
            department=hold.department,
            action="release",
            actor=order.actor,
            auto_response_disabled=False if auto_response_disabled else None,
            non_disclosure=False if non_disclosure else None,
            entry={
                "basis": basis,
                "note": note,
                "flags": _which(auto_response_disabled, non_disclosure),
            },
            expect_version=hold.version,
        )
    )
