"""A role of the audit trail ('sealer', 'archiver') that one process at a time holds.

The lease is a store key with a TTL, renewed well before it runs out. Holding it is only a
belief: every write the role makes (lua/audit_seal.lua, lua/audit_trim.lua) checks the lease's
value in the same atomic step, so a holder that was paused past its TTL and lost the role to
another process writes nothing when it wakes up (fencing).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time

from gateway.store.redis import StoreUnavailable
from gateway.store.trail import TrailStore


class Lease:
    def __init__(self, trail: TrailStore, role: str, ttl_seconds: float) -> None:
        self.trail = trail
        self.role = role
        self.ttl = ttl_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.value = ""  # "epoch:holder" while we believe we hold it
        self._renewed = 0.0

    async def hold(self) -> bool:
        """Renew the lease when a third of its TTL has passed, or try to take it; True if held."""
        if self.value and time.monotonic() - self._renewed < self.ttl / 3:
            return True
        started = time.monotonic()
        value = await self.trail.take_lease(self.role, self.holder, self.value, self.ttl)
        if value is None:
            self.value = ""
            return False
        self.value, self._renewed = value, started
        return True

    def lost(self) -> None:
        self.value = ""

    async def drop(self) -> None:
        """Give the role back at a clean stop, so that another process takes over at once."""
        if self.value:
            with contextlib.suppress(StoreUnavailable):
                await self.trail.drop_lease(self.role, self.value)
            self.value = ""
