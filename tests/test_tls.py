"""Mutual TLS on loopback: requesters prove who they are with a client certificate from the
configured CA, and the certificate's requester must be the requesterOrgCode of every query."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest

from gateway import metrics
from gateway.settings import Listener, Settings, TlsFiles
from tests.conftest import Running, start_running, stop_running
from tests.pki import Issued, ThrowawayCA
from tests.support import (
    OTHER_REQUESTER,
    REQUESTER,
    Answer,
    Query,
    get_result_xml,
    hogo,
    parse_answer,
)


@dataclass
class Pki:
    ca: ThrowawayCA
    server: Issued
    requester: Issued
    other: Issued
    foreign_ca: ThrowawayCA
    foreign: Issued


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = ThrowawayCA(tmp_path / "pki")
    foreign_ca = ThrowawayCA(tmp_path / "foreign", name="some other CA")
    return Pki(
        ca=ca,
        server=ca.server(),
        requester=ca.requester(REQUESTER),
        other=ca.requester(OTHER_REQUESTER),
        foreign_ca=foreign_ca,
        # the right requester in the SAN, but not from the CA the gateway trusts
        foreign=foreign_ca.requester(REQUESTER),
    )


def tls_settings(settings: Settings, pki: Pki, **tls: object) -> Settings:
    return replace(
        settings,
        tls=TlsFiles(pki.server.cert, pki.server.key, pki.ca.cert_path, **tls),  # type: ignore[arg-type]
    )


async def _up(settings: Settings, redis_url: str, residents) -> AsyncIterator[Running]:
    r, runners = await start_running(settings, redis_url, residents)
    try:
        yield r
    finally:
        await stop_running(r, runners)


@pytest.fixture
async def tls_running(settings, pki: Pki, redis_url, residents) -> AsyncIterator[Running]:
    async for r in _up(tls_settings(settings, pki), redis_url, residents):
        yield r


async def post(url: str, body: bytes, ctx: ssl.SSLContext) -> Answer:
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session,
        session.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}) as resp,
    ):
        return parse_answer(resp.status, await resp.read())


async def events_of(r: Running, kind: str, timeout: float = 10.0) -> list[dict[str, object]]:
    """The events of `kind`, waiting a little for those recorded in the background."""
    deadline = time.monotonic() + timeout
    while True:
        found = await r.events(kind)
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def refused_during_handshake(url: str, ctx: ssl.SSLContext) -> None:
    """The connection fails in TLS: no HTTP answer of any kind comes back."""
    with pytest.raises(aiohttp.ClientError) as caught:
        await post(url, Query("T-x", "SIM0000000000001").xml(), ctx)
    assert not isinstance(caught.value, aiohttp.ClientResponseError)


async def test_matching_certificate_is_answered(tls_running: Running, pki: Pki) -> None:
    r = tls_running
    assert r.url.startswith("https://")
    ctx = pki.ca.client_context(pki.requester)
    person = r.residents[10]
    ans = await post(r.url + "/soap/provision", Query("T-1", person.subject_code).xml(), ctx)
    assert ans.status == "PROVIDED"
    assert ans.fields == [(f.name, f.value) for f in person.fields]
    got = await post(r.url + "/soap/provision", get_result_xml("T-1"), ctx)
    assert got.status == "PROVIDED"
    assert await r.events("security.") == []


async def test_no_client_certificate_is_refused_during_the_handshake(
    tls_running: Running, pki: Pki
) -> None:
    r = tls_running
    await refused_during_handshake(r.url + "/soap/provision", pki.ca.client_context(None))
    assert r.upstream.calls == []
    [event] = await events_of(r, "security.tls_refused")
    assert event["reason"] == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert event["listener"] == "main"


async def test_certificate_from_another_ca_is_refused_during_the_handshake(
    tls_running: Running, pki: Pki
) -> None:
    r = tls_running
    await refused_during_handshake(r.url + "/soap/provision", pki.ca.client_context(pki.foreign))
    assert r.upstream.calls == []
    [event] = await events_of(r, "security.tls_refused")
    assert event["reason"] == "CERTIFICATE_VERIFY_FAILED"


async def test_certificate_of_another_requester_is_refused_and_recorded(
    tls_running: Running, pki: Pki
) -> None:
    r = tls_running
    person = r.residents[11]
    # OTHER_REQUESTER's certificate, claiming to be REQUESTER (which is registered and permitted)
    ctx = pki.ca.client_context(pki.other)
    ans = await post(r.url + "/soap/provision", Query("T-2", person.subject_code).xml(), ctx)
    assert (ans.status, ans.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    assert r.upstream.calls == []
    # nothing was stored for it
    keys = r.gw.redis.keys
    assert not await r.gw.redis.client.exists(keys.idempotency(REQUESTER, "T-2"))
    assert await r.gw.queries.list_held() == []
    [event] = await r.events("security.requester_identity_mismatch")
    assert (event["org"], event["certified_org"], event["pn"], event["operation"]) == (
        REQUESTER,
        OTHER_REQUESTER,
        "T-2",
        "SubmitQuery",
    )
    # and a requester cannot read another requester's results either
    mine = pki.ca.client_context(pki.requester)
    assert (
        await post(r.url + "/soap/provision", Query("T-3", person.subject_code).xml(), mine)
    ).status == "PROVIDED"
    theirs = await post(r.url + "/soap/provision", get_result_xml("T-3", REQUESTER), ctx)
    assert (theirs.status, theirs.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    assert theirs.fields is None
    events = await r.events("security.requester_identity_mismatch")
    assert [e["operation"] for e in events] == ["SubmitQuery", "GetQueryResult"]
    # the certificate's own requester code is fine
    own = await post(
        r.url + "/soap/provision",
        Query("T-4", person.subject_code, requester=OTHER_REQUESTER).xml(),
        ctx,
    )
    assert own.status == "PROVIDED"


async def test_certificate_naming_no_single_requester_is_refused(
    tls_running: Running, pki: Pki
) -> None:
    r = tls_running
    person = r.residents[12]
    nameless = pki.ca.issue("no-org", client=True)
    twofold = pki.ca.issue(
        "two-orgs",
        client=True,
        uris=(f"urn:hogo-gateway:org:{REQUESTER}", f"urn:hogo-gateway:org:{OTHER_REQUESTER}"),
    )
    malformed = pki.ca.issue("short-org", client=True, uris=("urn:hogo-gateway:org:1310",))
    for i, cert in enumerate((nameless, twofold, malformed)):
        ans = await post(
            r.url + "/soap/provision",
            Query(f"T-5-{i}", person.subject_code).xml(),
            pki.ca.client_context(cert),
        )
        assert (ans.status, ans.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    assert r.upstream.calls == []
    events = await r.events("security.requester_identity_mismatch")
    assert [e["certified_org"] for e in events] == ["", "", ""]


async def test_tls_refusals_and_certificate_mismatches_are_each_counted_once(
    tls_running: Running, pki: Pki
) -> None:
    """The TLS part of tests/test_security_metrics.py: each event recorded once, counted once."""
    r = tls_running

    def counted(kind: str) -> float:
        sample = metrics.REGISTRY.get_sample_value("hogo_security_events_total", {"kind": kind})
        return sample or 0.0

    refused, mismatched = counted("tls_refused"), counted("requester_identity_mismatch")
    await refused_during_handshake(r.url + "/soap/provision", pki.ca.client_context(None))
    assert len(await events_of(r, "security.tls_refused")) == 1  # recorded in the background
    assert counted("tls_refused") - refused == 1
    ans = await post(
        r.url + "/soap/provision",
        Query("T-7", r.residents[14].subject_code).xml(),
        pki.ca.client_context(pki.other),
    )
    assert (ans.status, ans.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    assert len(await r.events("security.requester_identity_mismatch")) == 1
    assert counted("requester_identity_mismatch") - mismatched == 1
    assert len(await r.events("security.tls_refused")) == 1
    assert counted("tls_refused") - refused == 1


async def test_revoked_certificate_is_refused_during_the_handshake(
    settings, pki: Pki, redis_url, residents
) -> None:
    crl = pki.ca.revoke(pki.other)
    async for r in _up(tls_settings(settings, pki, client_crl=crl), redis_url, residents):
        person = r.residents[13]
        ok = await post(
            r.url + "/soap/provision",
            Query("T-6", person.subject_code).xml(),
            pki.ca.client_context(pki.requester),
        )
        assert ok.status == "PROVIDED"
        await refused_during_handshake(r.url + "/soap/provision", pki.ca.client_context(pki.other))
        [event] = await events_of(r, "security.tls_refused")
        assert event["reason"] == "CERTIFICATE_VERIFY_FAILED"
        assert "revoked" in str(event["detail"])


async def test_each_listener_serves_only_its_own_services(
    settings, pki: Pki, redis_url, residents
) -> None:
    from tests.support import portal_xml

    portal = Listener(
        "portal",
        "127.0.0.1",
        0,  # each listener on the port the system gives it
        ("portal",),
        TlsFiles(pki.server.cert, pki.server.key, pki.ca.cert_path),
    )
    ops = Listener("ops", "127.0.0.1", 0, ("ops",))
    portal_client = pki.ca.issue("mynaportal", client=True)
    configured = replace(tls_settings(settings, pki), separate_listeners=(portal, ops))
    async for r in _up(configured, redis_url, residents):
        portal_url, ops_url = r.listeners["portal"], r.listeners["ops"]
        assert len({r.url, portal_url, ops_url}) == 3
        requester = pki.ca.client_context(pki.requester)
        person = r.residents[14]
        portal_body = portal_xml("GetSelfInformation", person.subject_code)
        async with aiohttp.ClientSession() as plain:
            # the portal on its listener, not on the main one; provision the other way round
            assert (
                await post(
                    portal_url + "/soap/portal", portal_body, pki.ca.client_context(portal_client)
                )
            ).status == "AVAILABLE"
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=requester)
            ) as session:
                async with session.post(r.url + "/soap/portal", data=portal_body) as resp:
                    assert resp.status == 404
                async with session.get(r.url + "/metrics") as resp:
                    assert resp.status == 404
                async with session.get(r.url + "/healthz") as resp:
                    assert resp.status == 200  # liveness on every listener
            async with (
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=pki.ca.client_context(portal_client))
                ) as session,
                session.post(portal_url + "/soap/provision", data=b"x") as resp,
            ):
                assert resp.status == 404
            async with plain.get(ops_url + "/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
                assert "hogo_queries_total" in text
                # when each listener's certificate and client CA expire, for the alerts
                for listener in ("main", "portal"):
                    for what in ("certificate", "client_ca"):
                        line = next(
                            x
                            for x in text.splitlines()
                            if x.startswith("hogo_tls_expiry_timestamp_seconds{")
                            and f'listener="{listener}"' in x
                            and f'what="{what}"' in x
                        )
                        assert 0 < float(line.split()[-1]) - time.time() <= 86400
            async with plain.post(ops_url + "/soap/provision", data=b"x") as resp:
                assert resp.status == 404
        assert (
            await post(
                r.url + "/soap/provision", Query("T-7", person.subject_code).xml(), requester
            )
        ).status == "PROVIDED"


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return hogo("serve", "--upstream-url", "http://127.0.0.1:9/", *args)


def test_serve_refuses_tls_settings_that_would_not_authenticate_requesters(pki: Pki) -> None:
    cert, key = str(pki.server.cert), str(pki.server.key)
    no_client_ca = _serve("--tls-cert", cert, "--tls-key", key)
    assert no_client_ca.returncode == 2 and "--tls-client-ca" in no_client_ca.stderr
    half = _serve("--tls-cert", cert)
    assert half.returncode == 2 and "certificate and its key" in half.stderr
    orphan = _serve("--portal-tls-cert", cert, "--portal-tls-key", key)
    assert orphan.returncode == 2 and "--portal-listen" in orphan.stderr
    plain_portal = _serve("--portal-listen", "0.0.0.0:9443")
    assert plain_portal.returncode == 2 and "--insecure-http" in plain_portal.stderr


def test_paths_belong_to_services() -> None:
    from gateway.listeners import service_of

    assert service_of("/soap/provision") == "provision"
    assert service_of("/soap/portal") == "portal"
    assert {service_of(p) for p in ("/healthz", "/readyz", "/metrics")} == {"ops"}
    # the console and its API, with whatever pages and static files it has
    assert {service_of(p) for p in ("/staff/", "/api/v1/held", "/static/app.css", "/")} == {"staff"}
