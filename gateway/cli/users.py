"""`hogo-gateway users ...`: staff accounts from the operator's command line on the server.

    users add LOGIN --role registrar|approver|auditor|admin --department DEPT   (password on stdin;
                            a registrar's DEPT is a holding department of annex 1)
    users passwd LOGIN      a new password (stdin); ends the user's sessions and lifts a lock-out
    users disable LOGIN     no more logins; ends the user's sessions
    users enable LOGIN
    users unlock LOGIN      lift a lock-out before its period ends
    users list

The password is read from standard input (one line; asked twice without echo on a terminal),
never from the command line, where other users of the machine could see it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from gateway.cli.common import Command, CommandError, emit, os_actor
from gateway.context import Gateway
from gateway.services import accounts
from gateway.services.console import Console


def read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _explain(exc: accounts.AccountError) -> str:
    from gateway.staff.i18n import Translator

    return Translator("en")(exc.code, **exc.params)


async def _run(action: Callable[[], Any]) -> None:
    try:
        await action()
    except accounts.AccountError as exc:
        raise CommandError(_explain(exc)) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None


async def cmd_users_add(args: argparse.Namespace, gw: Gateway) -> None:
    c = Console.of(gw)
    department = args.department

    async def add() -> None:
        nonlocal department
        # refused before the password is asked for, where that can be told already
        accounts.check_login(args.login)
        department = accounts.account_department(args.role, args.department)
        await accounts.add_user(
            c.users, args.login, args.role, department, read_password(), os_actor()
        )

    await _run(add)
    emit(
        args,
        {"login": args.login, "role": args.role, "department": department},
        f"user {args.login} added ({args.role}, {department})",
    )


async def cmd_users_passwd(args: argparse.Namespace, gw: Gateway) -> None:
    c = Console.of(gw)

    async def passwd() -> None:
        await accounts.set_password(c.users, args.login, read_password(), os_actor())

    await _run(passwd)
    emit(args, {"login": args.login}, f"password of {args.login} set; their sessions ended")


# what each simple command did, as the operator reads it ("unlockd" was once printed)
DONE = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked"}


def _simple(kind: str) -> Callable[[argparse.Namespace, Gateway], Any]:
    async def cmd(args: argparse.Namespace, gw: Gateway) -> None:
        c = Console.of(gw)

        async def act() -> None:
            if kind == "disable":
                await accounts.set_disabled(c.users, args.login, True, os_actor())
            elif kind == "enable":
                await accounts.set_disabled(c.users, args.login, False, os_actor())
            else:
                await accounts.unlock(c.users, args.login, os_actor())

        await _run(act)
        emit(args, {"login": args.login, "done": kind}, f"user {args.login}: {DONE[kind]}")

    return cmd


async def cmd_users_list(args: argparse.Namespace, gw: Gateway) -> None:

    ms = gw.clock.now_ms()
    users = await Console.of(gw).users.all()
    rows = [u.as_json(ms) for u in users]
    text = "\n".join(
        f"{u.login:<20} {u.role:<10} {u.department}"
        + ("  DISABLED" if u.disabled else "")
        + ("  LOCKED" if u.locked(ms) else "")
        for u in users
    )
    emit(args, rows, text or "(no users)")


def add_commands(sub: Any, cmd: Command) -> None:
    """Register `users` under the top-level parser."""
    us = sub.add_parser("users", help="staff accounts of the console").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(us, "add", cmd_users_add, "add a staff user (password on standard input)")
    p.add_argument("login", metavar="LOGIN")
    p.add_argument("--role", required=True, choices=list(accounts.ROLES))
    p.add_argument(
        "--department",
        required=True,
        metavar="DEPT",
        help="a registrar's must be a holding department of annex 1 (hogo-gateway departments list)",
    )
    p = cmd(us, "passwd", cmd_users_passwd, "set a new password (standard input)")
    p.add_argument("login", metavar="LOGIN")
    for kind, text in (
        ("disable", "stop a user from logging in; ends their sessions"),
        ("enable", "let a disabled user log in again"),
        ("unlock", "lift a lock-out after failed logins"),
    ):
        p = cmd(us, kind, _simple(kind), text)
        p.add_argument("login", metavar="LOGIN")
    cmd(us, "list", cmd_users_list, "list staff users")
