"""A sealed line's seq, prev and hash read from its text, its hash checked from its bytes: the
walk's fast path for the common line (an unsigned format-2 event), without decoding the JSON and
encoding it again twice (gateway/audit/record.py: `parse_line`, `check_hash`).

Pure. `read_plain` accepts a line only when its text has a shape that is the canonical encoding
of a whole format-2 event and of nothing else, so that the full path (`parse_line`,
`check_event`, `check_hash`) would accept it too and read the same seq, prev and hash:

- the members of a format-2 event without `block`/`key`/`sig`, in sorted order, no whitespace;
- every string without a backslash or a control character (such a string is written as it is
  by the canonical encoder, and read back as the same characters); `fields` an object of such
  strings with its names strictly ascending (sorted, no name twice);
- `seq` a positive integer of at most 18 digits without a leading zero, `v` 2, `hash` 64
  lowercase hex digits;
- the text encodes to UTF-8 (no lone surrogate), and SHA-256 of it without its `"hash":"..",`
  member (what `digest` hashes: the canonical encoding without `hash`) is that hash.

Anything else (a signed line, an escape, another member, a hash that does not match) returns
None and goes through the full path, which names the problem as it always has. Proven equal to
the full path for generated trails and every single mutation of them in
tests/test_audit_fastread.py.
"""

from __future__ import annotations

import hashlib
import re

# a string the canonical encoder writes unchanged: no quote, backslash or control character
_S = r'"[^"\\\x00-\x1f]*+"'
_FIELDS = rf"\{{(?:{_S}:{_S}(?:,{_S}:{_S})*)?\}}"
_PLAIN = re.compile(
    rf'\{{"actor":{_S},"at":{_S},"decision":{_S},"fields":(?P<fields>{_FIELDS}),'
    r'(?P<hashm>"hash":"(?P<hash>[0-9a-f]{64})",)'
    rf'"id":{_S},"kind":{_S},"prev":"(?P<prev>[^"\\\x00-\x1f]*)","reason":{_S},'
    rf'"seq":(?P<seq>[1-9][0-9]{{0,17}}),"subject":{_S},"v":2\}}'
)
# one member of `fields` (already matched as a whole: no string in it holds a quote, so each
# match starts at a name's opening quote and takes exactly its member)
_MEMBER = re.compile(r'"([^"]*)":"[^"]*"')


def _names_ascending(fields: str) -> bool:
    names = _MEMBER.findall(fields)
    return names == sorted(set(names))  # ascending, and no name twice


def read_plain(text: str) -> tuple[int, str, str] | None:
    """(seq, prev, hash) of an unsigned format-2 event whose text is canonical and whose hash
    matches its content; None when the line needs the full path."""
    m = _PLAIN.fullmatch(text)
    if m is None:
        return None
    fields = m.group("fields")
    if len(fields) > 2 and not _names_ascending(fields):
        return None
    start, end = m.span("hashm")
    try:
        body = (text[:start] + text[end:]).encode()
    except UnicodeEncodeError:
        return None
    digest = m.group("hash")
    if hashlib.sha256(body).hexdigest() != digest:
        return None
    return int(m.group("seq")), m.group("prev"), digest
