"""Keys at rest: person keys (HMAC-SHA256), sealed values (AES-GCM), signing keys (Ed25519), and
tags (HMAC-SHA256 under keys derived per purpose) that the gateway puts on what it writes to the
store, so that a write nobody made through the gateway shows.

Person numbers and subject codes are never stored: the store sees only `person_key(...)`, a keyed
hash. Names, the request's personal fields and the answers are sealed with AES-GCM, bound to the
record they belong to by associated data. Every key is versioned so that it can be rotated: new
writes use the newest version, reads try every version still on disk.

Layout under DATA_DIR/keys (directory 0700, files 0600):
    hmac-<v>.key, aes-<v>.key    32 random bytes, base64
    ed25519-<v>.pem              PKCS#8 private key (the audit trail's signing key)
A tag's key is derived from the HMAC key of the same version and a purpose (`Keyring.tag`), so it
lives nowhere but in the keys directory and needs no file of its own; the store never holds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEY_FILE = re.compile(r"^(hmac|aes)-(\d+)\.key$")
# What a tag vouches for: each purpose has its own derived key, so that a tag made for one kind of
# record never checks as another's (see Keyring.tag).
TAG_PURPOSES = frozenset({"flag-change", "directory-entry", "directory-change", "verify-state"})
TAG_BYTES = 16  # 128 bits: a forger's chance per try is 2**-128
_SIGN_FILE = re.compile(r"^ed25519-(\d+)\.pem$")


class KeyError_(Exception):
    """A key is missing, unreadable or does not open a sealed value."""


class SealError(KeyError_):
    pass


def _write_new(path: Path, data: bytes) -> bool:
    """Create `path` with `data` unless it exists (O_EXCL: two processes never disagree)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return True


