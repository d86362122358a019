"""Mails to the holding departments' mailboxes: that attempts happened, how many, when, and a
link to the console. Nothing else: no name, no atena number, no subject code, no person key, no
requester or query detail (an org code, a processing number, an item) that could lead to the
person. Whoever reads the department's mailbox learns only that there is something to look at;
what it is, the console shows to the department's registrars, after they log in.

Sent from the background (never from the path that stops a query), from the durable outbox
(gateway/store/outbox.py), through the SMTP server the settings name: STARTTLS or TLS with the
server's certificate verified (plain SMTP only to a server on loopback), login optional. A mail
the server does not take stays in the outbox and is tried again, waiting twice as long each time
(at most `mail_retry_max_seconds`); it is never dropped while its department has a mailbox. The
standard library's smtplib, in a thread: no further dependency, and the thread is off every
request's path.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from gateway import metrics
from gateway.settings import AttemptSettings
from gateway.store.outbox import Outbox, OutboxMail
from gateway.store.redis import Redis, StoreUnavailable, cancel_requested
from gateway.wareki import ward_date

log = logging.getLogger("hogo.mail")

FIRST_RETRY_SECONDS = 30.0
AT_ONCE = 20  # mails taken in one round


def attempts_url(settings: AttemptSettings) -> str:
    return settings.console_url.rstrip("/") + "/staff/attempts?open=1"


def message(mail: OutboxMail, to: str, settings: AttemptSettings) -> EmailMessage:
    """The mail for one department: a count, two times and a link; nothing about anyone."""
    first = ward_date(mail.first, plain=True)
    last = ward_date(mail.last, plain=True)
    when = first if first == last else f"{first} 〜 {last}"
    url = attempts_url(settings)
    msg = EmailMessage()
    msg["Subject"] = f"【hogo-gateway】保護対象者に関する試行のお知らせ（{mail.count}件）"
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        f"{mail.department} 御中\n\n"
        "貴課がフラグを設定している方について、照会の保留やマイナポータル表示のブロックなどの"
        f"試行が {mail.count} 件ありました。\n"
        f"日時（日本時間）：{when}\n\n"
        "内容の確認と対応（ご本人への連絡、想定内である旨の記録など）は職員コンソールで"
        "行ってください。\n"
        f"{url}\n\n"
        "このメールには、対象となる方を特定できる情報は含まれていません。\n\n"
        f"{mail.count} attempt(s) concerning persons your department holds a flag on ({when}, "
        f"Japan time). Please see the staff console: {url}\n"
        "-- \nhogo-gateway\n"
    )
    return msg


def send(msg: EmailMessage, settings: AttemptSettings) -> None:
    """Hand one mail to the SMTP server (blocking: run in a thread). Raises on any failure,
    among them a server that does not offer STARTTLS when it is asked for (never sent plain)."""
    context = ssl.create_default_context(cafile=settings.smtp_ca or None)
    client: smtplib.SMTP
    if settings.smtp_security == "tls":
        client = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
    with client:
        client.ehlo()
        if settings.smtp_security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password)
        client.send_message(msg)


def next_try_ms(tries: int, settings: AttemptSettings, now_ms: int) -> int:
    delay = min(settings.mail_retry_max_seconds, FIRST_RETRY_SECONDS * 2**tries)
    return now_ms + int(delay * 1000)


class Mailer:
    def __init__(self, redis: Redis, settings: AttemptSettings, *, interval: float = 2.0) -> None:
        self.outbox = Outbox(redis)
        # due dates and the outbox's age by the store's clock: the one its stamps are made by
        self.clock = redis.clock
        self.settings = settings
        self.interval = interval
        # a mail is leased for longer than one SMTP session may take
        self.lease_ms = int((settings.smtp_timeout * 2 + 10) * 1000)

    async def send_due(self) -> int:
        """Send the mails due now; how many the server took."""
        now_ms = self.clock.now_ms()
        taken = await self.outbox.take(now_ms, self.lease_ms, AT_ONCE)
        sent = 0
        for mail in taken:
            to = self.settings.mailbox(mail.department)
            if to is None:
                await self.outbox.dropped(mail.id, "no_mailbox")
                continue
            try:
                await asyncio.to_thread(send, message(mail, to, self.settings), self.settings)
            except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
                metrics.MAIL_FAILURES.inc()
                reason = f"{type(exc).__name__}: {exc}"[:300]
                log.warning(
                    "mail to %s not sent (try %d): %s", mail.department, mail.tries + 1, reason
                )
                await self.outbox.retry(
                    mail.id, next_try_ms(mail.tries, self.settings, now_ms), reason
                )
                continue
            await self.outbox.sent(mail.id)
            metrics.MAILS_SENT.inc()
            sent += 1
        return sent

    async def update_metrics(self) -> None:
        waiting, oldest = await self.outbox.status()
        metrics.MAIL_OUTBOX.set(waiting)
        age = 0.0 if oldest is None else max(0.0, (self.clock.now_ms() - oldest) / 1000)
        metrics.MAIL_OLDEST_SECONDS.set(age)

    async def run_forever(self) -> None:
        while not cancel_requested():
            try:
                await self.send_due()
                await self.update_metrics()
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("sending the departments' mails failed")
            if not cancel_requested():
                await asyncio.sleep(self.interval)
