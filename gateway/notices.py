"""Telling the holding departments (保有課) of attempts on the persons they hold a flag on.

Every stop (a hold, a blocked or filtered portal view, a withheld answer, a refused read or remap)
writes its event and a copy of it to the inbox of attempts in the same atomic step, naming the
departments whose hold on the person had a flag on at that moment (lua/prelude.lua `emit_stop`):
exact, with no lag in who is told, and no cost on the automatic path, which stops nothing.
This module folds the inbox, a run at a time, into each department's attempts (what
gateway.attempts says is one), the mails to the departments' mailboxes (gateway/mail.py sends
them) and the pattern rules' counts (gateway/rules.py), in one script that applies only where the
last fold ended. Every gateway process folds in the background about once a second, and a
registrar's page folds first, so the console's count is never behind what the store holds.
Nothing is lost: an entry leaves the inbox only in the step that folds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from gateway import metrics
from gateway.attempts import AttemptKind, attempt_of, portal_outcome
from gateway.crypto import Keyring
from gateway.rules import Limits, Observation, observations
from gateway.settings import AttemptSettings
from gateway.store.attempts import AttemptStore, InboxEntry, NewAttempt, new_attempt_id
from gateway.store.events import Event
from gateway.store.redis import Redis, StoreUnavailable, cancel_requested

log = logging.getLogger("hogo.notices")

BATCH = 500  # inbox entries folded in one step
ROUNDS = 20  # steps one catch-up takes at most before it lets others run
_ENTRY_FIELDS = ("event", "kind", "at", "ms", "actor")


def event_of(entry: InboxEntry) -> tuple[Event, int]:
    """The stop's event as the log has it, and when it happened (ms)."""
    f = entry.fields
    rest = {k: v for k, v in f.items() if k not in _ENTRY_FIELDS}
    ev = Event(
        f.get("event") or entry.id, f.get("kind", ""), f.get("at", ""), f.get("actor", ""), rest
    )
    return ev, int(f.get("ms") or 0)


def stopped(ev: Event) -> str:
    """What the gateway did at the time: held, blocked, filtered, withheld, refused, held_for_review."""
    if ev.kind == "query.held":
        return "held"
    if ev.kind == "query.answer_withheld":
        return "withheld"
    if ev.kind == "directory.remapped":
        return "held_for_review"
    return portal_outcome(ev) or "refused"


class Notices:
    def __init__(self, redis: Redis, keyring: Keyring, settings: AttemptSettings) -> None:
        self.store = AttemptStore(redis, keyring)
        self.clock = redis.clock  # the inbox's stamps are the store's clock's
        self.settings = settings
        self.limits = Limits.of(settings)
        self._lock = asyncio.Lock()  # one fold at a time in this process (others: the script)

    def plan(self, entries: list[InboxEntry]) -> tuple[list[NewAttempt], list[Observation]]:
        """Each department's attempts and the rules' observations of a run of the inbox."""
        attempts: list[NewAttempt] = []
        seen: list[Observation] = []
        for entry in entries:
            ev, ms = event_of(entry)
            attempt = attempt_of(ev)
            seen += observations(ev, attempt, ms)
            if attempt is None:
                continue
            f = ev.fields
            reader = ""
            if attempt.kind is AttemptKind.READ_REFUSED:
                reader = " / ".join(
                    x for x in (f.get("department", ""), f.get("business", "")) if x
                )
            for department, person in sorted(attempt.holders.items()):
                attempts.append(
                    NewAttempt(
                        id=new_attempt_id(),
                        department=department,
                        kind=attempt.kind.value,
                        event=ev.id,
                        at=ev.at,
                        ms=ms,
                        person=person,
                        org=f.get("org", ""),
                        query=f.get("query", ""),
                        operation=f.get("operation", ""),
                        reason=f.get("reason", ""),
                        stopped=stopped(ev),
                        review=f.get("review", ""),
                        reader=reader,
                        mail=new_attempt_id() if self.settings.mailbox(department) else "",
                    )
                )
        return attempts, seen

    async def catch_up(self) -> int:
        """Fold what the inbox holds (at most ROUNDS runs); how many entries were folded here."""
        folded = 0
        async with self._lock:
            for _ in range(ROUNDS):
                cursor, entries = await self.store.inbox(BATCH)
                if not entries:
                    break
                attempts, seen = self.plan(entries)
                done = await self.store.fold(
                    cursor, entries[-1].id, [e.id for e in entries], attempts, seen, self.limits
                )
                if done.applied:
                    folded += len(entries)
                    for kind, n in Counter(a.kind for a in attempts).items():
                        metrics.ATTEMPTS_TOLD.labels(kind).inc(n)
                # (else another process folded this run meanwhile: read on from where it ended)
        return folded

    async def run_forever(self, interval: float = 1.0) -> None:
        """Fold in the background, as long as the process runs."""
        while not cancel_requested():
            try:
                await self.catch_up()
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("folding the inbox of attempts failed")
            # what still waits (alert HogoAttemptsNotTold), also when the fold failed
            with contextlib.suppress(StoreUnavailable):
                metrics.ATTEMPTS_INBOX.set(await self.store.waiting())
                oldest = await self.store.oldest_ms()
                age = 0.0 if oldest is None else max(0.0, (self.clock.now_ms() - oldest) / 1000)
                metrics.ATTEMPTS_INBOX_AGE.set(age)
            if not cancel_requested():
                await asyncio.sleep(interval)
