"""What every part of the flag store shares: the flag and basis names, the contexts under which
names, atena numbers and notes are sealed, a person's key, and who has a record at all."""

from __future__ import annotations

from gateway.crypto import Keyring
from gateway.store.redis import Redis
from gateway.store.sealing import part_context

FLAG_NAMES = ("auto_response_disabled", "non_disclosure")
BASES = ("application", "ex-officio")


# one context for every department's sealing of the person's name: the name is the person's
name_context = part_context("flag", "name")


atena_context = part_context("flag", "atena")


note_context = part_context("flag", "note")


class FlagStoreBase:
    """The store's handles; FlagStore (gateway.store.flags) is made of this and its parts."""

    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    async def person_key(self, atena_number: str) -> str:
        """The key this person's record is stored under (an older key version if it was made so)."""
        candidates = self.keyring.person_keys("atena", atena_number)
        if len(candidates) > 1:
            pipe = self.r.client.pipeline(transaction=False)
            for pk in candidates:
                pipe.exists(self.k.flag(pk))
            found = await self.r.call(pipe.execute())
            for pk, hit in zip(candidates, found, strict=True):
                if hit:
                    return pk
        return candidates[0]

    async def all_keys(self) -> list[str]:
        """Every person with a flag record, flagged now or ever (the index is never trimmed)."""
        return list(await self.r.call(self.r.client.zrange(self.k.flag_index, 0, -1)))
