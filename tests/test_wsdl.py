"""The WSDL files are what requesters build clients from: zeep must build working clients."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import zeep
from zeep.exceptions import Fault

from tests.conftest import Running
from tests.support import Query

WSDL = Path(__file__).resolve().parents[1] / "wsdl"


def _client(name: str, address: str) -> tuple[zeep.Client, object]:
    client = zeep.Client(str(WSDL / name))
    binding = next(iter(client.wsdl.bindings))
    return client, client.create_service(binding, address)


def test_both_wsdl_files_build_zeep_clients_with_the_contracts_operations() -> None:
    prov = zeep.Client(str(WSDL / "provision.wsdl"))
    ops = {
        op
        for svc in prov.wsdl.services.values()
        for port in svc.ports.values()
        for op in port.binding._operations
    }
    assert ops == {"SubmitQuery", "GetQueryResult"}
    portal = zeep.Client(str(WSDL / "portal.wsdl"))
    ops = {
        op
        for svc in portal.wsdl.services.values()
        for port in svc.ports.values()
        for op in port.binding._operations
    }
    assert ops == {"GetSelfInformation", "GetProvisionRecords"}
    action = (
        prov.wsdl.bindings[next(iter(prov.wsdl.bindings))]._operations["SubmitQuery"].soapaction
    )
    assert action == "urn:hogo-gateway:provision:1/SubmitQuery"


async def test_zeep_provision_client_round_trip(running: Running) -> None:
    person, flagged = running.residents[10], running.residents[0]
    await running.flag(flagged)

    def talk() -> tuple[object, object, object, object]:
        _, svc = _client("provision.wsdl", running.url + "/soap/provision")
        common = dict(
            requesterOrgCode="1310000000000001",
            affairCode="JM00000000000001",
            procedureCode="JT00000000000001",
            itemCode="TM00000000000001",
            requestedAt="2026-11-26T10:00:00+09:00",
        )
        a = svc.SubmitQuery(processingNumber="Z-1", subjectCode=person.subject_code, **common)
        b = svc.SubmitQuery(processingNumber="Z-2", subjectCode=flagged.subject_code, **common)
        c = svc.GetQueryResult(processingNumber="Z-1", requesterOrgCode="1310000000000001")
        try:
            svc.SubmitQuery(processingNumber="Z_bad", subjectCode=person.subject_code, **common)
            d = None
        except Fault as f:
            d = f
        return a, b, c, d

    a, b, c, fault = await asyncio.to_thread(talk)
    assert a.status == "PROVIDED"
    assert [(f.name, f.value) for f in a.provision.field] == [
        (f.name, f.value) for f in person.fields
    ]
    assert b.status == "PENDING" and b.provision is None
    assert c.status == "PROVIDED"
    assert fault is not None and fault.code.endswith("Client")
    assert fault.detail.find("{urn:hogo-gateway:provision:1}errorCode").text == "SCHEMA_INVALID"


async def test_zeep_portal_client_round_trip(running: Running) -> None:
    person = running.residents[10]
    assert (await running.submit(Query("ZP-1", person.subject_code))).status == "PROVIDED"

    def talk() -> tuple[object, object]:
        _, svc = _client("portal.wsdl", running.url + "/soap/portal")
        return (
            svc.GetSelfInformation(subjectCode=person.subject_code),
            svc.GetProvisionRecords(subjectCode=person.subject_code),
        )

    info, records = await asyncio.to_thread(talk)
    assert info.status == "AVAILABLE" and len(info.field) == len(person.fields)
    assert [(r.processingNumber, r.requesterOrgCode) for r in records] == [
        ("ZP-1", "1310000000000001")
    ]


@pytest.mark.parametrize("name", ["provision.wsdl", "portal.wsdl"])
def test_wsdl_schema_types_carry_the_code_patterns(name: str) -> None:
    text = (WSDL / name).read_text()
    for pattern in ["[A-Za-z0-9]{1,64}", "TM[0-9]{14}"]:
        assert pattern in text
    if name == "provision.wsdl":
        for pattern in [
            "[0-9]{16}",
            "JM[0-9]{14}",
            "JT[0-9]{14}",
            "[A-Za-z0-9\\-]{1,32}",
            "[A-Za-z0-9_\\-]{0,20}",
        ]:
            assert pattern in text
