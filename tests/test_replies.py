"""Every script's reply is decoded by name (issue 12): a script under gateway/store/lua/ that
answers a table answers name/value pairs, and one decoder (gateway/store/replies/
REPLIES) reads it. A new script that answers by position, or whose reply no decoder reads, fails
here; a decoder refuses a reply it does not know rather than guessing what it means."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.claims import ClaimOutcome, ClaimStore
from gateway.store.replies import (
    NAMED,
    REPLIES,
    ClaimReply,
    ConfirmReply,
    FlagChangeReply,
    LoginFailedReply,
    ReplyError,
    SessionReply,
)
from gateway.store.scripts import INCLUDE, LUA_DIR
from tests.conftest import Running

# Scripts that answer one number (whether they did it), not a table.
SCALAR = {"audit_lease_drop", "audit_replay", "release_abort", "staff_flash"}
NAME = re.compile(r"^'[a-z_]+'$")
# What a reply begins with: what was decided, by name (the query path's admit, complete and
# result begin with the action or the access they decided; every other script with its outcome).
FIRST = {"'outcome'", "'action'", "'access'"}


def _scripts() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(LUA_DIR.glob("*.lua"))}


def _included() -> set[str]:
    """The files other scripts include (helpers), and the prelude: no script of their own."""
    names = {"prelude"}
    for text in _scripts().values():
        names |= set(INCLUDE.findall(text))
    return names


def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, nesting) of each character outside a string literal; an opening brace
    or parenthesis counts itself, a closing one still counts what it closes."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
            continue
        if ch in "'\"":
            quote = ch
            continue
        depth += ch in "{("
        yield i, ch, depth
        depth -= ch in "})"


def _code(text: str) -> str:
    """The script without its comments (a `--` outside a string starts one)."""
    lines = []
    for line in text.splitlines():
        end = next((i for i, _, _ in _scan(line) if line.startswith("--", i)), len(line))
        lines.append(line[:end])
    return "\n".join(lines)


def _table_literals(code: str, opener: re.Pattern[str]) -> list[str]:
    """The bodies of the table literals that follow `opener` (balanced braces, strings skipped)."""
    found = []
    for m in opener.finditer(code):
        rest = code[m.end() - 1 :]
        end = next(i for i, ch, depth in _scan(rest) if ch == "}" and depth == 1)
        found.append(rest[1:end])
    return found


def _items(body: str) -> list[str]:
    """A table literal's items, split at its own commas."""
    cuts = [i for i, ch, depth in _scan(body) if ch == "," and depth == 0]
    items = [body[a + 1 : b].strip() for a, b in zip([-1, *cuts], [*cuts, len(body)], strict=True)]
    return [item for item in items if item]


def positional(code: str) -> list[str]:
    """Each `return {...}` of the script that is not name/value pairs beginning with what was
    decided."""
    bad = []
    for body in _table_literals(code, re.compile(r"\breturn\s*\{")):
        items = _items(body)
        names = items[0::2]
        first_named = bool(items) and items[0] in FIRST
        if not first_named or len(items) % 2 or not all(NAME.match(n) for n in names):
            bad.append("{" + body + "}")
    return bad


def test_the_check_sees_a_positional_reply() -> None:
    """The static check itself: it must catch what it is there to catch."""
    assert positional("return {'ok', n}")
    assert positional("return {n, recorded}")
    assert positional("if x then return {'taken', holder, left} end")
    assert positional("return {}")
    assert not positional("return {'outcome', 'taken', 'holder', h, 'left', f(a, b)}")
    assert not positional("return {'outcome', 'ok', 'rows', {a, b, c}}  -- {'x'}")
    assert not positional(_code("-- -> {'ok'} | {'busy', who}\nreturn {'outcome', 'ok'}"))


def test_every_script_replies_by_name() -> None:
    bad = {name: positional(_code(text)) for name, text in _scripts().items()}
    assert {name: b for name, b in bad.items() if b} == {}


def test_every_script_has_its_decoder() -> None:
    """Every script the store runs is read by exactly one decoder, or answers one number."""
    runnable = set(_scripts()) - _included()
    assert runnable - set(REPLIES) == SCALAR
    assert not SCALAR & set(REPLIES)
    assert set(REPLIES) <= runnable  # no decoder of a script that is gone
    for name in SCALAR:
        assert "return {" not in _code(_scripts()[name]), name
    for cls in NAMED:  # every outcome a decoder knows, its script's header says it answers
        for script in cls.SCRIPTS:
            header = _header(_scripts()[script])
            for outcome in cls.OUTCOMES:
                assert f"'outcome', '{outcome}'" in header, (script, outcome)


def _header(text: str) -> str:
    """The script's opening comment, as one line."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.lstrip("-").strip())
    return " ".join(lines)


@pytest.mark.parametrize(
    ("decoder", "reply"),
    [
        (ClaimReply, ["taken", "someone", 30000]),  # the old positional shape
        (ClaimReply, ["outcome", "stolen"]),  # an outcome it does not know
        (ClaimReply, ["outcome", "taken", "holder", "someone"]),  # a value missing
        (ClaimReply, ["outcome", "ok", "holder", "someone"]),  # a value it does not know
        (ConfirmReply, ["outcome", "ok", "proposer", "a", "notice", "n"]),
        (SessionReply, ["outcome", "ok", "login"]),  # odd
        (LoginFailedReply, [1]),
        (FlagChangeReply, "ok"),
    ],
)
def test_a_reply_the_decoder_does_not_know_is_refused(decoder: type, reply: object) -> None:
    with pytest.raises(ReplyError):
        decoder.from_reply(reply)


def test_a_refusal_says_what_refused_it() -> None:
    taken = ClaimReply.from_reply(["outcome", "taken", "holder", "staff-b", "left", 1000])
    assert (taken.outcome, taken.detail, taken.number("left")) == ("taken", "staff-b", 1000)
    assert ClaimReply.from_reply(["outcome", "ok"]).detail == ""


async def test_a_store_answering_by_position_is_refused_not_acted_on(running: Running) -> None:
    """A script of another version loaded under a decoder's name (here: the claim's reply as it
    was before, by position) makes the step fail; it is never read as a claim taken or given."""
    gw = running.gw
    r, k = gw.redis.client, gw.redis.keys
    qid = "0" * 19 + "f"
    await r.hset(k.query(qid), mapping={"id": qid, "state": "held"})
    old = "return {'taken', 'staff-b', 1000}"
    res = await r.eval(old, 0)
    with pytest.raises(ReplyError):
        ClaimReply.from_reply(res)
    claims = ClaimStore(gw.redis, gw.keyring)
    await claims.claim(qid, "staff-a", 60000)  # the real script: by name, and it works
    assert (await claims.holders([qid]))[qid].holder == "staff-a"
    with pytest.raises(ClaimOutcome) as refused:
        await claims.claim(qid, "staff-b", 60000)
    assert (refused.value.code, refused.value.detail) == ("taken", "staff-a")


def test_the_scripts_directory_is_what_the_test_reads() -> None:
    assert Path(LUA_DIR).is_dir() and len(_scripts()) > 50