@dataclass(frozen=True)
class SigningKey:
    version: int
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def public_pem(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class Keyring:
    """All keys of one data dir, loaded once; creates the first version of each when missing."""

    def __init__(self, keys_dir: Path, *, create: bool = True) -> None:
        self.dir = keys_dir
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
        self._hmac: dict[int, bytes] = {}
        self._aes: dict[int, AESGCM] = {}
        self._signing: dict[int, SigningKey] = {}
        self._dir_mtime = self._mtime()
        self._load()
        if create and not self._hmac:
            self._create_symmetric("hmac", 1)
        if create and not self._aes:
            self._create_symmetric("aes", 1)
        if create and not self._signing:
            self._create_signing(1)
        self._load()
        if not self._hmac or not self._aes:
            raise KeyError_(f"no keys in {self.dir}")
        if len(self._hmac) > 1:
            # Flags and directory entries written under different HMAC versions would not meet,
            # and that person would be answered automatically: refuse to run at all.
            raise KeyError_(
                f"{self.dir} holds {len(self._hmac)} HMAC key versions; person keys would split "
                "between them. HMAC rotation needs the re-keying steps of deploy/KEYS.md"
            )

    # -- loading and rotation -------------------------------------------------------------
    def _mtime(self) -> int:
        try:
            return self.dir.stat().st_mtime_ns
        except OSError:
            return 0

    def refresh(self) -> None:
        """Pick up key versions added on disk since (a rotation run by another process)."""
        mtime = self._mtime()
        if mtime != self._dir_mtime:
            self._load()  # (a file still being written fails here: tried again next time)
            self._dir_mtime = mtime

    def _load(self) -> None:
        if not self.dir.is_dir():
            return
        for path in sorted(self.dir.iterdir()):
            m = _KEY_FILE.match(path.name)
            if m:
                raw = base64.b64decode(path.read_bytes().strip())
                if len(raw) != 32:
                    raise KeyError_(f"{path.name}: not a 32-byte key")
                version = int(m.group(2))
                if m.group(1) == "hmac":
                    self._hmac[version] = raw
                else:
                    self._aes[version] = AESGCM(raw)
                continue
            s = _SIGN_FILE.match(path.name)
            if s:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
                if not isinstance(key, Ed25519PrivateKey):
                    raise KeyError_(f"{path.name}: not an Ed25519 key")
                self._signing[int(s.group(1))] = SigningKey(int(s.group(1)), key)

    def _create_symmetric(self, kind: str, version: int) -> None:
        _write_new(self.dir / f"{kind}-{version}.key", base64.b64encode(os.urandom(32)) + b"\n")

    def _create_signing(self, version: int) -> None:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_new(self.dir / f"ed25519-{version}.pem", pem)

    def rotate(self, kind: str) -> int:
        """Add a new newest version of `kind` (aes or signing); old ones stay readable."""
        if kind == "signing":
            version = max(self._signing, default=0) + 1
            self._create_signing(version)
        elif kind == "aes":
            version = max(self._aes, default=0) + 1
            self._create_symmetric(kind, version)
        elif kind == "hmac":
            raise ValueError("HMAC keys are not rotated online: see deploy/KEYS.md")
        else:
            raise ValueError(f"unknown key kind {kind!r}")
        self._load()
        return version

    def check_values(self) -> dict[str, str]:
        """A value per key version that tells whether two hosts hold the same key, and nothing else.

        HMAC keys: the HMAC of a fixed label; AES keys: the GCM tag of that label under the
        all-zero nonce (seals use random nonces); signing keys: a hash of the public key. 64 bits
        each.
        """
        label = b"hogo-gateway key check value"
        values = {
            f"hmac-{v}": hmac.new(k, label, hashlib.sha256).hexdigest()[:16]
            for v, k in self._hmac.items()
        }
        for v, aes in self._aes.items():
            # AES-GCM with a fixed nonce over an empty message yields the tag of E_k(0…) only
            values[f"aes-{v}"] = aes.encrypt(b"\x00" * 12, b"", label).hex()[:16]
        for v, key in self._signing.items():
            raw = key.public.public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            values[f"ed25519-{v}"] = hashlib.sha256(raw).hexdigest()[:16]
        return values

    # -- person keys ---------------------------------------------------------------------
    @property
    def hmac_version(self) -> int:
        return max(self._hmac)

    def person_key(self, kind: str, value: str, version: int | None = None) -> str:
        """The keyed hash that stands for a person number or subject code in the store.

        `kind` separates the namespaces ("atena", "subject") so that equal strings of different
        kinds never collide. 128 bits of HMAC-SHA256, hex, prefixed with the key version.
        """
        v = self.hmac_version if version is None else version
        # hmac.digest: the same HMAC in one C call, without an HMAC object per person key
        mac = hmac.digest(self._hmac[v], f"{kind}\x00{value}".encode(), "sha256")
        return f"{v}.{mac.hex()[:32]}"

    def person_keys(self, kind: str, value: str) -> list[str]:
        """Every key `value` may be stored under, newest version first (for reads during rotation)."""
        return [self.person_key(kind, value, v) for v in sorted(self._hmac, reverse=True)]

    # -- tags: the gateway's own writes, recognisable ------------------------------------
    def _tag_key(self, purpose: str, version: int) -> bytes:
        if purpose not in TAG_PURPOSES:
            raise ValueError(f"unknown tag purpose {purpose!r}")
        # a key of its own per purpose, derived (HMAC as a PRF, as in HKDF-Expand) from the HMAC
        # key: a tag never equals a person key, nor a tag of another purpose
        label = f"hogo-gateway tag key\x00{purpose}".encode()
        return hmac.new(self._hmac[version], label, hashlib.sha256).digest()

    def tag(self, purpose: str, *parts: str) -> str:
        """HMAC-SHA256 over `parts` (joined unambiguously) with the key derived for `purpose`,
        128 bits, base64url, prefixed with the key version: `V.TAG`. Only a holder of the keys
        directory can make one; the store holds tags, never the key."""
        return self._tag(purpose, self.hmac_version, parts)

    def _tag(self, purpose: str, version: int, parts: tuple[str, ...]) -> str:
        return TagChecker(self._tag_key(purpose, version), version).make(*parts)

    def check_tag(self, purpose: str, tag: str, *parts: str) -> bool:
        """Whether `tag` is this keyring's tag of `parts` for `purpose` (in constant time)."""
        head, dot, _ = tag.partition(".")
        if not dot or not head.isdigit() or int(head) not in self._hmac:
            return False
        try:
            want = self._tag(purpose, int(head), parts)
        except ValueError:
            return False
        return hmac.compare_digest(want, tag)

    def tag_checker(self, purpose: str) -> TagChecker:
        """A checker for many tags of one purpose (the directory's sweep): the derived key is
        made once."""
        return TagChecker(self._tag_key(purpose, self.hmac_version), self.hmac_version)

    # -- sealing -------------------------------------------------------------------------
    @property
    def aes_version(self) -> int:
        return max(self._aes)

    def seal(self, plaintext: str | bytes, context: str) -> str:
        """AES-GCM with a fresh nonce; `context` (the record it belongs to) is associated data."""
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        v = self.aes_version
        nonce = os.urandom(12)
        ct = self._aes[v].encrypt(nonce, data, context.encode())
        return f"{v}." + base64.urlsafe_b64encode(nonce + ct).decode()

    def unseal(self, sealed: str, context: str) -> bytes:
        try:
            head, body = sealed.split(".", 1)
            aes = self._aes[int(head)]
            raw = base64.urlsafe_b64decode(body)
            return aes.decrypt(raw[:12], raw[12:], context.encode())
        except Exception as exc:  # wrong key, wrong context, damaged value: all the same to callers
            raise SealError("sealed value does not open with this keyring and context") from exc

    def unseal_text(self, sealed: str, context: str) -> str:
        return self.unseal(sealed, context).decode()

    # -- signing (the audit trail) ---------------------------------------------------------
    @property
    def signing_key(self) -> SigningKey:
        if not self._signing:
            raise KeyError_(f"no signing key in {self.dir}")
        return self._signing[max(self._signing)]

    def signing_keys(self) -> dict[int, SigningKey]:
        return dict(self._signing)


class TagChecker:
    """HMAC-SHA256 tags of one purpose and key version, made and checked quickly: the key's
    inner and outer states are hashed once (the directory's sweep checks millions of tags)."""

    def __init__(self, key: bytes, version: int) -> None:
        block = key.ljust(64, b"\x00")  # (a derived key is 32 bytes: shorter than a block)
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._prefix = f"{version}."

    def make(self, *parts: str) -> str:
        if any("\x1f" in p for p in parts):
            raise ValueError("a tagged part may not contain the separator")
        inner = self._inner.copy()
        inner.update("\x1f".join(parts).encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        mac = outer.digest()[:TAG_BYTES]
        return self._prefix + base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def __call__(self, tag: str, *parts: str) -> bool:
        """Whether `tag` is the tag of `parts` (in constant time)."""
        if not tag.startswith(self._prefix):
            return False
        try:
            want = self.make(*parts)
        except ValueError:
            return False
        return hmac.compare_digest(want, tag)
