"""The directory (宛名): which person (団体内統合宛名番号) a subject code (機関別符号) stands for.

Both sides are stored only as person keys. A subject code missing here means the person is
unknown, and an unknown person is never answered automatically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.crypto import Keyring
from gateway.store.events import append
from gateway.store.redis import Redis

ATENA_NUMBER = re.compile(r"^[0-9]{15}$")
SUBJECT_CODE = re.compile(r"^[A-Za-z0-9]{1,64}$")


class DirectoryStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    async def put_many(
        self, pairs: Iterable[tuple[str, str]], actor: str, batch: int = 5000
    ) -> int:
        """Store (atena_number, subject_code) pairs; the caller has validated them."""
        count = 0
        pipe = self.r.client.pipeline(transaction=False)
        pending = 0
        for atena, subject in pairs:
            pipe.set(
                self.k.directory(self.keyring.person_key("subject", subject)),
                self.keyring.person_key("atena", atena),
            )
            pending += 1
            count += 1
            if pending >= batch:
                await self.r.call(self.r.execute(pipe), timeout=max(30.0, self.r.timeout))
                pipe = self.r.client.pipeline(transaction=False)
                pending = 0
        if pending:
            await self.r.call(self.r.execute(pipe), timeout=max(30.0, self.r.timeout))
        await append(self.r, "directory.imported", actor, count=count)
        return count

    async def person_of_subject(self, subject_code: str) -> str | None:
        """The atena person key of a subject code, or None when the directory does not know it."""
        keys = [self.k.directory(s) for s in self.keyring.person_keys("subject", subject_code)]
        values = await self.r.call(self.r.client.mget(keys))
        return next((v for v in values if v), None)


def validate_pair(atena: str, subject: str) -> str | None:
    """Why a directory row is unusable, or None when it is fine."""
    if not ATENA_NUMBER.match(atena):
        return "atena_number must be 15 digits"
    if not SUBJECT_CODE.match(subject):
        return "subject_code must be 1-64 letters or digits"
    return None
