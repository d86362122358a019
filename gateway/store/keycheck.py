"""Every gateway host, and every command, must use the same keys as the store was written with.

A host with other keys (a fresh data dir makes new ones; a copy that missed a rotation) would look
persons up under other person keys: a flag set there would be invisible to the other hosts, whose
queries about that person would then be answered automatically. So before its first store call,
each process compares the check values of its keys (`Keyring.check_values`: they reveal nothing
of the keys) with those recorded in the store, and records the versions the store has not seen.
A difference fails closed: every store call of that process is StoreUnavailable from then on.
"""

from __future__ import annotations

import logging

from gateway.crypto import Keyring
from gateway.store.redis import Redis, StoreUnavailable
from gateway.store.replies import KeyringReply

log = logging.getLogger("hogo.keys")


class KeyringMismatch(StoreUnavailable):
    """This host's keys are not the keys the store was written with."""


def guard_keyring(redis: Redis, keyring: Keyring) -> None:
    """Check `keyring` against the store before the first store call of this process."""
    values = keyring.check_values()
    flat = [part for name, value in sorted(values.items()) for part in (name, value)]
    refusal: KeyringMismatch | None = None

    async def check() -> None:
        nonlocal refusal
        if refusal is not None:
            raise refusal
        res = await redis.run_script(
            "keyring_check", [redis.keys.keyring_check], flat, acknowledged=True
        )
        reply = KeyringReply.from_reply(res)
        if reply.outcome == "ok":
            return
        name = reply.text("name")
        what = (
            f"this host's {name} key differs from the one the store was written with"
            if reply.outcome == "differs"
            else f"this host lacks the {name} key the store was written with"
        )
        refusal = KeyringMismatch(
            f"{what} ({keyring.dir}); every gateway host needs identical copies of the keys "
            "(deploy/KEYS.md)"
        )
        log.critical("%s", refusal)
        raise refusal

    redis.guard(check)
