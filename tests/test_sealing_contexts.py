"""The contexts the store seals under are part of the stored data: what was sealed under one
opens only under the same string. Each is made by the one rule (gateway/store/sealing.py); these
are the strings every stored record was sealed with, so that folding the helpers into one (or any
later change) cannot move one without this failing. A value sealed under one part does not open
under another (real crypto, a real keyring)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.crypto import Keyring, SealError
from gateway.store import attempts, claims, quarantine, query_parts, release_requests, reviews
from gateway.store.flags import base

PINNED = {
    query_parts._request_context: "query:Q1:request",
    query_parts._answer_context: "query:Q1:answer",
    query_parts._notice_context: "query:Q1:notice",
    query_parts._refusal_context: "query:Q1:refusal",
    base.name_context: "flag:Q1:name",
    base.atena_context: "flag:Q1:atena",
    base.note_context: "flag:Q1:note",
    release_requests._note_context: "relreq:Q1:note",
    release_requests._atena_context: "relreq:Q1:atena",
    attempts.note_context: "attempt:Q1:note",
    quarantine._note_context: "quarantine:Q1:note",
    reviews._comment_context: "review:Q1:comment",
    claims._proposal_context: "proposal:Q1:notice",
}


def test_every_context_is_the_string_stored_data_was_sealed_under() -> None:
    for context, pinned in PINNED.items():
        assert context("Q1") == pinned, context.__name__


def test_a_part_sealed_under_one_context_does_not_open_under_another(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "k")
    sealed = keyring.seal("山田花子", base.name_context("pk1"))
    assert keyring.unseal_text(sealed, base.name_context("pk1")) == "山田花子"
    for other in (base.note_context("pk1"), base.name_context("pk2")):
        with pytest.raises(SealError):
            keyring.unseal(sealed, other)
