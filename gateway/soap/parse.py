"""Hardened reading of SOAP envelopes: no DTD, no entities, no network, UTF-8 only, schema-checked.

The wire is hostile until proven otherwise. A document type declaration of any kind is refused
before the parser sees the bytes (that is where XXE and entity bombs live); the parser itself is
configured to resolve nothing and fetch nothing, as a second wall.
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
_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_UTF8_NAMES = {b"utf-8", b"utf8"}

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
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


def parse_xml(body: bytes) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise a Client fault naming why not."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4]:
        raise SoapFault(ErrorCode.NOT_UTF8)
    m = _DECL_ENCODING.match(body)
    if m and m.group(1).lower() not in _UTF8_NAMES:
        raise SoapFault(ErrorCode.NOT_UTF8)
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


def body_element(root: etree._Element) -> BodyElement:
    """The one element inside soap:Body of a SOAP 1.1 envelope."""
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault(ErrorCode.NOT_SOAP)
    bodies = [c for c in root if isinstance(c.tag, str) and c.tag == f"{{{SOAP_ENV}}}Body"]
    others = [
        c
        for c in root
        if isinstance(c.tag, str) and c.tag not in (f"{{{SOAP_ENV}}}Body", f"{{{SOAP_ENV}}}Header")
    ]
    if len(bodies) != 1 or others:
        raise SoapFault(ErrorCode.NOT_SOAP)
    children = [c for c in bodies[0] if isinstance(c.tag, str)]
    if len(children) != 1:
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
    """Raise a Client fault unless `element` conforms to the WSDL's schema."""
    schema = service_schema(wsdl_name)
    if not schema.validate(element):
        raise SoapFault(ErrorCode.SCHEMA_INVALID)
