"""A stand-in for the ward's information-provision endpoint, with synthetic residents only.

Used by `hogo-gateway demo`, the tests and the benchmark. It answers SubmitQuery (provision WSDL)
and GetSelfInformation (portal WSDL) at one URL, routing by the Body, as the real one does.
Every name, number and amount here is invented.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiohttp import web

from gateway.model import Field, QueryResult
from gateway.soap import PORTAL_NS, PROVISION_NS
from gateway.soap.faults import ErrorCode, SoapFault, fault_body
from gateway.soap.messages import query_result_envelope, self_information_envelope
from gateway.soap.parse import body_element, parse_xml

_FAMILY = ["試験", "見本", "仮名", "架空", "模擬", "例示", "検証", "演習"]
_GIVEN = ["花子", "太郎", "陽菜", "蓮", "結衣", "湊", "葵", "悠真", "凛", "大和"]


@dataclass(frozen=True)
class Resident:
    """One synthetic resident: person number, subject code, name and the data the ward holds."""

    atena_number: str
    subject_code: str
    name: str
    fields: tuple[Field, ...]


def synthetic_residents(count: int, start: int = 1) -> Iterator[Resident]:
    for i in range(start, start + count):
        name = f"{_FAMILY[i % len(_FAMILY)]} {_GIVEN[i % len(_GIVEN)]}"
        yield Resident(
            atena_number=f"{900000000000000 + i:015d}",
            subject_code=f"SIM{i:013d}",
            name=name,
            fields=(
                Field("課税標準額", str(1_800_000 + (i * 7919) % 4_000_000)),
                Field("住民税所得割額", str(90_000 + (i * 104729) % 300_000)),
                Field("世帯人員数", str(1 + i % 5)),
                Field("課税年度", "2026"),
            ),
        )


@dataclass
class Simulator:
    """The upstream's state: residents by subject code, a delay, and what it was asked.

    `gate` (tests): while it is an Event not yet set, every call, once recorded, waits for it, so
    that a test acts while the upstream is answering for as long as it takes, then opens it."""

    residents: dict[str, Resident] = field(default_factory=dict)
    delay: float = 0.0
    gate: asyncio.Event | None = None
    fail: bool = False
    calls: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (operation, subject, idem key)
    record_calls: bool = True

    @classmethod
    def with_residents(cls, count: int, **kw: object) -> Simulator:
        return cls(residents={r.subject_code: r for r in synthetic_residents(count)}, **kw)  # type: ignore[arg-type]

    async def handle(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return web.Response(text="information-provision endpoint (simulated)\n")
        body = await request.read()
        if self.fail:
            return web.Response(status=503, text="unavailable")
        try:
            el = body_element(parse_xml(body))
        except SoapFault as f:
            return web.Response(
                body=fault_body(f.code, PROVISION_NS), status=500, content_type="text/xml"
            )
        subject = el.text_of("subjectCode")
        if self.record_calls:  # on arrival, so that tests can act while we "work"
            self.calls.append((el.name, subject, request.headers.get("Idempotency-Key", "")))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.gate is not None:
            await self.gate.wait()
        resident = self.residents.get(subject)
        if el.namespace == PROVISION_NS and el.name == "SubmitQueryRequest":
            pn = el.text_of("processingNumber")
            result = (
                QueryResult(pn, "PROVIDED", fields=resident.fields)
                if resident
                else QueryResult.refused(pn, "NO_DATA")
            )
            payload = query_result_envelope(result, "SubmitQuery")
        elif el.namespace == PORTAL_NS and el.name == "GetSelfInformationRequest":
            payload = self_information_envelope(resident.fields if resident else None)
        else:
            payload = fault_body(ErrorCode.UNKNOWN_OPERATION, el.namespace or PROVISION_NS)
            return web.Response(body=payload, status=500, content_type="text/xml")
        return web.Response(body=payload, content_type="text/xml", charset="utf-8")

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app
