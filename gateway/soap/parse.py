"""Hardened reading of SOAP envelopes: no DTD, no entities, no network, UTF-8 only, schema-checked.

The wire is hostile until proven otherwise. A document type declaration of any kind is refused
before the parser sees the bytes (that is where XXE and entity bombs live); the parser itself is
configured to resolve nothing and fetch nothing, as a second wall. It also reads every document
as UTF-8 whatever it declares, and the envelope must be exactly Header? (empty) + Body + one
element: nothing that one reader could take for the request and another could not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from gateway.soap import SOAP_ENV
from gateway.soap.faults import ErrorCode, SoapFault

_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"
_XML_DECL = re.compile(rb"<\?xml[ \t\r\n][^>]*\?>")
_DECL_ENCODING = re.compile(rb"""[ \t\r\n]encoding[ \t\r\n]*=[ \t\r\n]*(["'])([A-Za-z0-9._-]+)\1""")
_UTF8_NAMES = {b"utf-8", b"utf8"}
_XML_SPACE = " \t\r\n"  # XML's whitespace: not U+3000, not NBSP (str.strip() would take those)
_HAS_XML_SPACE = re.compile("[ \t\r\n]").search  # one C scan, not a generator step per character

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    encoding="utf-8",  # never what the document declares (libxml2 builds differ on a BOM)
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)

WSDL_DIR = Path(__file__).resolve().parents[2] / "wsdl"
_XS = "http://www.w3.org/2001/XMLSchema"


@dataclass(frozen=True, slots=True)
class BodyElement:
    """The Body's one child: its operation name (local name), namespace and the element."""

    namespace: str
    name: str
    element: etree._Element

    def text_of(self, child: str) -> str:
        node = self.element.find(f"{{{self.namespace}}}{child}")
        return (node.text or "") if node is not None else ""

    def has(self, child: str) -> bool:
        return self.element.find(f"{{{self.namespace}}}{child}") is not None

    def texts(self) -> dict[str, str]:
        """The text of every direct child in the operation's namespace, by local name, in one
        pass (as `text_of` would give each: the first child of a name wins)."""
        prefix = f"{{{self.namespace}}}"
        cut = len(prefix)
        out: dict[str, str] = {}
        for child in self.element:
            tag = child.tag
            if isinstance(tag, str) and tag.startswith(prefix):
                out.setdefault(tag[cut:], child.text or "")
        return out


def declared_encoding(body: bytes) -> bytes | None:
    """The encoding the XML declaration names (after a UTF-8 byte-order mark, if any), b"" when
    the declaration names one we cannot read, None when there is no declaration or no encoding."""
    head = body.removeprefix(_UTF8_BOM).lstrip(_XML_SPACE.encode())
    decl = _XML_DECL.match(head)
    if decl is None:
        return b"" if head.startswith(b"<?xml") and b"encoding" in head[:200] else None
    if b"encoding" not in decl.group(0):
        return None
    m = _DECL_ENCODING.search(decl.group(0))
    return m.group(2) if m else b""


def _check_encoding(body: bytes) -> None:
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4]:
        raise SoapFault(ErrorCode.NOT_UTF8)
    declared = declared_encoding(body)
    if declared is None or declared.lower() in _UTF8_NAMES:
        return
    # After a UTF-8 byte-order mark another declared encoding is a contradiction that libxml2
    # builds resolve differently (older ones honour the declaration): refuse it by name.
    raise SoapFault(
        ErrorCode.ENCODING_MISMATCH if body.startswith(_UTF8_BOM) else ErrorCode.NOT_UTF8
    )


def parse_xml(body: bytes) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise a Client fault naming why not."""
    _check_encoding(body)
    if _FORBIDDEN.search(body):
        raise SoapFault(ErrorCode.FORBIDDEN_XML)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise SoapFault(ErrorCode.NOT_UTF8) from None
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        raise SoapFault(ErrorCode.MALFORMED_XML) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:  # second wall
        raise SoapFault(ErrorCode.FORBIDDEN_XML)
    return root


_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_HEADER = f"{{{SOAP_ENV}}}Header"
_BODY = f"{{{SOAP_ENV}}}Body"


def _blank(text: str | None) -> bool:
    return not text or not text.strip(_XML_SPACE)


def body_element(root: etree._Element, *, header_entries: bool = False) -> BodyElement:
    """The one element inside soap:Body of a SOAP 1.1 envelope.

    The envelope is Header? Body, in that order, each once, with no text between them, and the
    Body holds exactly one element and no text. A Header carrying anything (an element, text) is
    refused unless `header_entries` (the upstream's answers; never a requester's request): what
    the gateway checks must be all there is, since an upstream that searches the whole document
    could otherwise find a second request in it. Attributes on Envelope, Header and Body are
    dropped with the rest of the envelope: the gateway sends only what it builds.
    """
    if root.tag != _ENVELOPE:
        raise SoapFault(ErrorCode.NOT_SOAP)
    parts = list(root)
    tags = [c.tag for c in parts]
    if tags not in ([_BODY], [_HEADER, _BODY]):
        raise SoapFault(ErrorCode.NOT_SOAP)
    if not _blank(root.text) or not all(_blank(c.tail) for c in parts):
        raise SoapFault(ErrorCode.NOT_SOAP)
    header = parts[0] if len(parts) == 2 else None
    if header is not None and not header_entries and (len(header) or not _blank(header.text)):
        raise SoapFault(ErrorCode.HEADER_NOT_ALLOWED)
    body = parts[-1]
    children = list(body)
    if len(children) != 1 or not isinstance(children[0].tag, str):
        raise SoapFault(ErrorCode.NOT_SOAP)
    if not _blank(body.text) or not _blank(children[0].tail):
        raise SoapFault(ErrorCode.NOT_SOAP)
    qname = etree.QName(children[0])
    return BodyElement(qname.namespace or "", qname.localname, children[0])


@cache
def service_schema(wsdl_name: str) -> etree.XMLSchema:
    """The XML Schema embedded in one of our WSDL files, compiled once."""
    wsdl = etree.parse(str(WSDL_DIR / wsdl_name), _PARSER)
    schema = wsdl.find(f".//{{{_XS}}}schema")
    if schema is None:
        raise RuntimeError(f"{wsdl_name} has no xs:schema")
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema)))


def validate(element: etree._Element, wsdl_name: str) -> None:
    """Raise a Client fault unless `element` conforms to the WSDL's schema.

    Our requests carry no attributes at all. A schema validator lets some through whatever the
    schema says (xsi:schemaLocation, xsi:noNamespaceSchemaLocation); they are refused here too.
    """
    if any(el.attrib for el in element.iter()):
        raise SoapFault(ErrorCode.SCHEMA_INVALID, "attributes are not part of our requests")
    schema = service_schema(wsdl_name)
    if not schema.validate(element):
        raise SoapFault(ErrorCode.SCHEMA_INVALID)


def plain_value(text: str) -> str:
    """A validated value as the gateway acts on it: one without XML whitespace.

    None of our request values may hold whitespace, but the schema's xs:date and xs:dateTime
    collapse it (and libxml2 accepts it trailing): "…+09:00 " would pass validation and then be
    stored, keyed and sent as it came. Refused rather than trimmed.
    """
    if _HAS_XML_SPACE(text):
        raise SoapFault(ErrorCode.SCHEMA_INVALID, "a value holds whitespace")
    return text
