"""Attempts (試行): which holding departments are told by mail, and the security team's pattern
rules (docs/attempts.md). Each setting of this part is declared once, here: its field, type,
default, environment variable and help. Settings holds one `attempts`, read with
`AttemptSettings.from_env`."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from gateway.settings.network import is_loopback
from gateway.settings.reading import (
    EnvVar,
    SettingsError,
    declared_variables,
    setting,
    values_from_env,
)

MAIL_ADDRESS = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
SMTP_SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class AttemptSettings:
    """Who is told of attempts by mail, through which SMTP server, and the pattern rules' limits."""

    mailboxes: tuple[tuple[str, str], ...] = setting(
        (),
        "HOGO_ATTEMPT_MAILBOXES",
        "A CSV file, header department,address: the mailbox of each holding department (annex 1) "
        "to tell of its attempts. A department not listed is told in the console only.",
        read=lambda raw, _kind, name: _mailboxes_named(raw, name),
    )
    smtp_host: str = setting("", "HOGO_SMTP_HOST", "The SMTP server mails are sent through.")
    smtp_port: int = setting(587, "HOGO_SMTP_PORT", "Its port (587 STARTTLS, 465 TLS).")
    smtp_security: str = setting(
        "starttls",
        "HOGO_SMTP_SECURITY",
        "starttls, tls (from the first byte) or none (plain: only to a server on loopback).",
    )
    smtp_user: str = setting("", "HOGO_SMTP_USER", "Login at the SMTP server, if it asks one.")
    smtp_password: str = setting(
        "",
        "HOGO_SMTP_PASSWORD",
        "Its password (from the environment only, never a flag).",
        secret=True,
    )
    smtp_ca: str = setting(
        "", "HOGO_SMTP_CA", "A CA file the server's certificate must chain to (else the system's)."
    )
    smtp_timeout: float = setting(30.0, "HOGO_SMTP_TIMEOUT", "Seconds for one SMTP session.")
    mail_from: str = setting("", "HOGO_MAIL_FROM", "The sender address of the mails.")
    console_url: str = setting(
        "",
        "HOGO_CONSOLE_URL",
        "The staff console's address as staff reach it (https://...): the link in each mail.",
    )
    mail_retry_max_seconds: float = setting(
        3600.0,
        "HOGO_MAIL_RETRY_MAX_SECONDS",
        "A mail the server did not take is tried again, waiting twice as long each time, at most "
        "this long; it stays in the outbox until it is sent.",
    )
    rule_requesters_per_person: int = setting(
        2,
        "HOGO_RULE_REQUESTERS_PER_PERSON",
        "A flagged person asked about by this many requesters or more ...",
    )
    rule_requesters_days: int = setting(
        30, "HOGO_RULE_REQUESTERS_DAYS", "... within this many days: security.pattern_requesters."
    )
    rule_rate_days: int = setting(
        30,
        "HOGO_RULE_RATE_DAYS",
        "A requester's usual day: the mean and deviation of its holds of flagged people a day "
        "over this many days before today ...",
    )
    rule_rate_k: float = setting(
        3.0, "HOGO_RULE_RATE_K", "... a day above mean + K x deviation is unusual ..."
    )
    rule_rate_floor: int = setting(
        5,
        "HOGO_RULE_RATE_FLOOR",
        "... once it reaches at least this many holds: security.pattern_requester_rate.",
    )
    rule_portal_views: int = setting(
        3,
        "HOGO_RULE_PORTAL_VIEWS",
        "Blocked portal views of one person within 24 hours: security.pattern_portal_views.",
    )
    rule_probing: int = setting(
        10,
        "HOGO_RULE_PROBING",
        "Holds of unknown subjects from one requester within 24 hours: security.pattern_probing.",
    )

    @classmethod
    def declared(cls) -> list[EnvVar]:
        """Every setting's variable, in declaration order (for `hogo-gateway settings`)."""
        return declared_variables(cls, "attempts.")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AttemptSettings:
        """Defaults, then the environment variables each field names, read the one way
        (`values_from_env`); the mailboxes from the file HOGO_ATTEMPT_MAILBOXES names."""
        found = cls(**values_from_env(cls, os.environ if env is None else env))  # type: ignore[arg-type]
        found.check()
        return found

    @property
    def mail_on(self) -> bool:
        return bool(self.mailboxes)

    def mailbox(self, department: str) -> str | None:
        """The mailbox of a holding department, or None (told in the console only)."""
        from gateway.annex import fold

        wanted = fold(department)
        return next((a for d, a in self.mailboxes if fold(d) == wanted), None)

    def check(self) -> None:
        """Refuse a configuration that would tell no one, or tell the wrong one."""
        from gateway.annex import holding

        for department, address in self.mailboxes:
            if not holding().has_department(department):
                raise SettingsError(
                    f"HOGO_ATTEMPT_MAILBOXES: {department!r} is not a holding department (annex 1)"
                )
            if not MAIL_ADDRESS.match(address):
                raise SettingsError(f"HOGO_ATTEMPT_MAILBOXES: {address!r} is not a mail address")
        for name, low in (
            ("rule_requesters_per_person", 2),
            ("rule_requesters_days", 1),
            ("rule_rate_days", 1),
            ("rule_rate_floor", 1),
            ("rule_portal_views", 1),
            ("rule_probing", 1),
        ):
            if getattr(self, name) < low:
                env = next(f.metadata["env"] for f in fields(self) if f.name == name)
                raise SettingsError(f"{env} must be at least {low}")
        if self.rule_rate_k < 0:
            raise SettingsError("HOGO_RULE_RATE_K must be 0 or more")
        if not self.mail_on:
            return
        if self.smtp_security not in SMTP_SECURITY:
            raise SettingsError(f"HOGO_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}")
        if not self.smtp_host:
            raise SettingsError("HOGO_ATTEMPT_MAILBOXES needs HOGO_SMTP_HOST")
        if not MAIL_ADDRESS.match(self.mail_from):
            raise SettingsError("HOGO_ATTEMPT_MAILBOXES needs HOGO_MAIL_FROM, a mail address")
        if not self.console_url.startswith(("https://", "http://")):
            raise SettingsError("HOGO_ATTEMPT_MAILBOXES needs HOGO_CONSOLE_URL (the link's base)")
        if self.smtp_security == "none":
            if not is_loopback(self.smtp_host):
                raise SettingsError("HOGO_SMTP_SECURITY=none is for a server on loopback only")
            if self.smtp_user:
                raise SettingsError("an SMTP login is sent only over TLS (HOGO_SMTP_SECURITY)")


def read_mailboxes(path: Path) -> tuple[tuple[str, str], ...]:
    """The departments' mailboxes from a CSV file (header department,address; UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    if rows and set(rows[0]) != {"department", "address"}:
        raise ValueError(f"{path}: the header must be department,address")
    out = tuple((r["department"].strip(), r["address"].strip()) for r in rows)
    departments = [d for d, _ in out]
    if len(set(departments)) != len(departments):
        raise ValueError(f"{path}: a department is listed twice")
    return out


def _mailboxes_named(raw: str, variable: str) -> tuple[tuple[str, str], ...]:
    """HOGO_ATTEMPT_MAILBOXES's reader: the file it names, its faults said as the variable's."""
    try:
        return read_mailboxes(Path(raw.strip()))
    except ValueError as exc:
        raise SettingsError(f"{variable}: {exc}") from None
