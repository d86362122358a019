"""The departments' mailboxes are told, by a real SMTP server on loopback (aiosmtpd): that attempts
happened, when, and where to look; no personal value of the test data anywhere in a mail, headers
or body, decoded. A mail the server does not take stays in the outbox and goes later; STARTTLS is
required when asked for (never sent plain), with a login."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from gateway.mail import Mailer
from gateway.settings import AttemptSettings, Settings, SettingsError
from gateway.simulator import Resident
from tests.conftest import Running, start_running, stop_running
from tests.flag_support import by_tax_department, flag
from tests.pki import ThrowawayCA
from tests.support import OTHER_REQUESTER, REQUESTER, Query, SmtpServer, portal_xml, reserve_port

KODOMO, ZEIMU = "子ども家庭課", "税務課"
MAILBOXES = ((KODOMO, "kodomo@ward.example"), (ZEIMU, "zeimu@ward.example"))


@dataclass
class Sink:
    """What the SMTP server received: each message with its envelope."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    encrypted: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.encrypted.append(session.ssl is not None)
        if session.auth_data:
            self.logins.append(session.auth_data.login.decode())
        return "250 OK"


def _smtp(sink: Sink, **kwargs: object) -> SmtpServer:
    """An SMTP server on loopback port 0 (`.port` is the one it got) receiving into `sink`."""
    controller = SmtpServer(sink, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    found = Sink()
    controller = _smtp(found)
    yield found, controller.port
    controller.stop()


def _mail_settings(settings: Settings, port: int, **extra: object) -> Settings:
    attempts = AttemptSettings(
        mailboxes=MAILBOXES,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        mail_from="hogo-gateway@ward.example",
        console_url="https://hogo.ward.example",
        mail_retry_max_seconds=0.2,
        **extra,  # type: ignore[arg-type]
    )
    attempts.check()
    return replace(settings, attempts=attempts)


@pytest.fixture
async def mailing(
    settings: Settings, redis_url: str, residents: list[Resident], sink: tuple[Sink, int]
) -> AsyncIterator[Running]:
    r, runners = await start_running(_mail_settings(settings, sink[1]), redis_url, residents)
    yield r
    await stop_running(r, runners)


def _decoded(raw: bytes) -> str:
    """Every header and the body of a message, decoded as a reader's mail program shows them."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = "\n".join(f"{k}: {v}" for k, v in msg.items())
    body = msg.get_body(("plain",))
    assert body is not None
    return headers + "\n\n" + body.get_content()


async def _deliver(running: Running, settings: AttemptSettings | None = None) -> int:
    await running.gw.notices.catch_up()
    return await Mailer(running.gw.redis, settings or running.gw.settings.attempts).send_due()


def _secrets(running: Running, *persons: Resident) -> list[str]:
    """Every personal value of the test data, and what could lead to a person."""
    gw = running.gw
    out = [REQUESTER, OTHER_REQUESTER, "見本市", "例示町", "TM00000000000001", "JT00000000000001"]
    for p in persons:
        out += [p.name, p.atena_number, p.subject_code]
        out += [gw.keyring.person_key("atena", p.atena_number)]
        out += [gw.keyring.person_key("subject", p.subject_code)]
        out += [p.name.replace(" ", ""), p.name.split(" ")[0]]
        out += [f.value for f in p.fields if len(f.value) > 4]  # (not a year or a count)
    return out


async def test_each_department_is_mailed_without_personal_data(
    mailing: Running, sink: tuple[Sink, int]
) -> None:
    r, gw = mailing, mailing.gw
    person = r.residents[0]
    await flag(gw, person)
    await by_tax_department(gw, person)
    assert (await r.submit(Query("M-1", person.subject_code))).status == "PENDING"
    assert (await r.submit(Query("M-2", person.subject_code, OTHER_REQUESTER))).status == "PENDING"
    await r.post("/soap/portal", portal_xml("GetSelfInformation", person.subject_code))
    await _deliver(r)
    messages = sink[0].messages
    # one mail a department, gathering its three attempts
    assert sorted(to for _, [to], _ in messages) == ["kodomo@ward.example", "zeimu@ward.example"]
    secrets = _secrets(r, person)
    for sender, _, raw in messages:
        assert sender == "hogo-gateway@ward.example"
        text = _decoded(raw)
        for secret in secrets:
            assert secret not in text, secret
            assert secret.encode() not in raw, secret
        assert "3 件" in text or "（3件）" in text
        assert "https://hogo.ward.example/staff/attempts?open=1" in text
    [kodomo] = [_decoded(raw) for _, [to], raw in messages if to.startswith("kodomo")]
    assert KODOMO in kodomo and ZEIMU not in kodomo
    sent = await r.events("mail.sent")
    assert sorted(e["department"] for e in sent) == [KODOMO, ZEIMU]
    assert {e["attempts"] for e in sent} == {"3"}
    # sent once: a later round finds nothing due
    assert await _deliver(r) == 0 and len(messages) == 2


async def test_a_mail_waits_while_smtp_is_down_and_goes_once_it_is_up(
    settings: Settings, redis_url: str, residents: list[Resident]
) -> None:
    reserved = reserve_port()  # this test's port, where nothing listens yet
    port = reserved.getsockname()[1]
    r, runners = await start_running(_mail_settings(settings, port), redis_url, residents)
    try:
        gw = r.gw
        await flag(gw, residents[0])
        assert (await r.submit(Query("D-1", residents[0].subject_code))).status == "PENDING"
        mailer = Mailer(gw.redis, gw.settings.attempts)
        await gw.notices.catch_up()
        assert await mailer.send_due() == 0
        waiting, _ = await mailer.outbox.status()
        assert waiting == 1  # kept, to be tried again
        sink = Sink()
        controller = _smtp(sink, sock=reserved)  # the server comes up on that port
        try:
            r.clock.advance(1)  # past the wait before a retry (HOGO_MAIL_RETRY_MAX_SECONDS)
            for _ in range(50):
                if sink.messages or await mailer.send_due():
                    break
                await asyncio.sleep(0.1)  # (the gateway's own sender has it: it is sending)
            assert len(sink.messages) == 1
            assert (await mailer.outbox.status())[0] == 0
            [sent] = await r.events("mail.sent")
            assert int(sent["tries"]) >= 2 and sent["department"] == KODOMO  # (failed first)
        finally:
            controller.stop()
    finally:
        reserved.close()  # (if the server never came up on it)
        await stop_running(r, runners)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    ca = ThrowawayCA(tmp_path / "pki")
    server = ca.issue("smtp.ward.example", server=True, ips=("127.0.0.1",))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.cert, server.key)
    return ca.cert_path, context


async def test_starttls_and_a_login_are_used_and_never_skipped(
    mailing: Running, tls_files: tuple[Path, ssl.SSLContext]
) -> None:
    gw = mailing.gw
    ca, context = tls_files

    def authenticate(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret-for-test"
        return AuthResult(success=ok, auth_data=auth_data)

    secure = Sink()
    controller = _smtp(
        secure,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    port = controller.port
    plain = Sink()
    no_tls = _smtp(plain)  # offers no STARTTLS
    plain_port = no_tls.port
    try:
        await flag(gw, mailing.residents[0])
        assert (await mailing.submit(Query("S-1", mailing.residents[0].subject_code))).status == (
            "PENDING"
        )
        base = dict(
            smtp_host="127.0.0.1",
            smtp_security="starttls",
            smtp_ca=str(ca),
            smtp_user="hogo",
            smtp_password="s3cret-for-test",
        )
        refusing = replace(gw.settings.attempts, smtp_port=plain_port, **base)  # type: ignore[arg-type]
        assert await _deliver(mailing, refusing) == 0  # no STARTTLS offered: not sent plain
        assert plain.messages == []
        mailer = Mailer(gw.redis, refusing)
        waiting, _ = await mailer.outbox.status()
        assert waiting == 1
        good = replace(gw.settings.attempts, smtp_port=port, **base)  # type: ignore[arg-type]
        mailing.clock.advance(1)  # past the wait before a retry (HOGO_MAIL_RETRY_MAX_SECONDS)
        for _ in range(50):
            if await Mailer(gw.redis, good).send_due():
                break
            await asyncio.sleep(0.1)  # (while the gateway's own sender holds its lease)
        assert len(secure.messages) == 1 and secure.logins == ["hogo"]
        assert secure.encrypted == [True]
    finally:
        controller.stop()
        no_tls.stop()


def test_the_mail_settings_refuse_what_would_tell_no_one_or_the_wrong_one(tmp_path: Path) -> None:
    good = dict(
        mailboxes=MAILBOXES,
        smtp_host="smtp.ward.example",
        mail_from="hogo@ward.example",
        console_url="https://hogo.ward.example",
    )
    AttemptSettings(**good).check()  # type: ignore[arg-type]
    bad = [
        dict(mailboxes=(("総務課", "somu@ward.example"),)),  # not a holding department
        dict(mailboxes=((KODOMO, "a@b.example\r\nBcc: x@evil.example"),)),  # header injection
        dict(smtp_host=""),
        dict(mail_from="nobody"),
        dict(console_url=""),
        dict(smtp_security="none"),  # plain SMTP to a server that is not on loopback
        dict(smtp_security="none", smtp_host="127.0.0.1", smtp_user="x"),  # a login in clear
        dict(smtp_security="ssl"),
        dict(rule_requesters_per_person=1),
    ]
    for change in bad:
        with pytest.raises(SettingsError):
            AttemptSettings(**{**good, **change}).check()  # type: ignore[arg-type]
    listed = tmp_path / "mailboxes.csv"
    listed.write_text(f"department,address\n{KODOMO},kodomo@ward.example\n", encoding="utf-8")
    env = {
        "HOGO_ATTEMPT_MAILBOXES": str(listed),
        "HOGO_SMTP_HOST": "smtp.ward.example",
        "HOGO_MAIL_FROM": "hogo@ward.example",
        "HOGO_CONSOLE_URL": "https://hogo.ward.example",
        "HOGO_SMTP_PASSWORD": "not-shown",
        "HOGO_RULE_PROBING": "25",
    }
    found = AttemptSettings.from_env(env)
    assert found.mailbox("子ども家庭課") == "kodomo@ward.example" and found.mailbox(ZEIMU) is None
    assert found.rule_probing == 25 and "not-shown" not in repr(found)
    listed.write_text("department,address\n総務課,somu@ward.example\n", encoding="utf-8")
    with pytest.raises(SettingsError):
        AttemptSettings.from_env(env)
