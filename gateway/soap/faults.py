"""The one SOAP fault builder, and the error codes the gateway gives in `detail/errorCode`."""

from __future__ import annotations

from enum import StrEnum
from xml.sax.saxutils import escape

from gateway.soap import SOAP_ENV


class ErrorCode(StrEnum):
    # soap:Client: the request is at fault; each is a security event
    MALFORMED_XML = "MALFORMED_XML"
    FORBIDDEN_XML = "FORBIDDEN_XML"  # DTD, entity declarations, external references
    NOT_UTF8 = "NOT_UTF8"
    ENCODING_MISMATCH = "ENCODING_MISMATCH"  # a UTF-8 byte-order mark, another declared encoding
    HEADER_NOT_ALLOWED = "HEADER_NOT_ALLOWED"  # a soap:Header that carries anything
    NOT_SOAP = "NOT_SOAP"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    UNKNOWN_OPERATION = "UNKNOWN_OPERATION"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    # soap:Server: the gateway cannot answer now
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


SERVER_CODES = frozenset(
    {ErrorCode.TEMPORARILY_UNAVAILABLE, ErrorCode.UPSTREAM_UNAVAILABLE, ErrorCode.INTERNAL_ERROR}
)

_MESSAGES = {
    ErrorCode.MALFORMED_XML: "The request is not well-formed XML.",
    ErrorCode.FORBIDDEN_XML: "Document type declarations and entities are not accepted.",
    ErrorCode.NOT_UTF8: "The request must be encoded in UTF-8.",
    ErrorCode.ENCODING_MISMATCH: "The byte-order mark and the declared encoding disagree.",
    ErrorCode.HEADER_NOT_ALLOWED: "The request may not carry SOAP header entries.",
    ErrorCode.NOT_SOAP: "The request is not a SOAP 1.1 envelope with one body element.",
    ErrorCode.SCHEMA_INVALID: "The request does not conform to the service schema.",
    ErrorCode.UNKNOWN_OPERATION: "The body element names no operation of this service.",
    ErrorCode.BODY_TOO_LARGE: "The request body exceeds the size limit.",
    ErrorCode.TEMPORARILY_UNAVAILABLE: "The service cannot answer now; try again later.",
    ErrorCode.UPSTREAM_UNAVAILABLE: "The information-provision endpoint cannot be reached.",
    ErrorCode.INTERNAL_ERROR: "The gateway failed to process the request.",
}


class SoapFault(Exception):
    """Raised anywhere below the HTTP handler; the handler turns it into a fault response."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(detail or _MESSAGES[code])
        self.code = code
        self.detail = detail

    @property
    def is_client(self) -> bool:
        return self.code not in SERVER_CODES


def fault_body(code: ErrorCode, namespace: str, message: str | None = None) -> bytes:
    """A SOAP 1.1 Fault envelope; `message` must never carry personal data."""
    who = "soap:Server" if code in SERVER_CODES else "soap:Client"
    text = escape(message or _MESSAGES[code])
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault>'
        f"<faultcode>{who}</faultcode><faultstring>{text}</faultstring>"
        f'<detail><tns:errorCode xmlns:tns="{namespace}">{code.value}</tns:errorCode></detail>'
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()
