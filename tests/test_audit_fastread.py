"""The walk's fast path (gateway/audit/fastread.py, `Chain(fast=True)`) against the full path.

Whatever line the fast path accepts, the full path (parse, format check, hash check) accepts too
and reads the same seq, prev and hash; every other line goes the full path. So a walk of any
trail reaches the same report (the same problem, seq, where and detail, the same events counted)
and hands the fold the same blocks: shown here for trails the sealer's own chaining and signing
makes (real Ed25519 keys) and for every single mutation of them: any byte changed, inserted or
deleted, lines swapped, dropped or duplicated, a line altered and re-hashed, a signature altered.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit.fastread import read_plain
from gateway.audit.record import (
    GENESIS,
    RecordError,
    canonical,
    chain_events,
    check_event,
    check_hash,
    digest,
    parse_line,
)
from gateway.audit.verify import Anchor, Chain, Line, Report
from gateway.verify.fold import KINDS
from gateway.verify.trail import Blocks, Verified

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUBKEYS = {1: KEY.public_key(), 2: OTHER.public_key()}

# any text a str can be encoded from (no lone surrogates): quotes, backslashes, controls included
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
plain = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E).filter(
    lambda c: c not in '"\\'), max_size=8) | st.text("試験花子子ども家庭課-.:,{}[] ", max_size=8)  # fmt: skip
kinds = st.sampled_from(["query.provided", "query.held", "security.portal_blocked", *sorted(KINDS)])


def raw_events(values: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.builds(
        lambda kind, at, subject, fields: {"kind": kind, "at": at, "subject": subject, **fields},
        kinds,
        values,
        values,
        st.dictionaries(values, values, max_size=4),
    )


def trail(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """Sealed lines, in blocks of 1 to 4 events, each block signed as the sealer signs it."""

    def seal(blocks: list[list[dict[str, str]]]) -> list[str]:
        lines: list[str] = []
        seq, prev = 1, GENESIS
        for n, block in enumerate(blocks):
            raw = [(f"{seq + i}-{n}", event) for i, event in enumerate(block)]
            sealed = chain_events(seq, raw, prev, close=(seq, 1 + n % 2, (KEY, OTHER)[n % 2]))
            lines += [s.line for s in sealed]
            seq, prev = seq + len(sealed), sealed[-1].hash
        return lines

    return st.lists(
        st.lists(raw_events(values), min_size=1, max_size=4), min_size=1, max_size=4
    ).map(seal)


# -- the walks -------------------------------------------------------------------------------
def as_lines(lines: list[str | None]) -> list[Line]:
    return [Line(t, f"trail entry {n}-0") for n, t in enumerate(lines, 1)]


def walk(lines: list[Line], fast: bool, start: tuple[int | None, str | None]) -> dict[str, Any]:
    """What `audit verify` says of these lines: its report and what stays unsigned."""
    report = Report()
    chain = Chain(PUBKEYS, report, seq=start[0], prev=start[1], fast=fast)
    for line in lines:
        if not chain.feed(line):
            break
    chain.finish()
    unsigned = chain.unsigned
    chain.fail_unsigned()
    return {"report": report.as_json(), "unsigned": unsigned, "walked": chain.walked}


def claimed(line: Line) -> tuple[int, str]:
    """The seq and hash a line claims (what an export's end record would name), if any."""
    try:
        obj = json.loads(line.text or "")
        return int(obj["seq"]), str(obj["hash"])
    except (ValueError, TypeError, KeyError):
        return 1, GENESIS


def walk_export(lines: list[Line], fast: bool) -> dict[str, Any]:
    """An export's range that ends inside a block: the lines but the last, vouched for by an
    end record naming the last of them (as `audit verify` reads an export)."""
    report = Report()
    chain = Chain(PUBKEYS, report, seq=None, prev=None, fast=fast)
    for line in lines[:-1]:
        if not chain.feed(line):
            break
    seq, digest_ = claimed(lines[-2]) if len(lines) > 1 else (1, GENESIS)
    chain.finish(Anchor(seq, digest_, "the end record"))
    chain.fail_unsigned()
    return {"report": report.as_json(), "walked": chain.walked}


def fold(lines: list[Line], fast: bool) -> list[Verified | Any]:
    """What the flag state check's fold is handed: each verified block, then the problem."""
    blocks = Blocks(PUBKEYS, seq=0, hash="", fast=fast)
    out: list[Any] = []
    for line in lines:
        item, more = blocks.feed(line)
        if item is not None:
            out.append(item)
        if not more:
            break
    out.append(blocks.finish(len(lines)))
    return out


def assert_same(lines: list[Line]) -> None:
    for start in ((1, GENESIS), (None, None)):  # the live trail; a file on its own
        assert walk(lines, True, start) == walk(lines, False, start)
    assert walk_export(lines, True) == walk_export(lines, False)
    assert fold(lines, True) == fold(lines, False)


def full_read(text: str) -> tuple[int, str, str] | RecordError:
    try:
        obj = parse_line(text)
        signed = check_event(obj)
        check_hash(obj)
    except RecordError as err:
        return err
    assert not signed or "sig" in obj
    return obj["seq"], obj["prev"], obj["hash"]


def assert_line_agrees(text: str | None) -> None:
    """Whatever the fast path accepts, the full path accepts as an unsigned event, reading the
    same seq, prev and hash."""
    if text is None:
        return
    fast = read_plain(text)
    if fast is not None:
        assert full_read(text) == fast
        assert '"sig":' not in text


# -- mutations ---------------------------------------------------------------------------------
BYTES = [b'"', b"\\", b",", b":", b"{", b"}", b"0", b"1", b"9", b"a", b"f", b"g", b" ", b"\n",
         b"\x00", b"\x1f", b"\xe3", b"\xe8\xa9\xa6", b"\\u0022", b"\\n", b"\xed\xa0\x80"]  # fmt: skip


def mutate_bytes(lines: list[str], data: st.DataObject) -> list[Line]:
    """One byte changed, inserted or deleted anywhere in the file (newlines included), read back
    as the files are read (not UTF-8: None; the last line maybe incomplete)."""
    blob = bytearray("".join(t + "\n" for t in lines).encode())
    kind = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    at = data.draw(st.integers(0, len(blob) - 1))
    piece = data.draw(st.sampled_from(BYTES) | st.binary(min_size=1, max_size=1))
    if kind == "replace":
        blob[at : at + 1] = piece[:1] if piece[:1] != blob[at : at + 1] else b"#"
    elif kind == "insert":
        blob[at:at] = piece
    else:
        del blob[at]
    out: list[Line] = []
    raws = bytes(blob).split(b"\n")
    for n, raw in enumerate(raws, 1):
        last = n == len(raws)
        if last and not raw:
            break
        try:
            text: str | None = raw.decode()
        except UnicodeDecodeError:
            text = None
        out.append(Line(text, f"file line {n}", complete=not last))
    return out


def rehash(text: str, data: st.DataObject) -> str:
    """The line with one value altered and its hash made to match again (a forger's edit)."""
    obj = json.loads(text)
    name = data.draw(st.sampled_from(["at", "actor", "kind", "reason", "subject", "id", "prev"]))
    obj[name] = obj[name] + data.draw(st.sampled_from(["x", "1", "試", "\\", '"']))
    obj["hash"] = digest(obj)
    if "sig" in obj:  # re-signed with a key the verifier knows: only the chain can tell
        obj["sig"] = base64.b64encode(KEY.sign(bytes.fromhex(obj["hash"]))).decode()
        obj["key"] = 1
        obj["hash"] = digest(obj)
        obj["sig"] = base64.b64encode(KEY.sign(bytes.fromhex(obj["hash"]))).decode()
    return canonical(obj).decode()


def own_hash(text: str) -> str:
    """The text with its hash made to match the text itself (as a forger can for any text)."""
    start = text.find('"hash":"')
    if start < 0:  # (the escape fell in the member's name)
        return text
    end = start + len('"hash":"') + 64 + 2
    body = text[:start] + text[end:]
    return text[:start] + f'"hash":"{hashlib.sha256(body.encode()).hexdigest()}",' + text[end:]


def escape(text: str, data: st.DataObject) -> str:
    """One character of a string written another way JSON allows (same value, not canonical),
    the line's own hash made to match."""
    at = data.draw(st.integers(0, len(text) - 1))
    inside = [
        n for n in range(at, len(text)) if text[n] not in '"\\{}:,' and text.count('"', 0, n) % 2
    ]
    if not inside:
        return text
    n = inside[0]
    way = data.draw(st.sampled_from(["\\u%04x", "\\u%04X", "slash"]))
    char = text[n]
    written = (
        "\\/" if way == "slash" and char == "/" else way.replace("slash", "\\u%04x") % ord(char)
    )
    if ord(char) > 0xFFFF:
        return text
    return own_hash(text[:n] + written + text[n + 1 :])


def mutate_lines(lines: list[str], data: st.DataObject) -> list[str | None]:
    out: list[str | None] = list(lines)
    kind = data.draw(
        st.sampled_from(["swap", "drop", "duplicate", "rehash", "signature", "escape"])
    )
    i = data.draw(st.integers(0, len(out) - 1))
    j = data.draw(st.integers(0, len(out) - 1))
    if kind == "swap":
        out[i], out[j] = out[j], out[i]
    elif kind == "drop":
        del out[i]
    elif kind == "duplicate":
        out.insert(j, out[i])
    elif kind == "rehash":
        out[i] = rehash(lines[i], data)
    elif kind == "escape":
        out[i] = escape(lines[i], data)
    else:
        signed = [n for n, t in enumerate(lines) if '"sig":' in t]
        n = signed[i % len(signed)]
        obj = json.loads(lines[n])
        sig = bytearray(base64.b64decode(obj["sig"]))
        sig[data.draw(st.integers(0, len(sig) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        obj["sig"] = base64.b64encode(bytes(sig)).decode()
        out[n] = canonical(obj).decode()
    return out


# -- the properties ----------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=trail(texts) | trail(plain))
def test_whole_trails_walk_and_fold_the_same_fast_and_full(lines: list[str]) -> None:
    for text in lines:
        assert_line_agrees(text)
    assert_same(as_lines(lines))
    assert walk(as_lines(lines), True, (1, GENESIS))["report"]["ok"]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=trail(texts) | trail(plain), data=st.data())
def test_any_changed_inserted_or_deleted_byte_gets_the_same_report_fast_and_full(
    lines: list[str], data: st.DataObject
) -> None:
    mutated = mutate_bytes(lines, data)
    for line in mutated:
        assert_line_agrees(line.text)
    assert_same(mutated)
    # (a changed byte is found: never a whole trail with the same events)
    report = walk(mutated, True, (1, GENESIS))["report"]
    assert not report["ok"] or [line.text for line in mutated] == lines


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=trail(texts) | trail(plain), data=st.data())
def test_lines_swapped_dropped_duplicated_rehashed_or_resigned_get_the_same_report(
    lines: list[str], data: st.DataObject
) -> None:
    mutated = mutate_lines(lines, data)
    for text in mutated:
        assert_line_agrees(text)
    assert_same(as_lines(mutated))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=trail(plain), data=st.data())
def test_a_value_written_with_another_escape_and_its_own_hash_gets_the_same_report(
    lines: list[str], data: st.DataObject
) -> None:
    """A forger rewrites a character of a value as a JSON escape (the same value decoded, not
    the canonical bytes) and makes the line's own hash match: the full path calls the line not
    canonical, and so must the walk that takes the fast path."""
    n = data.draw(st.integers(0, len(lines) - 1))
    obj = json.loads(lines[n])
    top = ("actor", "at", "kind", "reason", "subject", "id", "decision")
    values = {k: obj[k] for k in top if obj[k]}
    values.update({k: v for k, v in obj["fields"].items() if v and k not in obj})
    if not values:
        return
    name = data.draw(st.sampled_from(sorted(values)))
    value = values[name]
    at = data.draw(st.integers(0, len(value) - 1))
    char = value[at]
    written = "\\/" if char == "/" and data.draw(st.booleans()) else f"\\u{ord(char):04x}"
    member = f'"{name}":"{value}"'
    assert member in lines[n]
    forged = lines[n].replace(member, f'"{name}":"{value[:at]}{written}{value[at + 1 :]}"', 1)
    forged = own_hash(forged)
    assert read_plain(forged) is None
    assert isinstance(full_read(forged), RecordError)
    assert_same(as_lines([*lines[:n], forged, *lines[n + 1 :]]))


@settings(max_examples=200, deadline=None)
@given(lines=trail(plain))
def test_the_sealers_ordinary_lines_take_the_fast_way(lines: list[str]) -> None:
    """Not vacuous: every unsigned line the sealer writes for ordinary values is read fast, and
    so the walk decodes only the signed ones."""
    for text in lines:
        fast = read_plain(text)
        if '"sig":' in text:
            assert fast is None
        else:
            obj = json.loads(text)
            assert fast == (obj["seq"], obj["prev"], obj["hash"])


@pytest.mark.parametrize(
    "text",
    [
        # not sorted / a name twice in fields: canonical JSON has neither
        '{"actor":"","at":"","decision":"x","fields":{"b":"1","a":"2"},"hash":"H","id":"1-0",'
        '"kind":"x","prev":"P","reason":"","seq":1,"subject":"","v":2}',
        '{"actor":"","at":"","decision":"x","fields":{"a":"1","a":"2"},"hash":"H","id":"1-0",'
        '"kind":"x","prev":"P","reason":"","seq":1,"subject":"","v":2}',
        # a seq the JSON reader would refuse (over the int digit limit), a leading zero
        '{"actor":"","at":"","decision":"x","fields":{},"hash":"H","id":"1-0","kind":"x",'
        '"prev":"P","reason":"","seq":' + "9" * 5000 + ',"subject":"","v":2}',
        '{"actor":"","at":"","decision":"x","fields":{},"hash":"H","id":"1-0","kind":"x",'
        '"prev":"P","reason":"","seq":01,"subject":"","v":2}',
        # a character written as an escape, or a solidus escaped: the same value, not canonical
        '{"actor":"\\u0041","at":"","decision":"x","fields":{},"hash":"H","id":"1-0",'
        '"kind":"x","prev":"P","reason":"","seq":1,"subject":"","v":2}',
        '{"actor":"a\\/b","at":"","decision":"x","fields":{"k":"\\u00e9"},"hash":"H","id":"1-0",'
        '"kind":"x","prev":"P","reason":"","seq":1,"subject":"","v":2}',
        # a lone surrogate (text that no UTF-8 line decodes to, but a str may hold)
        '{"actor":"\ud800","at":"","decision":"x","fields":{},"hash":"H","id":"1-0",'
        '"kind":"x","prev":"P","reason":"","seq":1,"subject":"","v":2}',
    ],
)
def test_lines_that_hash_right_but_are_not_canonical_go_the_full_way(text: str) -> None:
    """A forger can make any text's own hash match: the fast path must still refuse what the
    full path calls not canonical, so that the report names it as it always has."""
    text = text.replace('"prev":"P"', f'"prev":"{GENESIS}"')
    start = text.index('"hash":"H",')
    body = text[:start] + text[start + len('"hash":"H",') :]
    try:
        own = hashlib.sha256(body.encode()).hexdigest()
    except UnicodeEncodeError:
        own = "0" * 64
    forged = text.replace('"hash":"H"', f'"hash":"{own}"')
    assert read_plain(forged) is None
    assert isinstance(full_read(forged), RecordError)
