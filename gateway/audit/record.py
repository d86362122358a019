"""One sealed record of the audit trail: its canonical encoding, its hash, and the Ed25519
signature that closes a block of events.

Pure (the standard library and `cryptography`, nothing of the gateway): the offline verifier
uses this module and `verify.py` only. The format is documented for auditors in docs/audit.md.

A sealed event is one JSON object on one line. Format 2 (written now):

    {"actor":..,"at":..,"decision":..,"fields":{..},"hash":..,"id":..,"kind":..,"prev":..,
     "reason":..,"seq":7,"subject":..,"v":2}

and the last event of a block (one sealing step) also has `block` (the block's first seq), `key`
(the signing key version) and `sig`:

    {..,"block":5,..,"key":1,..,"seq":8,"sig":..,..,"v":2}

`id` is the event's id in the event log (the stream entry id it was appended under, which the
staff console and reviews refer to); `seq` its place in the chain; `prev` the previous event's
`hash` (64 zeros before the first). `hash` is SHA-256 (lowercase hex) of the canonical encoding of
the object without `hash` and `sig`, so `block`, `key` and `seq` are inside it; `sig` is the
Ed25519 signature (standard base64) of the 32 bytes of that hash. One signature thus vouches for
(first seq, last seq, last hash, key version) and, through every `prev`, for each event of the
block. Format 1 (read, no longer written) signed every event: each had `key` and `sig`, no
`block`; a format-1 event is a block of one.

The canonical encoding is RFC 8785 (JCS) for objects holding only strings, integers and such
objects: keys sorted, no whitespace, UTF-8, minimal escapes. The line itself is the canonical
encoding of the whole object, so that any changed byte shows.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS = "0" * 64
FORMAT = 2  # what the sealer writes; format 1 (a signature on every event) is still read
FORMATS = (1, 2)
# The most events one block may hold: the sealer's setting is bounded by it, and the verifier
# gives up on a stretch this long without a signature instead of holding it in memory.
MAX_BLOCK_EVENTS = 65536
# The first-class parts of an event; every other field of the raw event goes into `fields`.
TOP = ("kind", "at", "actor", "subject", "decision", "reason")
EVENT_KEYS_V2 = frozenset({"v", "seq", "id", "prev", "hash", "fields", *TOP})
BLOCK_KEYS = frozenset({"block", "key", "sig"})  # on the last event of a block only
EVENT_KEYS_V1 = frozenset({*EVENT_KEYS_V2, "key", "sig"})


# json.dumps with these arguments builds this very encoder on every call; made once, it writes
# the same text without that cost (the sealer encodes every event twice)
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def canonical(obj: dict[str, Any]) -> bytes:
    """RFC 8785 for our values (strings, integers, objects of them; ASCII keys)."""
    return _CANONICAL(obj).encode()


def digest(obj: dict[str, Any]) -> str:
    body = {k: v for k, v in obj.items() if k not in ("hash", "sig")}
    return hashlib.sha256(canonical(body)).hexdigest()


def sign(obj: dict[str, Any], key_version: int, private: Ed25519PrivateKey) -> dict[str, Any]:
    """`obj` with `key`, `hash` and `sig` added (any earlier ones replaced)."""
    out = {k: v for k, v in obj.items() if k not in ("hash", "sig")}
    out["key"] = key_version
    out["hash"] = digest(out)
    out["sig"] = base64.b64encode(private.sign(bytes.fromhex(out["hash"]))).decode()
    return out


@dataclass(frozen=True, slots=True)
class Sealed:
    seq: int
    line: str  # the canonical encoding of the whole event: what the trail and exports hold
    hash: str


def chain_event(seq: int, event_id: str, raw: dict[str, str], prev: str) -> dict[str, Any]:
    """The format-2 event for one raw event (its fields as appended by `emit`), without `hash`.

    `decision` is the raw event's own, or else the last part of its kind (`query.held` ->
    `held`); `reason` and `subject` (a person key) are the raw event's, or empty.
    """
    data = dict(raw)
    kind = data.pop("kind", "")
    return {
        "v": FORMAT,
        "seq": seq,
        "id": event_id,
        "kind": kind,
        "at": data.pop("at", ""),
        "actor": data.pop("actor", ""),
        "subject": data.pop("subject", ""),
        "decision": data.pop("decision", "") or kind.rsplit(".", 1)[-1],
        "reason": data.pop("reason", ""),
        "fields": {str(k): str(v) for k, v in data.items()},
        "prev": prev,
    }


def chain_events(
    seq: int,
    raw: list[tuple[str, dict[str, str]]],
    prev: str,
    *,
    close: tuple[int, int, Ed25519PrivateKey] | None = None,
) -> list[Sealed]:
    """Number and chain raw events (entry id, fields) from `seq` on, after `prev`. With `close`
    (the block's first seq, the key version, the private key) the last one closes the block: it
    names the block's first seq and the key version and carries the block's one signature."""
    out: list[Sealed] = []
    last = len(raw) - 1
    for i, (event_id, fields) in enumerate(raw):
        event = chain_event(seq + i, event_id, fields, prev)
        if i == last and close is not None:
            first, key_version, private = close
            event["block"] = first
            event = sign(event, key_version, private)
        else:
            event["hash"] = hashlib.sha256(canonical(event)).hexdigest()
        prev = event["hash"]
        out.append(Sealed(seq + i, canonical(event).decode(), prev))
    return out


class RecordError(Exception):
    """What is wrong with one line, named as the verifier reports it."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail


def parse_line(text: str) -> dict[str, Any]:
    """The object on one line, if it is one in canonical form; else RecordError("changed")."""
    try:
        obj = json.loads(text)
    except ValueError:
        raise RecordError("changed", "the line is not JSON") from None
    if not isinstance(obj, dict):
        raise RecordError("changed", "the line is not a JSON object")
    try:
        same = canonical(obj).decode() == text
    except (TypeError, ValueError):
        same = False
    if not same:
        raise RecordError("changed", "the line is not in canonical form (bytes were altered)")
    return obj


def check_hash(obj: dict[str, Any]) -> None:
    """The object's hash matches its content, else RecordError("changed")."""
    if not isinstance(obj.get("hash"), str):
        raise RecordError("changed", "no hash")
    if digest(obj) != obj["hash"]:
        raise RecordError("changed", "the content does not match its hash")


def check_signature(obj: dict[str, Any], pubkeys: dict[int, Ed25519PublicKey]) -> None:
    """The signature on the object's hash is good (the hash already checked), else RecordError."""
    key = obj.get("key")
    if not isinstance(key, int):
        raise RecordError("changed", "no key version")
    public = pubkeys.get(key)
    if public is None:
        raise RecordError("unknown key", f"signed with key version {key}, not among the keys given")
    try:
        public.verify(
            base64.b64decode(obj.get("sig", ""), validate=True), bytes.fromhex(obj["hash"])
        )
    except (InvalidSignature, ValueError, TypeError):
        raise RecordError(
            "bad signature", f"the signature does not verify with key version {key}"
        ) from None


def check_signed(obj: dict[str, Any], pubkeys: dict[int, Ed25519PublicKey]) -> None:
    """The object's hash matches its content and its signature is good, else RecordError."""
    if not isinstance(obj.get("key"), int):
        raise RecordError("changed", "no key version or hash")
    check_hash(obj)
    check_signature(obj, pubkeys)


def _whole(value: object) -> bool:
    return type(value) is int  # not a bool, not 1.0


def check_event(obj: dict[str, Any]) -> bool:
    """The event has the fields and types of its format; True if it is signed (the last event
    of a block; every format-1 event)."""
    version = obj.get("v")
    if not _whole(version) or version not in FORMATS:
        raise RecordError("changed", f"unknown format version {version!r}")
    keys = set(obj)
    if keys not in (
        [EVENT_KEYS_V1] if version == 1 else [EVENT_KEYS_V2, EVENT_KEYS_V2 | BLOCK_KEYS]
    ):
        want = EVENT_KEYS_V1 if version == 1 else EVENT_KEYS_V2
        missing, extra = sorted(want - keys), sorted(keys - want - BLOCK_KEYS)
        if version == 1:
            extra = sorted(keys - want)
        detail = f"missing {missing}, extra {extra}"
        if not missing and not extra:
            detail = f"{sorted(BLOCK_KEYS & keys)} without the rest of {sorted(BLOCK_KEYS)}"
        raise RecordError("changed", f"fields differ from format {version} ({detail})")
    seq = obj["seq"]
    if not _whole(seq) or seq < 1:
        raise RecordError("changed", "seq is not a positive integer")
    if not all(isinstance(obj[k], str) for k in ("prev", "id", *TOP)):
        raise RecordError("changed", "a field that must be a string is not")
    if not isinstance(obj["fields"], dict):
        raise RecordError("changed", "fields has the wrong type")
    if "key" in obj and not _whole(obj["key"]):
        raise RecordError("changed", "key is not a version number")
    if version == 1:
        return True
    if "block" not in obj:
        return False
    if not _whole(obj["block"]) or not 1 <= obj["block"] <= seq:
        raise RecordError("changed", "block is not the seq of an event at or before this one")
    return True
