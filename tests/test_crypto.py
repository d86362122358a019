"""Keys at rest: person keys, sealing, and the rules that keep a rotation from opening a gap."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.crypto import KeyError_, Keyring, SealError


def test_person_keys_are_keyed_versioned_and_separate_kinds(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "k")
    other = Keyring(tmp_path / "other")
    a = ring.person_key("atena", "900000000000001")
    assert a.startswith("1.") and len(a) == 34 and "900000000000001" not in a
    assert a == ring.person_key("atena", "900000000000001")
    assert a != ring.person_key("subject", "900000000000001")
    assert a != other.person_key("atena", "900000000000001")  # another key, another hash
    assert ring.person_keys("atena", "900000000000001") == [a]


def test_sealed_values_open_only_in_their_own_context(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "k")
    sealed = ring.seal("試験 花子", "flag:1.abc:name")
    assert "試験" not in sealed and ring.unseal_text(sealed, "flag:1.abc:name") == "試験 花子"
    with pytest.raises(SealError):
        ring.unseal(sealed, "flag:1.def:name")
    with pytest.raises(SealError):
        Keyring(tmp_path / "other").unseal(sealed, "flag:1.abc:name")


def test_aes_rotation_keeps_old_values_readable(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "k")
    old = ring.seal("before", "ctx")
    assert ring.rotate("aes") == 2
    new = ring.seal("after", "ctx")
    assert new.startswith("2.") and old.startswith("1.")
    assert ring.unseal_text(old, "ctx") == "before" and ring.unseal_text(new, "ctx") == "after"


def test_hmac_is_never_rotated_online(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "k")
    with pytest.raises(ValueError, match=r"KEYS\.md"):
        ring.rotate("hmac")
    assert sorted(p.name for p in (tmp_path / "k").glob("hmac-*")) == ["hmac-1.key"]


def test_a_second_hmac_version_on_disk_stops_the_keyring(tmp_path: Path) -> None:
    """A flag under one version and a directory entry under another would not meet, and that
    person would be answered automatically: the gateway refuses to start instead."""
    Keyring(tmp_path / "k")
    (tmp_path / "k" / "hmac-2.key").write_bytes((tmp_path / "k" / "hmac-1.key").read_bytes())
    with pytest.raises(KeyError_, match="HMAC"):
        Keyring(tmp_path / "k")


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["atena", "subject"]), value=st.text(max_size=40))
def test_person_key_is_the_documented_hmac_for_every_value(
    tmp_path_factory: pytest.TempPathFactory, kind: str, value: str
) -> None:
    """person_key (computed with hmac.digest since issue 14) is exactly HMAC-SHA256 of
    "kind NUL value" under the newest key, hex, 128 bits: the keys already in the store stay
    the keys the gateway looks up."""
    ring = _RING.setdefault("ring", Keyring(tmp_path_factory.mktemp("keys")))
    v = ring.hmac_version
    reference = hmac.new(ring._hmac[v], f"{kind}\x00{value}".encode(), hashlib.sha256)
    assert ring.person_key(kind, value) == f"{v}.{reference.hexdigest()[:32]}"


_RING: dict[str, Keyring] = {}
