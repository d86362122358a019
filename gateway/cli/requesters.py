"""`hogo-gateway requesters ...`: the institutions allowed to query, and what each may ask about
(deny by default)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import Command, CommandError, emit, one_line, os_actor
from gateway.context import Gateway


async def cmd_requesters_add(args: argparse.Namespace, gw: Gateway) -> None:
    with one_line(ValueError):
        req = await gw.requesters.add(args.org_code, args.name, os_actor())
    emit(args, req.as_json(), f"requester {req.org_code} registered ({req.name})")


async def cmd_requesters_list(args: argparse.Namespace, gw: Gateway) -> None:
    reqs = await gw.requesters.all()
    emit(
        args,
        [r.as_json() for r in reqs],
        "\n".join(f"{r.org_code}  {r.name}  ({len(r.rights) or 'no'} rights)" for r in reqs)
        or "(none)",
    )


async def _rights_change(args: argparse.Namespace, gw: Gateway, action: str) -> None:
    from gateway.errors import UnknownRequester

    change = gw.requesters.grant if action == "grant" else gw.requesters.revoke
    with one_line(UnknownRequester, ValueError):
        req = await change(args.org_code, args.affair, args.procedure or [], os_actor())
    emit(args, req.as_json(), _rights_text(req))


async def cmd_requesters_grant(args: argparse.Namespace, gw: Gateway) -> None:
    await _rights_change(args, gw, "grant")


async def cmd_requesters_revoke(args: argparse.Namespace, gw: Gateway) -> None:
    await _rights_change(args, gw, "revoke")


async def cmd_requesters_rights(args: argparse.Namespace, gw: Gateway) -> None:
    req = await gw.requesters.get(args.org_code)
    if req is None:
        raise CommandError(f"requester {args.org_code} is not registered")
    emit(args, req.as_json(), _rights_text(req))


def _rights_text(req: Any) -> str:
    lines = [f"{req.org_code}  {req.name}: may ask about"]
    lines += [f"  {right}" for right in req.rights] or ["  nothing (deny by default)"]
    return "\n".join(lines)


async def cmd_requesters_remove(args: argparse.Namespace, gw: Gateway) -> None:
    if not await gw.requesters.remove(args.org_code, os_actor()):
        raise CommandError(f"requester {args.org_code} is not registered")
    emit(args, {"removed": args.org_code}, f"requester {args.org_code} removed")


def add_commands(sub: Any, cmd: Command) -> None:
    req = sub.add_parser("requesters", help="institutions allowed to query").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(req, "add", cmd_requesters_add, "register a requester")
    p.add_argument("org_code", metavar="ORG_CODE")
    p.add_argument("--name", required=True)
    cmd(req, "list", cmd_requesters_list, "list requesters")
    for name, func, help_text in (
        ("grant", cmd_requesters_grant, "permit an affair, or some of its procedures"),
        ("revoke", cmd_requesters_revoke, "withdraw an affair, or some of its procedures"),
    ):
        p = cmd(req, name, func, help_text)
        p.add_argument("org_code", metavar="ORG_CODE")
        p.add_argument("--affair", required=True, metavar="JM…", help="事務コード")
        p.add_argument(
            "--procedure",
            action="append",
            metavar="JT…",
            help="事務手続コード (repeatable); without it: every procedure of the affair",
        )
    p = cmd(req, "rights", cmd_requesters_rights, "what a requester may ask about")
    p.add_argument("org_code", metavar="ORG_CODE")
    p = cmd(req, "remove", cmd_requesters_remove, "remove a requester")
    p.add_argument("org_code", metavar="ORG_CODE")
