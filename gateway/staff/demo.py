"""Sample staff accounts for `hogo-gateway demo`: one per role, and two registrars and two
approvers so that the two-person flag release and four-eyes query release can be tried; synthetic,
with fresh random passwords printed at each start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from gateway.context import Gateway
from gateway.services import accounts
from gateway.services.console import Console


@dataclass(frozen=True)
class DemoAccount:
    login: str
    role: str
    department: str
    password: str


DEMO_ACCOUNTS = (
    ("demo-registrar", "registrar", "子ども家庭課"),
    ("demo-registrar2", "registrar", "子ども家庭課"),
    ("demo-approver", "approver", "企画政策課"),
    ("demo-approver2", "approver", "企画政策課"),
    ("demo-auditor", "auditor", "情報政策課"),
    ("demo-admin", "admin", "情報政策課"),
)


async def create_demo_accounts(gw: Gateway, actor: str) -> list[DemoAccount]:
    """Make (or reset) the demo accounts; each gets a new password, enabled and unlocked."""
    users = Console.of(gw).users
    out = []
    for login, role, department in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        if await users.get(login) is None:
            await accounts.add_user(users, login, role, department, password, actor)
        else:
            await accounts.change_role(users, login, role, department, actor)
            await accounts.set_disabled(users, login, False, actor)
            await accounts.set_password(users, login, password, actor)
        out.append(DemoAccount(login, role, department, password))
    return out


def describe(accounts_: list[DemoAccount], console_url: str) -> list[str]:
    lines = [f"Staff console: open {console_url} and log in as one of (synthetic accounts):"]
    for a in accounts_:
        lines.append(f"  {a.login:<16} {a.password:<18} {a.role:<10} {a.department}")
    return lines
