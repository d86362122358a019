"""The lean path's cheaper writers and checks give the very bytes and decisions the plain ones gave (issue 14).

Each was changed for speed only: the stamp of every script call and event (`iso_ms`, the second's
text reused), the audit trail's canonical JSON and the sealed answer's JSON (one encoder made
once instead of one per call). A different byte would break a hash chain, a stored answer or an
ordering by stamp, so each is compared with the expression it replaced, for every input.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit.record import canonical
from gateway.clock import iso_ms
from gateway.model import Field, UpstreamAnswer
from gateway.soap.faults import ErrorCode, SoapFault
from gateway.soap.parse import plain_value
from gateway.store.queries import _encode_answer

# 1970 to 2200, and steps across second boundaries (the cache). (Past about 2240 the old
# expression drifts by a millisecond: `ms / 1000` as a float no longer holds the microseconds;
# the new one is exact there too.)
millis = st.integers(0, 7_258_118_400_000)


def _iso_ms_before(ms: int) -> str:
    iso = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return iso.replace("+00:00", "Z")


@settings(max_examples=2000, deadline=None)
@given(ms=millis, steps=st.lists(st.integers(-1500, 1500), max_size=5))
def test_iso_ms_is_the_stamp_it_was(ms: int, steps: list[int]) -> None:
    for step in [0, *steps]:
        ms = max(0, ms + step)
        assert iso_ms(ms) == _iso_ms_before(ms)


# what the trail and the stores encode: strings (any code point but lone surrogates), integers,
# objects of them, lists
scalars = st.text(st.characters(exclude_categories=["Cs"]), max_size=8) | st.integers(
    -(2**63), 2**63
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=1000, deadline=None)
@given(obj=st.dictionaries(st.text(max_size=6), values, max_size=6))
def test_the_canonical_json_is_the_one_it_was(obj: dict) -> None:
    before = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert canonical(obj) == before


text = st.text(st.characters(exclude_categories=["Cs"]), max_size=10)


@settings(max_examples=500, deadline=None)
@given(has_data=st.booleans(), fields=st.lists(st.builds(Field, text, text), max_size=5))
def test_the_sealed_answer_is_the_json_it_was(has_data: bool, fields: list[Field]) -> None:
    answer = UpstreamAnswer(has_data, tuple(fields))
    before = json.dumps(
        {"has_data": answer.has_data, "fields": [[f.name, f.value] for f in answer.fields]},
        ensure_ascii=False,
    )
    assert _encode_answer(answer) == before


@settings(max_examples=1000, deadline=None)
@given(
    value=st.text(st.characters(exclude_categories=["Cs"]) | st.sampled_from(" \t\r\n\u3000\xa0"))
)
def test_plain_value_refuses_what_it_refused(value: str) -> None:
    """plain_value scans with one pattern instead of a generator step per character: it refuses
    exactly the values with XML whitespace (not U+3000, not NBSP), as before."""
    before = any(c in " \t\r\n" for c in value)
    try:
        assert plain_value(value) == value
        refused = False
    except SoapFault as fault:
        assert fault.code is ErrorCode.SCHEMA_INVALID
        refused = True
    assert refused == before
