"""Test support: SOAP helpers and the synthetic query; the processes the tests start (redis-server,
the command line, the gateway, aiohttp applications) are tests/processes.py's, named here too."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from gateway.model import SubmitQuery
from gateway.simulator import Resident
from tests.processes import (  # noqa: F401 (one way to start each: named here for every test)
    GatewayProcess,
    RedisServer,
    RedisTls,
    ServedApp,
    SmtpServer,
    alive,
    checkers,
    children,
    hogo,
    hogo_command,
    hogo_process,
    is_checker,
    reserve_port,
    serve_app,
    until,
)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PROV = "urn:hogo-gateway:provision:1"
PORTAL = "urn:hogo-gateway:portal:1"
REQUESTER = "1310000000000001"
OTHER_REQUESTER = "1320000000000002"
AFFAIR = "JM00000000000001"  # the affair the test requesters are granted (see conftest)


@dataclass
class Query:
    """A SubmitQuery with sensible synthetic defaults."""

    processing_number: str
    subject_code: str
    requester: str = REQUESTER
    affair: str = AFFAIR
    procedure: str = "JT00000000000001"
    item: str = "TM00000000000001"
    non_disclosure: str | None = None
    requested_at: str = "2026-11-26T10:00:00+09:00"

    def value(self) -> SubmitQuery:
        """The query as the gateway holds it once validated (what its upstream is asked about)."""
        return SubmitQuery(
            processing_number=self.processing_number,
            requester_org_code=self.requester,
            affair_code=self.affair,
            procedure_code=self.procedure,
            item_code=self.item,
            subject_code=self.subject_code,
            requested_at=self.requested_at,
            requester_non_disclosure=self.non_disclosure == "1",
        )

    def xml(self) -> bytes:
        nd = (
            f"<q:requesterNonDisclosure>{self.non_disclosure}</q:requesterNonDisclosure>"
            if self.non_disclosure is not None
            else ""
        )
        return (
            f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
            f'<q:SubmitQueryRequest xmlns:q="{PROV}">'
            f"<q:processingNumber>{escape(self.processing_number)}</q:processingNumber>"
            f"<q:requesterOrgCode>{self.requester}</q:requesterOrgCode>"
            f"<q:requesterDeptCode>D01</q:requesterDeptCode>"
            f"<q:requesterUserId>user_7</q:requesterUserId>"
            f"<q:affairCode>{self.affair}</q:affairCode>"
            f"<q:procedureCode>{self.procedure}</q:procedureCode>"
            f"<q:itemCode>{self.item}</q:itemCode>"
            f"<q:subjectCode>{escape(self.subject_code)}</q:subjectCode>{nd}"
            f"<q:requestedAt>{self.requested_at}</q:requestedAt>"
            "</q:SubmitQueryRequest></soap:Body></soap:Envelope>"
        ).encode()


def get_result_xml(processing_number: str, requester: str = REQUESTER) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><q:GetQueryResultRequest xmlns:q="{PROV}">'
        f"<q:processingNumber>{processing_number}</q:processingNumber>"
        f"<q:requesterOrgCode>{requester}</q:requesterOrgCode>"
        "</q:GetQueryResultRequest></soap:Body></soap:Envelope>"
    ).encode()


def portal_xml(operation: str, subject_code: str, item: str | None = None) -> bytes:
    extra = f"<p:itemCode>{item}</p:itemCode>" if item else ""
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><p:{operation}Request xmlns:p="{PORTAL}">'
        f"<p:subjectCode>{subject_code}</p:subjectCode>{extra}</p:{operation}Request></soap:Body></soap:Envelope>"
    ).encode()


@dataclass
class Answer:
    """A parsed SOAP answer: the status fields, or the fault."""

    http_status: int
    raw: bytes
    status: str | None = None
    fields: list[tuple[str, str]] | None = None
    handling_notice: str | None = None
    refusal_code: str | None = None
    fault_code: str | None = None
    error_code: str | None = None


def parse_answer(http_status: int, raw: bytes) -> Answer:
    ans = Answer(http_status, raw)
    root = etree.fromstring(raw)
    fault = root.find(f".//{{{SOAP_ENV}}}Fault")
    if fault is not None:
        ans.fault_code = fault.findtext("faultcode")
        ans.error_code = fault.findtext("detail/{*}errorCode")
        return ans
    ans.status = root.findtext(".//{*}status")
    prov = root.find(".//{*}provision")
    if prov is not None:
        ans.fields = [
            (f.findtext("{*}name"), f.findtext("{*}value")) for f in prov.findall("{*}field")
        ]
    ans.handling_notice = root.findtext(".//{*}handlingNotice")
    ans.refusal_code = root.findtext(".//{*}refusalCode")
    return ans


Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_runner(data_dir: Path, redis_url: str) -> Cli:
    """`hogo` bound to one data dir and store: run(*args, stdin=..., env=..., timeout=...)."""

    def run(*args: str | Path, **options: Any) -> subprocess.CompletedProcess[str]:
        return hogo(*args, data_dir=data_dir, redis_url=redis_url, **options)

    return run


def prepare_by_cli(hogo: Cli, tmp_path: Path, residents: Iterable[Resident]) -> None:
    """A store made ready through the command line, as an operator would: REQUESTER registered
    and granted AFFAIR, the residents' directory imported from a CSV file."""
    csv = tmp_path / "dir.csv"
    csv.write_text(
        "atena_number,subject_code\n"
        + "".join(f"{r.atena_number},{r.subject_code}\n" for r in residents)
    )
    for args in (
        ("requesters", "add", REQUESTER, "--name", "見本市"),
        ("requesters", "grant", REQUESTER, "--affair", AFFAIR),
        ("directory", "import", str(csv)),
    ):
        res = hogo(*args)
        assert res.returncode == 0, (args, res.stderr)


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert len(lines) == 1 and lines[0].startswith("hogo-gateway: error:"), res.stderr
    return lines[0]
