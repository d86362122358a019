"""lua/keyring_check.lua through every combination of its facts against the pure core its table
is generated from (gateway/keyring_rules.py): a host whose keys differ from the store's, or lack
one the store was written with, records nothing and is refused; otherwise the versions the store
has not seen are recorded.

Each case is built in a real Redis with the store's key directly (the check values it was
written with), for a gateway that made its own check already (audit_support.fresh), and the
real script is run as gateway/store/keycheck.py runs it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from gateway import keyring_rules
from gateway.context import Gateway
from gateway.settings import Settings
from gateway.store.replies import KeyringReply
from gateway.store.rules_lua import RULES
from tests.audit_support import fresh

BOOLS = (False, True)


def test_no_host_with_other_keys_is_let_through_is_safe() -> None:
    for key, out in RULES["keyring"].table().items():
        assert (out == "ok") is (key == "0:0"), key


@pytest.fixture
async def gw(settings: Settings, redis_url: str) -> AsyncIterator[Gateway]:
    async with fresh(settings, redis_url) as gateway:
        yield gateway


async def test_the_keys_are_checked_as_the_core_says(gw: Gateway) -> None:
    r, key = gw.redis.client, gw.redis.keys.keyring_check
    mine = gw.keyring.check_values()
    flat = [part for name, value in sorted(mine.items()) for part in (name, value)]
    first, *others = sorted(mine)
    assert others, "a keyring holds more than one key (hmac, aes, signing)"
    for differs, missing in itertools.product(BOOLS, BOOLS):
        await r.delete(key)
        stored = {name: mine[name] for name in others}  # `first` not seen by the store yet
        if differs:
            stored[others[0]] = "0" * len(mine[others[0]])
        if missing:
            stored["hmac-99"] = "1" * 16
        await r.hset(key, mapping=stored)
        want = keyring_rules.keyring_agreement(differs, missing)
        case = (differs, missing)
        reply = KeyringReply.from_reply(
            await gw.redis.run_script("keyring_check", [key], flat, acknowledged=True)
        )
        assert reply.outcome == want, case
        after = await r.hgetall(key)
        if want == "ok":
            assert after == {**stored, first: mine[first]}, case  # the new version recorded
        else:
            assert after == stored, case  # a refused host records nothing
            name = {"differs": others[0], "missing": "hmac-99"}[want]
            assert reply.text("name") == name, case
