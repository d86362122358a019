"""The outbox of mails to the holding departments' mailboxes (gateway/mail.py sends them).

A mail is made by the fold that records a department's attempts (lua/attempts_fold.lua) and
gathers that department's further attempts until a sender takes it. It leaves the outbox only
when the SMTP server took it (or its department has no mailbox any more): while the server is
down it waits, tried again later and later, and nothing is lost over a restart of the gateway or
of the store. A mail holds a department, a count and two times: no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.redis import Redis
from gateway.store.replies import MailDoneReply, MailTakeReply


@dataclass(frozen=True, slots=True)
class OutboxMail:
    id: str
    department: str
    count: int  # attempts it tells of
    first: str  # when the first and the last of them happened (ISO 8601)
    last: str
    tries: int  # failed tries so far


class Outbox:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def take(self, now_ms: int, lease_ms: int, at_most: int) -> list[OutboxMail]:
        """The mails due now, each leased to this sender for `lease_ms`."""
        res = await self.r.script(
            "mail_take",
            [self.k.mail_outbox],
            [now_ms, now_ms + lease_ms, at_most],
            acknowledged=False,  # a lease: if it is lost, the mail is taken again
        )
        return [
            OutboxMail(
                m["id"], m["department"], int(m["count"]), m["first"], m["last"], int(m["tries"])
            )
            for m in MailTakeReply.from_reply(res).mails
        ]

    async def _done(self, mail_id: str, outcome: str, next_ms: int, reason: str) -> None:
        res = await self.r.script(
            "mail_done",
            [self.k.mail_outbox, self.k.mail(mail_id)],
            [mail_id, outcome, next_ms, reason[:300]],
        )
        MailDoneReply.from_reply(res)  # (unknown: it was done already; nothing to do)

    async def sent(self, mail_id: str) -> None:
        await self._done(mail_id, "sent", 0, "")

    async def dropped(self, mail_id: str, reason: str) -> None:
        await self._done(mail_id, "dropped", 0, reason)

    async def retry(self, mail_id: str, next_ms: int, reason: str) -> None:
        await self._done(mail_id, "retry", next_ms, reason)

    async def status(self) -> tuple[int, int | None]:
        """How many mails wait, and when the oldest of the first hundred due was made (ms)."""
        pipe = self.r.client.pipeline(transaction=False)
        pipe.zcard(self.k.mail_outbox)
        pipe.zrange(self.k.mail_outbox, 0, 99)
        n, first = await self.r.call(pipe.execute())
        if not first:
            return int(n), None
        pipe = self.r.client.pipeline(transaction=False)
        for mail_id in first:
            pipe.hget(self.k.mail(mail_id), "created_ms")
        made = [int(v) for v in await self.r.call(pipe.execute()) if v]
        return int(n), min(made) if made else None
