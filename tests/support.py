"""Test support: real redis-server processes, a real upstream on loopback, SOAP helpers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import redis
from lxml import etree

from gateway.embedded import redis_server_binary
from gateway.model import SubmitQuery

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PROV = "urn:hogo-gateway:provision:1"
PORTAL = "urn:hogo-gateway:portal:1"
REQUESTER = "1310000000000001"
OTHER_REQUESTER = "1320000000000002"
AFFAIR = "JM00000000000001"  # the affair the test requesters are granted (see conftest)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A real redis-server on a free loopback port, append-only, in its own directory."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--rdbcompression",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_ready()
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, decode_responses=True)

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """kill -9: no goodbye, no final flush beyond what appendfsync already did."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def files(self) -> list[Path]:
        return [p for p in self.dir.rglob("*") if p.is_file()]

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


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
    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway",
                "--data-dir",
                str(data_dir),
                "--redis-url",
                redis_url,
                *args,
            ],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=120,
        )

    return run


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert len(lines) == 1 and lines[0].startswith("hogo-gateway: error:"), res.stderr
    return lines[0]


class GatewayProcess:
    """`hogo-gateway serve` in its own process (to kill -9), with extra environment; its output
    goes to a log file beside the data dir."""

    def __init__(self, data_dir: Path, redis_url: str, upstream_url: str, **env: str) -> None:
        self.port = free_port()
        self.log = data_dir.parent / f"gateway-{self.port}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "gateway", "serve", "--data-dir", str(data_dir),
                    "--redis-url", redis_url, "--upstream-url", upstream_url,
                    "--port", str(self.port),
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, **env},
            )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, timeout: float = 30) -> None:
        import asyncio

        import aiohttp

        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                try:
                    async with s.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("gateway did not start")

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
