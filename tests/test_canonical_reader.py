"""The fast reader of the upstream's answer (gateway/soap/canonical.py) against the full one.

Whatever the fast reader accepts, the full hardened reader (lxml, envelope checks) reads to the
very same values; whatever it does not accept falls back to the full reader, so that
`read_answer` decides exactly as `read_upstream_answer` did, for every input: the canonical
answers the upstream writes, any value in them, and any mutation of their bytes.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.model import Field, UpstreamAnswer
from gateway.soap.canonical import canonical_answer, read_answer, read_canonical_answer
from gateway.soap.faults import SoapFault
from gateway.soap.messages import read_upstream_answer

# any text a Python str can be encoded from (no lone surrogates), controls and CR included
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
plain = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12) | st.text(
    "山田太郎東京都区1-2&<>;' \"", max_size=12
)
answers = st.builds(
    UpstreamAnswer,
    st.booleans(),
    st.lists(st.builds(Field, texts, texts), max_size=4).map(tuple),
).map(lambda a: a if a.has_data else UpstreamAnswer(False))


def full(payload: bytes) -> UpstreamAnswer | str:
    try:
        return read_upstream_answer(payload)
    except SoapFault as fault:
        return f"fault:{fault.code.value}"


def combined(payload: bytes) -> UpstreamAnswer | str:
    try:
        return read_answer(payload)
    except SoapFault as fault:
        return f"fault:{fault.code.value}"


@settings(max_examples=400, deadline=None)
@given(pn=texts, answer=answers)
def test_whatever_the_fast_reader_accepts_the_full_reader_reads_the_same(
    pn: str, answer: UpstreamAnswer
) -> None:
    payload = canonical_answer(pn, answer)
    fast = read_canonical_answer(payload)
    if fast is not None:
        assert fast == (pn, answer)
        assert full(payload) == answer
        # what ProvisionService may relay: these bytes, the canonical answer for `pn`
        assert fast[1].canonical == (pn, payload)
    assert combined(payload) == full(payload)
    full_answer = full(payload)
    assert not isinstance(full_answer, UpstreamAnswer) or full_answer.canonical is None


@settings(max_examples=300, deadline=None)
@given(pn=plain, answer=st.builds(
    UpstreamAnswer, st.just(True), st.lists(st.builds(Field, plain, plain), max_size=4).map(tuple)
) | st.just(UpstreamAnswer(False)))  # fmt: skip
def test_canonical_answers_of_ordinary_values_take_the_fast_way(
    pn: str, answer: UpstreamAnswer
) -> None:
    """Not vacuous: the answers the upstream writes for ordinary values are read fast."""
    payload = canonical_answer(pn, answer)
    assert read_canonical_answer(payload) == (pn, answer)
    assert full(payload) == answer


def _mutate(payload: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["insert", "replace", "delete", "splice"]))
    at = data.draw(st.integers(0, len(payload)))
    if kind == "insert":
        piece = data.draw(
            st.sampled_from([b" ", b"\n", b"\r", b"\t", b"&#60;", b"&#x3C;", b"<!---->", b"\x00",
                             b"\xff", b"\xc3", b"<t:x/>", b"&amp;", b"]]>", b"<![CDATA[a]]>",
                             b" a=\"1\"", b"xmlns:u=\"x\" ", b"&lt;", b"\xef\xbb\xbf"])
            | st.binary(min_size=1, max_size=3)
        )  # fmt: skip
        return payload[:at] + piece + payload[at:]
    if kind == "replace" and at < len(payload):
        return payload[:at] + bytes([data.draw(st.integers(0, 255))]) + payload[at + 1 :]
    if kind == "delete" and at < len(payload):
        return payload[:at] + payload[at + data.draw(st.integers(1, 8)) :]
    other = canonical_answer("PN-2", UpstreamAnswer(True, (Field("氏名", "別人"),)))
    cut = data.draw(st.integers(0, len(other)))
    return payload[:at] + other[cut:]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pn=plain, answer=answers, data=st.data())
def test_a_mutated_answer_is_read_as_the_full_reader_reads_it(
    pn: str, answer: UpstreamAnswer, data: st.DataObject
) -> None:
    payload = canonical_answer(pn, answer)
    for _ in range(data.draw(st.integers(1, 3))):
        payload = _mutate(payload, data)
    fast = read_canonical_answer(payload)
    if fast is not None:
        assert full(payload) == fast[1]
    assert combined(payload) == full(payload)


def test_what_an_xml_parser_would_change_is_not_read_fast() -> None:
    """A CR in a value comes out of an XML parser as LF; a character reference as its
    character: the bytes are not canonical, so the full reader reads them."""
    cr = canonical_answer("PN-1", UpstreamAnswer(True, (Field("a", "x\ry"),)))
    assert read_canonical_answer(cr) is None
    assert read_answer(cr) == UpstreamAnswer(True, (Field("a", "x\ny"),))
    ref = canonical_answer("PN-1", UpstreamAnswer(True, (Field("a", "x<y"),))).replace(
        b"&lt;", b"&#60;"
    )
    assert read_canonical_answer(ref) is None
    assert read_answer(ref) == UpstreamAnswer(True, (Field("a", "x<y"),))
    spaced = canonical_answer("PN-1", UpstreamAnswer(False)).replace(
        b"<t:status>", b"\n  <t:status>"
    )
    assert read_canonical_answer(spaced) is None
    assert read_answer(spaced) == UpstreamAnswer(False)
