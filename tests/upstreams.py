"""Upstreams for the tests of what leaves the gateway: one that records the exact bytes it
received, reads them the careless way a real endpoint might, and can be told to misbehave.

A real aiohttp server on loopback (it is the simulator with a memory and a switch), so the
gateway's HTTP client, headers and timeouts are the ones that run in production.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from lxml import etree

from gateway.model import QueryResult
from gateway.simulator import Simulator
from gateway.soap import PROVISION_NS
from gateway.soap.faults import ErrorCode, fault_body
from gateway.soap.messages import query_result_envelope, self_information_envelope

# How an upstream may fail; `Misbehaving.mode` picks one ("" answers properly).
FAILURES = ("soap_fault", "garbage", "http500", "wrong_operation", "refused_other", "timeout")


@dataclass(frozen=True)
class Received:
    """One request as the upstream got it: the body byte for byte and the headers."""

    body: bytes
    headers: dict[str, str]


def naive_subject_codes(body: bytes) -> list[str]:
    """Every `subjectCode` an endpoint searching by local name in document order would find
    (`//subjectCode`, `getElementsByTagName`), Header, nested elements and all; comments and
    processing instructions kept, as a careless parser keeps them. [] if it does not parse."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    return [
        "".join(el.itertext())
        for el in root.iter()
        if isinstance(el.tag, str) and etree.QName(el).localname == "subjectCode"
    ]


@dataclass
class RecordingUpstream(Simulator):
    """The simulator, remembering every body it received; `naive` answers about the first
    subjectCode in document order (wherever it is) instead of the Body's; `mode` makes it fail."""

    received: list[Received] = field(default_factory=list)
    naive: bool = False
    mode: str = ""
    hang_seconds: float = 30.0

    async def handle(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return await super().handle(request)
        body = await request.read()  # aiohttp keeps it: super().handle reads the same bytes
        self.received.append(Received(body, dict(request.headers)))
        if self.mode:
            return await self._fail(body)
        if self.naive:
            return self._naive_answer(body)
        return await super().handle(request)

    def _naive_answer(self, body: bytes) -> web.Response:
        codes = naive_subject_codes(body)
        resident = self.residents.get(codes[0]) if codes else None
        if b"GetSelfInformationRequest" in body:  # routes as carelessly as it reads
            payload = self_information_envelope(resident.fields if resident else None)
            return web.Response(body=payload, content_type="text/xml")
        pn = "NAIVE"
        result = (
            QueryResult(pn, "PROVIDED", fields=resident.fields)
            if resident
            else QueryResult.refused(pn, "NO_DATA")
        )
        return web.Response(
            body=query_result_envelope(result, "SubmitQuery"), content_type="text/xml"
        )

    async def _fail(self, body: bytes) -> web.Response:
        if self.mode == "soap_fault":
            return web.Response(
                body=fault_body(ErrorCode.INTERNAL_ERROR, PROVISION_NS),
                status=500,
                content_type="text/xml",
            )
        if self.mode == "garbage":
            return web.Response(body=b"\x00\x01 not xml at all <<<", content_type="text/xml")
        if self.mode == "http500":
            return web.Response(status=500, text="internal error")
        if self.mode == "wrong_operation":
            result = QueryResult("X", "PROVIDED", fields=())
            return web.Response(
                body=query_result_envelope(result, "GetQueryResult"), content_type="text/xml"
            )
        if self.mode == "refused_other":  # a SubmitQueryResponse that is neither answer nor NO_DATA
            result = QueryResult.refused("X", "NOT_AUTHORIZED")
            return web.Response(
                body=query_result_envelope(result, "SubmitQuery"), content_type="text/xml"
            )
        if self.mode == "timeout":
            await asyncio.sleep(self.hang_seconds)
            return web.Response(status=504)
        raise AssertionError(f"unknown mode {self.mode!r}")
