"""The Lua scripts' sources (with the generated rule tables they ask for) and hashes, and the
error every store call may raise: what the connection (redis.py) and the script batches
(batches.py) share. The time their ARGV carries is the store wrapper's clock (gateway/clock.py)."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from gateway.errors import StoreUnavailable as StoreUnavailable
from gateway.store.rules_lua import lua_chunk

LUA_DIR = Path(__file__).with_name("lua")
# `--#include NAME` on a line of its own: NAME.lua in its place (functions some scripts share)
INCLUDE = re.compile(r"^--#include ([a-z_]+)$", re.MULTILINE)
# `--#rules NAME ...` on a line of its own: the decision tables NAME ... generated from the pure
# core, the lifecycle's steps and the helpers that read them (gateway/store/rules_lua.py), in its
# place; with no NAME, the steps and helpers alone (a script that moves a query and decides nothing)
RULES_LINE = re.compile(r"^--#rules((?: [a-z_]+)*)$", re.MULTILINE)


AUDIT_ON = "local AUDIT = true"
AUDIT_OFF = "local AUDIT = false"


@cache
def script_source(name: str, audit: bool = True) -> str:
    """The script with the prelude in front and its `--#include`s in place; with the audit off
    (the benchmark's comparison only), `emit` records nothing."""
    prelude = _lua("prelude")
    if AUDIT_ON not in prelude:
        raise RuntimeError("prelude.lua lost its audit switch")
    if not audit:
        prelude = prelude.replace(AUDIT_ON, AUDIT_OFF, 1)
    body = INCLUDE.sub(lambda m: _lua(m.group(1)), _lua(name))
    body = RULES_LINE.sub(lambda m: lua_chunk(tuple(m.group(1).split())), body)
    return prelude + "\n" + body


def _lua(name: str) -> str:
    return (LUA_DIR / f"{name}.lua").read_text()


@cache
def script_sha(name: str, audit: bool = True) -> str:
    return hashlib.sha1(script_source(name, audit).encode(), usedforsecurity=False).hexdigest()
