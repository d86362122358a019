"""The public half of the trail's signing keys, as the auditors receive it.

A public keys file is JSON: {"format": "hogo-gateway audit public keys", "keys": [{"version": 1,
"ed25519": <the 32-byte public key, base64>, "pem": <the same as SubjectPublicKeyInfo PEM>,
"sha256": <fingerprint: SHA-256 of the 32 bytes, hex>}, ...]}. Every version ever used is in it, so
events signed before a rotation stay verifiable. Pure: used by the offline verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "hogo-gateway audit public keys"
_PRIVATE_FILE = re.compile(r"^ed25519-(\d+)\.pem$")


class PubkeyError(Exception):
    """The public keys cannot be read."""


def raw_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_bytes(key)).hexdigest()


def document(keys: dict[int, Ed25519PublicKey]) -> dict[str, object]:
    return {
        "format": FORMAT,
        "keys": [
            {
                "version": v,
                "ed25519": base64.b64encode(raw_bytes(k)).decode(),
                "pem": k.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ).decode(),
                "sha256": fingerprint(k),
            }
            for v, k in sorted(keys.items())
        ],
    }


def load(path: Path) -> dict[int, Ed25519PublicKey]:
    """Read a public keys file (as written by `hogo-gateway audit pubkey`)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise PubkeyError(f"{path}: not a hogo-gateway public keys file")
        out: dict[int, Ed25519PublicKey] = {}
        for entry in doc["keys"]:
            out[int(entry["version"])] = Ed25519PublicKey.from_public_bytes(
                base64.b64decode(entry["ed25519"], validate=True)
            )
    except PubkeyError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PubkeyError(f"{path}: cannot read public keys ({type(exc).__name__})") from None
    if not out:
        raise PubkeyError(f"{path}: holds no keys")
    return out


def from_keys_dir(keys_dir: Path) -> dict[int, Ed25519PublicKey]:
    """The public keys of the signing keys in a data dir (read only; nothing is created)."""
    out: dict[int, Ed25519PublicKey] = {}
    if keys_dir.is_dir():
        for path in sorted(keys_dir.iterdir()):
            m = _PRIVATE_FILE.match(path.name)
            if not m:
                continue
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (OSError, ValueError) as exc:
                raise PubkeyError(f"{path}: unreadable ({type(exc).__name__})") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise PubkeyError(f"{path}: not an Ed25519 key")
            out[int(m.group(1))] = key.public_key()
    if not out:
        raise PubkeyError(f"no signing keys in {keys_dir}: pass --pubkeys FILE")
    return out
