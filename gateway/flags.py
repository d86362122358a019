"""The rules for setting and releasing flags, shared by the command line and the console.

Setting: a holding department, a basis (申出 application / 職権 ex-officio), the support measure's
end if any. Releasing: only on the person's application (申出), never automatically.
"""

from __future__ import annotations

import re
from datetime import date

from gateway.context import Gateway
from gateway.store.flags import BASES, FlagRecord

ATENA_NUMBER = re.compile(r"^[0-9]{15}$")


def check_atena_number(value: str) -> None:
    if not ATENA_NUMBER.match(value):
        raise ValueError("an atena number (団体内統合宛名番号) is 15 digits")


def _check_until(until: str | None) -> str:
    if not until:
        return ""
    try:
        return date.fromisoformat(until).isoformat()
    except ValueError:
        raise ValueError("--until must be a date YYYY-MM-DD") from None


async def set_flags(
    gw: Gateway,
    *,
    atena_number: str,
    name: str,
    department: str,
    business: str | None,
    basis: str,
    until: str | None,
    auto_response_disabled: bool,
    non_disclosure: bool,
    actor: str,
) -> FlagRecord:
    check_atena_number(atena_number)
    if basis not in BASES:
        raise ValueError(f"basis must be one of {', '.join(BASES)}")
    if not name.strip():
        raise ValueError("a flag needs the person's name")
    if not department.strip():
        raise ValueError("a flag needs the holding department")
    until_iso = _check_until(until)
    entry: dict[str, object] = {
        "basis": basis,
        "department": department,
        "business": business or "",
        "until": until_iso,
        "flags": [
            f
            for f, on in (
                ("auto_response_disabled", auto_response_disabled),
                ("non_disclosure", non_disclosure),
            )
            if on
        ],
    }
    record = await gw.flags.change(
        atena_number,
        action="set",
        actor=actor,
        auto_response_disabled=True if auto_response_disabled else None,
        non_disclosure=True if non_disclosure else None,
        entry=entry,
        record_fields={
            "name": name,
            "department": department,
            "business": business or "",
            "basis": basis,
            "until": until_iso,
        },
    )
    record.atena_number = atena_number
    return record


async def release_flags(
    gw: Gateway,
    *,
    atena_number: str,
    basis: str,
    note: str,
    auto_response_disabled: bool,
    non_disclosure: bool,
    actor: str,
) -> FlagRecord:
    check_atena_number(atena_number)
    if basis != "application":
        raise ValueError("a flag is released only on the person's application (申出)")
    if not note.strip():
        raise ValueError("a release needs a note")
    current = await gw.flags.get(atena_number)
    if current is None or not current.state.any:
        raise ValueError("this person has no flag set")
    entry: dict[str, object] = {
        "basis": basis,
        "note": note,
        "flags": [
            f
            for f, on in (
                ("auto_response_disabled", auto_response_disabled),
                ("non_disclosure", non_disclosure),
            )
            if on
        ],
    }
    record = await gw.flags.change(
        atena_number,
        action="release",
        actor=actor,
        auto_response_disabled=False if auto_response_disabled else None,
        non_disclosure=False if non_disclosure else None,
        entry=entry,
        record_fields={},
    )
    record.atena_number = atena_number
    return record
