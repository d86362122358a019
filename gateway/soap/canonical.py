"""A strict fast reader for the upstream's SubmitQuery answer in exactly the canonical form.

The upstream (the information-provision endpoint) answers in the form `query_result_envelope`
writes: fixed prefixes, fixed order, no whitespace. Reading such an answer with lxml, walking its
envelope and its fields cost about a tenth of the automatic path's CPU (docs/performance.md). This
reader accepts only those exact bytes and gives exactly the values the full reader
(`messages.read_upstream_answer`) gives; anything else — another prefix, a blank, an attribute, a
comment, a character reference, a value the XML parser would normalise, a fault — is not read here
(None) and goes through the full hardened parse, which decides as before.

Two walls, so that a gap in the first cannot change a value:
1. a pattern that admits only the canonical shape, and in values no markup and only characters
   an XML parser hands back unchanged (no control characters, no CR, nothing outside XML's Char);
2. the answer is rebuilt from the values read (the three entities `escape()` writes undone),
   with the writer that makes the canonical form, and must be the very same bytes: an entity or
   reference `escape()` would not write, or a bare `>`, does not come back the same.
tests/test_canonical_reader.py proves with Hypothesis that whatever this reader accepts, the full
reader reads to the same values, and that what is not canonical falls back.
"""

from __future__ import annotations

import re

from gateway.model import Field, QueryResult, UpstreamAnswer
from gateway.soap import PROVISION_NS, SOAP_ENV
from gateway.soap.messages import query_result_envelope, read_upstream_answer

_HEAD = (
    f"<?xml version='1.0' encoding='utf-8'?>\n<soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body>"
    f'<t:SubmitQueryResponse xmlns:t="{PROVISION_NS}">'
)
_TAIL = "</t:SubmitQueryResponse></soap:Body></soap:Envelope>"
_HEAD_BYTES = _HEAD.encode()
_TAIL_BYTES = _TAIL.encode()

# A value's text as the pattern takes it: no markup, and only characters an XML parser hands
# back as they are (XML Char without the controls, CR, C1 controls, U+FFFE/U+FFFF; surrogates
# cannot come out of a UTF-8 decode). Whether `&` and `>` are escaped exactly as `escape()`
# writes them is the second wall's to check: a bare `>`, a character reference or any other
# entity does not survive unescaping and escaping again.
_TEXT = r"[^<\x00-\x1f\x7f-\x9f\ufffe\uffff]*"
_PROVIDED = re.compile(
    rf"<t:processingNumber>({_TEXT})</t:processingNumber><t:status>PROVIDED</t:status>"
    rf"<t:provision>((?:<t:field><t:name>{_TEXT}</t:name><t:value>{_TEXT}</t:value></t:field>)*)"
    r"</t:provision>"
)
_NO_DATA = re.compile(
    rf"<t:processingNumber>({_TEXT})</t:processingNumber><t:status>REFUSED</t:status>"
    r"<t:refusalCode>NO_DATA</t:refusalCode>"
)
_FIELD = re.compile(rf"<t:field><t:name>({_TEXT})</t:name><t:value>({_TEXT})</t:value></t:field>")


def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def canonical_answer(processing_number: str, answer: UpstreamAnswer) -> bytes:
    """The canonical SubmitQueryResponse for `answer` (what the gateway itself would write)."""
    if answer.has_data:
        result = QueryResult(processing_number, "PROVIDED", fields=answer.fields)
    else:
        result = QueryResult.refused(processing_number, "NO_DATA")
    return query_result_envelope(result, "SubmitQuery")


def read_canonical_answer(payload: bytes) -> tuple[str, UpstreamAnswer] | None:
    """(processingNumber, answer) when `payload` is exactly a canonical PROVIDED or NO_DATA
    SubmitQueryResponse; None for anything else (the caller then parses it in full)."""
    if not (payload.startswith(_HEAD_BYTES) and payload.endswith(_TAIL_BYTES)):
        return None
    try:
        inner = payload[len(_HEAD_BYTES) : len(payload) - len(_TAIL_BYTES)].decode("utf-8")
    except UnicodeDecodeError:
        return None
    m = _PROVIDED.fullmatch(inner) or _NO_DATA.fullmatch(inner)
    if m is None:
        return None
    processing_number = _unescape(m.group(1))
    if m.re is _PROVIDED:
        fields = tuple(Field(_unescape(n), _unescape(v)) for n, v in _FIELD.findall(m.group(2)))
        answer = UpstreamAnswer(True, fields, (processing_number, payload))
    else:
        answer = UpstreamAnswer(False, (), (processing_number, payload))
    # the second wall: the values read, written again, are these very bytes
    if canonical_answer(processing_number, answer) != payload:
        return None
    return processing_number, answer


def read_answer(payload: bytes) -> UpstreamAnswer:
    """The upstream's SubmitQuery answer: by the fast reader when it is canonical, else by the
    full hardened parse (which raises for a fault or anything unexpected, as before)."""
    fast = read_canonical_answer(payload)
    return fast[1] if fast is not None else read_upstream_answer(payload)
