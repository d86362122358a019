"""Helpers for the flag, department, portal and report tests: the command line as a subprocess,
flagging a synthetic resident, reading the raw store."""

from __future__ import annotations

from gateway.context import Gateway
from gateway.flags import ReleaseRequest, confirm_release, release_flags, request_release, set_flags
from gateway.simulator import Resident
from gateway.store.flags import FlagRecord
from tests.support import Cli, cli_runner, one_line_error  # noqa: F401 (re-exported)


async def flag(
    gw: Gateway,
    person: Resident,
    *,
    department: str = "子ども家庭課",
    business: str | None = "児童手当業務",
    basis: str = "application",
    until: str | None = None,
    ard: bool = True,
    nd: bool = True,
    actor: str = "staff:registrar",
    name: str | None = None,
) -> FlagRecord:
    return await set_flags(
        gw,
        atena_number=person.atena_number,
        name=name or person.name,
        department=department,
        business=business,
        basis=basis,
        until=until,
        auto_response_disabled=ard,
        non_disclosure=nd,
        actor=actor,
    )


async def unflag(
    gw: Gateway,
    person: Resident,
    *,
    department: str | None = None,
    note: str = "申出",
    actor: str = "os:operator",
    ard: bool = True,
    nd: bool = True,
) -> FlagRecord:
    """The operator releases the person's hold at once (both flags unless `ard`/`nd` say
    otherwise), on their application (`department`: whose hold, where several hold them)."""
    return await release_flags(
        gw,
        atena_number=person.atena_number,
        basis="application",
        note=note,
        auto_response_disabled=ard,
        non_disclosure=nd,
        actor=actor,
        department=department,
    )


async def by_tax_department(gw: Gateway, person: Resident) -> FlagRecord:
    """A second holding department (税務課) flags the person too, ex officio."""
    return await flag(
        gw, person, department="税務課", business="特別区民税・都民税", basis="ex-officio"
    )


async def ask_release(
    gw: Gateway, person: Resident, department: str, by: str, note: str = "申出"
) -> ReleaseRequest:
    """A release request of `department`'s hold, both flags, on the person's application."""
    return await request_release(
        gw,
        atena_number=person.atena_number,
        basis="application",
        note=note,
        auto_response_disabled=True,
        non_disclosure=True,
        requested_by=by,
        department=department,
    )


async def released_by_two(gw: Gateway, person: Resident) -> None:
    """子ども家庭課's hold released the two-person way: staff:a asks, staff:b confirms."""
    req = await ask_release(gw, person, "子ども家庭課", "staff:a")
    await confirm_release(gw, request_id=req.id, confirmed_by="staff:b")


async def all_values(gw: Gateway) -> bytes:
    """Every key and value in the store, as one blob (to look for plaintext that must not be)."""
    client = gw.redis.client
    out: list[str] = []
    async for key in client.scan_iter("*"):
        out.append(key)
        kind = await client.type(key)
        if kind == "string":
            out.append(await client.get(key) or "")
        elif kind == "hash":
            out += [f"{k}={v}" for k, v in (await client.hgetall(key)).items()]
        elif kind == "list":
            out += await client.lrange(key, 0, -1)
        elif kind == "set":
            out += list(await client.smembers(key))
        elif kind == "zset":
            out += await client.zrange(key, 0, -1)
        elif kind == "stream":
            for _, fields in await client.xrange(key):
                out += [f"{k}={v}" for k, v in fields.items()]
    return "\n".join(out).encode()


async def events_of(gw: Gateway, kind: str) -> list[dict[str, object]]:
    """Events of exactly this kind, oldest first."""
    return [e.as_json() for e in await gw.events.read(count=100_000) if e.kind == kind]
