"""`hogo-gateway departments ...`: the holding and using departments of annexes 1 and 2, and the
API tokens of their business systems."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import Command, CommandError, emit, one_line, os_actor
from gateway.context import Gateway


async def cmd_departments_list(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.departments import registrations

    rows = registrations()
    text = "\n".join(
        f"{'保有' if r.holding else '  '} {'利用' if r.using else '  '}  {r.department}  {r.business}"
        for r in rows
    )
    emit(args, [r.as_json() for r in rows], "保有=holding (annex 1)  利用=using (annex 2)\n" + text)


async def cmd_token_issue(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.departments import issue_token

    with one_line(ValueError):
        token, record = await issue_token(
            gw,
            department=args.department,
            business=args.business,
            label=args.label or "",
            actor=os_actor(),
        )
    emit(
        args,
        {**record.as_json(), "token": token},
        f"{token}\n(token {record.id} for {record.department} / {record.business}: "
        "shown this once, only its hash is kept)",
    )


async def cmd_token_list(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.departments import tokens

    found = await tokens(gw).all()
    text = "\n".join(
        f"{t.id}  {'active ' if t.active else 'REVOKED'}  {t.department}  {t.business}  "
        f"{t.label}  issued {t.issued_at} by {t.issued_by}"
        for t in found
    )
    emit(args, [t.as_json() for t in found], text or "(no tokens)")


async def cmd_token_revoke(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.departments import tokens

    record = await tokens(gw).revoke(args.token_id, os_actor())
    if record is None:
        raise CommandError(f"no token {args.token_id}")
    emit(args, record.as_json(), f"token {record.id} revoked ({record.revoked_at})")


def add_commands(sub: Any, cmd: Command) -> None:
    dp = sub.add_parser(
        "departments", help="holding and using departments, and their API tokens"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    cmd(dp, "list", cmd_departments_list, "the departments and businesses of annexes 1 and 2")
    tk = dp.add_parser("token", help="API tokens of the departments' business systems")
    tks = tk.add_subparsers(dest="token_action", required=True, metavar="ACTION")
    p = cmd(tks, "issue", cmd_token_issue, "issue a token (printed once)")
    p.add_argument("--department", required=True)
    p.add_argument("--business", help="may be left out where the department has one business")
    p.add_argument("--label", help="which business system holds it")
    cmd(tks, "list", cmd_token_list, "every token issued, active or revoked")
    p = cmd(tks, "revoke", cmd_token_revoke, "revoke a token at once")
    p.add_argument("token_id", metavar="TOKEN_ID")
