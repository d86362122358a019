"""The registrar's flag actions, behind one adapter over gateway.flags (the flag rules' owner).

Registering flags uses `gateway.flags.set_flags`. Release requests, their confirmation by a second
person and the renewal list are the flags issue's (issue 3) functions `request_release`,
`confirm_release`, `cancel_release`, `pending_releases` and `due`: this module calls them when they
exist and otherwise says plainly that the feature is unavailable (FeatureUnavailable); it holds no
flag rules of its own, only the console's access rule: a registrar acts for their own department.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gateway import flags
from gateway.context import Gateway
from gateway.store.flags import FlagRecord
from gateway.store.sessions import Session

# The functions of gateway.flags each console feature needs.
FEATURES: dict[str, tuple[str, ...]] = {
    "release": ("request_release", "confirm_release", "cancel_release", "pending_releases"),
    "due": ("due",),
}


class FeatureUnavailable(Exception):
    """The flag rules this feature needs are not in this gateway yet."""

    def __init__(self, feature: str) -> None:
        super().__init__(feature)
        self.feature = feature


class FlagActionError(Exception):
    """A refused registrar action; `code` is a message key of the console's catalog."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def available(feature: str) -> bool:
    return all(callable(getattr(flags, name, None)) for name in FEATURES[feature])


def _fn(feature: str, name: str) -> Callable[..., Any]:
    if not available(feature):
        raise FeatureUnavailable(feature)
    return getattr(flags, name)


def as_dict(obj: object) -> dict[str, Any]:
    """A release request or renewal item as a plain dict, whatever its class offers."""
    if hasattr(obj, "as_json"):
        return dict(obj.as_json())  # type: ignore[attr-defined]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return dict(vars(obj))


def request_id_of(item: dict[str, Any]) -> str:
    return str(item.get("request_id") or item.get("id") or "")


async def _own_record(gw: Gateway, viewer: Session, atena_number: str) -> FlagRecord | None:
    """The person's record, refused when another department holds it."""
    record = await gw.flags.get(atena_number)
    if record is not None and record.department and record.department != viewer.department:
        await gw.events.security(
            "department_mismatch",
            viewer.actor,
            subject=record.person_key,
            department=viewer.department,
        )
        raise FlagActionError("err.other_department")
    return record


async def register(
    gw: Gateway,
    viewer: Session,
    *,
    atena_number: str,
    name: str,
    business: str,
    basis: str,
    until: str,
    auto_response_disabled: bool,
    non_disclosure: bool,
) -> FlagRecord:
    """Set flags for the registrar's own department (gateway.flags.set_flags checks the rest)."""
    if not (auto_response_disabled or non_disclosure):
        raise FlagActionError("err.no_flag_chosen")
    try:
        return await flags.set_flags(
            gw,
            atena_number=atena_number,
            name=name,
            department=viewer.department,
            business=business or None,
            basis=basis,
            until=until or None,
            auto_response_disabled=auto_response_disabled,
            non_disclosure=non_disclosure,
            actor=viewer.actor,
        )
    except ValueError as exc:
        raise FlagActionError("err.flag_rule", detail=str(exc)) from None


async def request_release(
    gw: Gateway,
    viewer: Session,
    *,
    atena_number: str,
    basis: str,
    note: str,
    auto_response_disabled: bool,
    non_disclosure: bool,
) -> dict[str, Any]:
    fn = _fn("release", "request_release")
    try:
        flags.check_atena_number(atena_number)
    except ValueError as exc:
        raise FlagActionError("err.flag_rule", detail=str(exc)) from None
    await _own_record(gw, viewer, atena_number)
    try:
        req = await fn(
            gw,
            atena_number=atena_number,
            basis=basis,
            note=note,
            auto_response_disabled=auto_response_disabled,
            non_disclosure=non_disclosure,
            requested_by=viewer.actor,
            department=viewer.department,
        )
    except ValueError as exc:
        raise FlagActionError("err.flag_rule", detail=str(exc)) from None
    return as_dict(req)


async def pending(gw: Gateway, viewer: Session) -> list[dict[str, Any]]:
    fn = _fn("release", "pending_releases")
    return [as_dict(r) for r in await fn(gw, department=viewer.department)]


async def _own_request(gw: Gateway, viewer: Session, request_id: str) -> None:
    if not request_id or request_id not in {request_id_of(r) for r in await pending(gw, viewer)}:
        raise FlagActionError("err.no_release_request")


async def confirm_release(gw: Gateway, viewer: Session, request_id: str) -> FlagRecord:
    fn = _fn("release", "confirm_release")
    await _own_request(gw, viewer, request_id)
    try:
        return await fn(gw, request_id=request_id, confirmed_by=viewer.actor)
    except ValueError as exc:
        # SamePersonError is a ValueError: nobody confirms their own request.
        if type(exc).__name__ == "SamePersonError":
            raise FlagActionError("err.same_person") from None
        raise FlagActionError("err.flag_rule", detail=str(exc)) from None


async def cancel_release(gw: Gateway, viewer: Session, request_id: str) -> dict[str, Any]:
    fn = _fn("release", "cancel_release")
    await _own_request(gw, viewer, request_id)
    try:
        return as_dict(await fn(gw, request_id=request_id, cancelled_by=viewer.actor))
    except ValueError as exc:
        raise FlagActionError("err.flag_rule", detail=str(exc)) from None


async def due(gw: Gateway, viewer: Session, within_days: int = 30) -> list[dict[str, Any]]:
    """The renewal list of the registrar's department."""
    fn = _fn("due", "due")
    items = [as_dict(d) for d in await fn(gw, within_days=within_days)]
    return [d for d in items if d.get("department") == viewer.department]
