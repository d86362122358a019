"""One sealed record of the audit trail: its canonical encoding, hash and Ed25519 signature.

Pure (the standard library and `cryptography`, nothing of the gateway): the offline verifier
uses this module and `verify.py` only. The format is documented for auditors in docs/audit.md.

A sealed event is one JSON object on one line:

    {"actor":..,"at":..,"decision":..,"fields":{..},"hash":..,"id":..,"key":1,"kind":..,
     "prev":..,"reason":..,"seq":1,"sig":..,"subject":..,"v":1}

`id` is the event's id in the event log (the stream entry id it was appended under, which the
staff console and reviews refer to); `seq` its place in the chain.

`hash` is SHA-256 (lowercase hex) of the canonical encoding of the object without `hash` and
`sig`; `sig` is the Ed25519 signature (standard base64) of the 32 bytes of that hash, made with
signing key version `key`; `prev` is the previous event's `hash` (64 zeros before the first).
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
FORMAT = 1
# The first-class parts of an event; every other field of the raw event goes into `fields`.
TOP = ("kind", "at", "actor", "subject", "decision", "reason")
EVENT_KEYS = frozenset({"v", "seq", "id", "prev", "key", "hash", "sig", "fields", *TOP})


def canonical(obj: dict[str, Any]) -> bytes:
    """RFC 8785 for our values (strings, integers, objects of them; ASCII keys)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


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


def seal_event(
    seq: int,
    event_id: str,
    raw: dict[str, str],
    prev: str,
    key_version: int,
    private: Ed25519PrivateKey,
) -> Sealed:
    """Number, chain and sign one raw event (its fields as appended by `emit`).

    `decision` is the raw event's own, or else the last part of its kind (`query.held` ->
    `held`); `reason` and `subject` (a person key) are the raw event's, or empty.
    """
    data = dict(raw)
    kind = data.pop("kind", "")
    event: dict[str, Any] = {
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
    signed = sign(event, key_version, private)
    return Sealed(seq, canonical(signed).decode(), signed["hash"])


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


def check_signed(obj: dict[str, Any], pubkeys: dict[int, Ed25519PublicKey]) -> None:
    """The object's hash matches its content and its signature is good, else RecordError."""
    key = obj.get("key")
    if not isinstance(key, int) or not isinstance(obj.get("hash"), str):
        raise RecordError("changed", "no key version or hash")
    if digest(obj) != obj["hash"]:
        raise RecordError("changed", "the content does not match its hash")
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


def check_event(obj: dict[str, Any]) -> None:
    """The event has the fields and types of the format."""
    if set(obj) != EVENT_KEYS:
        missing = sorted(EVENT_KEYS - set(obj))
        extra = sorted(set(obj) - EVENT_KEYS)
        raise RecordError(
            "changed", f"fields differ from the format (missing {missing}, extra {extra})"
        )
    if obj["v"] != FORMAT:
        raise RecordError("changed", f"unknown format version {obj['v']!r}")
    if not isinstance(obj["seq"], int) or obj["seq"] < 1:
        raise RecordError("changed", "seq is not a positive integer")
    if not all(isinstance(obj[k], str) for k in ("prev", "id", *TOP)):
        raise RecordError("changed", "a field that must be a string is not")
    if not isinstance(obj["fields"], dict):
        raise RecordError("changed", "fields has the wrong type")
