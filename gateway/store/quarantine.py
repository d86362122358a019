"""Holds for review (quarantine): a subject or a person whose every query is held until a member
of staff confirms that its flag state is established again.

A review is opened inside the atomic step that makes it necessary (a directory import moving a
subject code to another person: lua/directory_write.lua; or `open` below), and from then on the
admission (lua/admit.lua) and the automatic path's last moment (lua/complete.lua) hold every
query about that subject, or about that person whatever subject code it arrives under, with the
review's reason. Only `confirm` closes it, recorded with its actor and a sealed note; nothing
closes it by itself. Reviews are kept (never deleted), the open ones indexed apart.

Scopes: 'subject' (a subject key, 機関別符号) and 'person' (an atena person key, 団体内統合宛名番号).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from gateway import metrics
from gateway.crypto import Keyring
from gateway.model import HoldReason
from gateway.store.redis import Redis
from gateway.store.replies import OpenedReply, OutcomeReply
from gateway.store.sealing import part_context

SCOPES = ("subject", "person")
# The fields every review has; anything else on it is what opened it (see `details`).
_CORE = frozenset(
    {
        "id",
        "scope",
        "key",
        "reason",
        "state",
        "opened_at",
        "opened_by",
        "confirmed_at",
        "confirmed_by",
        "note",
    }
)
PAGE = 500  # reviews read per round trip when listing (the list itself is always whole)


def new_review_id() -> str:
    return secrets.token_hex(10)  # opaque, like a held query's id: it appears in console URLs


_note_context = part_context("quarantine", "note")


class ReviewRefused(ValueError):
    """A confirmation refused: `code` is unknown, not_open or same_person (the store), or
    still_differs (the check still finds the state unlike the trail: `state` says what)."""

    def __init__(self, code: str, state: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.state = state


@dataclass(slots=True)
class Quarantine:
    """One review: what is held (scope, key), why (reason, a HoldReason), who opened and who
    confirmed it. `details` is what opened it (for a remap: the import, its line, the old and new
    person keys and their flag status then). No plaintext personal data; the note is unsealed
    only when asked for."""

    id: str
    scope: str
    key: str
    reason: str
    state: str  # open | confirmed
    opened_at: str
    opened_by: str
    confirmed_at: str = ""
    confirmed_by: str = ""
    note: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.state == "open"

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "scope": self.scope,
            "key": self.key,
            "reason": self.reason,
            "state": self.state,
            "opened_at": self.opened_at,
            "opened_by": self.opened_by,
            "confirmed_at": self.confirmed_at or None,
            "confirmed_by": self.confirmed_by or None,
            "note": self.note,
            **self.details,
        }


class QuarantineStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    async def open(
        self,
        scope: str,
        key: str,
        reason: HoldReason,
        actor: str,
        details: dict[str, str] | None = None,
    ) -> str:
        """Open a review of (scope, key) in one atomic step with its event; its id. From the
        moment this returns, every query about it is held."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        if not key:
            raise ValueError("a review needs the key of what it holds")
        extra = details or {}
        clash = _CORE & extra.keys()
        if clash:
            raise ValueError(f"details may not be named {sorted(clash)}")
        review_id = new_review_id()
        flat: list[str] = []
        for k, v in extra.items():
            flat += [k, str(v)]
        res = await self.r.script(
            "quarantine_open",
            [self.k.quarantine(review_id)],
            [review_id, scope, key, HoldReason(reason).value, actor, *flat],
        )
        OpenedReply.from_reply(res)
        return review_id

    async def confirm(
        self, review_id: str, actor: str, note: str, *, reason: str | None = None
    ) -> Quarantine:
        """Close an open review (its subject or person is held no longer, unless another review
        of it is open); refused for one's own review (its opener: nobody confirms their own),
        and, with `reason`, for a review of another reason. The review after it."""
        res = await self.r.script(
            "quarantine_confirm",
            [self.k.quarantine(review_id)],
            [
                review_id,
                actor,
                self.keyring.seal(note, _note_context(review_id)),
                reason or "",
            ],
        )
        reply = OutcomeReply.from_reply(res)
        if reply.outcome == "same_person":
            metrics.SECURITY_EVENTS.labels("self_approval").inc()  # the script recorded it
            raise ReviewRefused("same_person")
        if reply.outcome == "not_open":
            raise ReviewRefused("not_open", reply.value("state"))
        if reply.outcome != "confirmed":
            raise ReviewRefused("unknown")
        found = await self.get(review_id, unseal=True)
        assert found is not None
        return found

    async def get(self, review_id: str, *, unseal: bool = False) -> Quarantine | None:
        raw = await self.r.call(self.r.client.hgetall(self.k.quarantine(review_id)))
        return self._review(raw, unseal) if raw else None

    async def under_review(self, scope: str, key: str) -> dict[str, str]:
        """The open reviews of (scope, key): id -> reason."""
        return dict(await self.r.call(self.r.client.hgetall(self.k.quarantined(scope, key))))

    async def count_open(self) -> int:
        return int(await self.r.call(self.r.client.zcard(self.k.quarantine_open)))

    async def list(self, *, open_only: bool = True, reason: str | None = None) -> list[Quarantine]:
        """Every open review (or every review ever), oldest first; all of them, read in pages."""
        index = self.k.quarantine_open if open_only else self.k.quarantine_all
        # the ids in one read (a review confirmed meanwhile leaves the open index: offsets would
        # shift under a paged read and skip one), the reviews in pages
        ids = await self.r.call(self.r.client.zrange(index, 0, -1))
        out: list[Quarantine] = []
        for i in range(0, len(ids), PAGE):
            pipe = self.r.client.pipeline(transaction=False)
            for review_id in ids[i : i + PAGE]:
                pipe.hgetall(self.k.quarantine(review_id))
            rows = await self.r.call(pipe.execute())
            out += [
                self._review(raw, unseal=True)
                for raw in rows
                if raw and (reason is None or raw.get("reason") == reason)
            ]
        return out

    def _review(self, raw: dict[str, str], unseal: bool) -> Quarantine:
        note = None
        if unseal and raw.get("note"):
            note = self.keyring.unseal_text(raw["note"], _note_context(raw["id"]))
        return Quarantine(
            id=raw["id"],
            scope=raw.get("scope", ""),
            key=raw.get("key", ""),
            reason=raw.get("reason", ""),
            state=raw.get("state", ""),
            opened_at=raw.get("opened_at", ""),
            opened_by=raw.get("opened_by", ""),
            confirmed_at=raw.get("confirmed_at", ""),
            confirmed_by=raw.get("confirmed_by", ""),
            note=note,
            details={k: v for k, v in raw.items() if k not in _CORE},
        )
