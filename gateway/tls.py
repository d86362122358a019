"""TLS for the listeners, and which requester a client certificate names.

Requesters prove who they are with mutual TLS. The provision listener asks every client for a
certificate and refuses, during the handshake, one that sends none or one that does not chain to
the configured CA (`--tls-client-ca`; never the system's CA store). A certificate names its
requester by exactly one URI subject alternative name

    urn:hogo-gateway:org:<requesterOrgCode, 16 digits>

and every SubmitQuery and GetQueryResult must carry that same requesterOrgCode (checked in
`gateway.provision`, with the rule in `gateway.decision.requester_certified`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509

from gateway.settings import TlsFiles

log = logging.getLogger("hogo.tls")

ORG_URI_PREFIX = "urn:hogo-gateway:org:"
_ORG_CODE = re.compile(r"^[0-9]{16}$")

# Handshake failures that mean "this client did not prove who it is"; anything else (a port
# scan, a plain-HTTP request, no shared cipher) is noise, not a security event.
_IDENTITY_FAILURES = frozenset(
    {"PEER_DID_NOT_RETURN_A_CERTIFICATE", "CERTIFICATE_VERIFY_FAILED", "NO_CERTIFICATE_RETURNED"}
)

Refused = Callable[[str, str], None]  # (reason, detail)


def org_uri(org_code: str) -> str:
    """The URI SAN a requester's certificate carries."""
    return ORG_URI_PREFIX + org_code


def org_of_certificate(peercert: dict[str, Any] | None) -> str:
    """The requester a validated client certificate names, or "" when it names none or several."""
    if not peercert:
        return ""
    orgs = {
        value.removeprefix(ORG_URI_PREFIX)
        for kind, value in peercert.get("subjectAltName", ())
        if kind == "URI" and value.startswith(ORG_URI_PREFIX)
    }
    if len(orgs) != 1:
        return ""
    (org,) = orgs
    return org if _ORG_CODE.match(org) else ""


def certified_org(request: web.Request) -> str | None:
    """Who the client certificate on this request's connection names.

    None on plain HTTP (no client certificates are asked for: loopback or --insecure-http);
    "" on TLS without a usable certificate, which no requesterOrgCode matches.
    """
    transport = request.transport
    if transport is None:
        return ""
    if transport.get_extra_info("sslcontext") is None:
        return None
    return org_of_certificate(transport.get_extra_info("peercert"))


class RefusalLimiter:
    """Reports handshake refusals at most `per_second` times a second; counts the rest.

    A scanner must not be able to fill the event log with one event per connection; the
    suppressed count goes with the next report.
    """

    def __init__(self, report: Refused, per_second: int = 10) -> None:
        self.report = report
        self.per_second = per_second
        self.window = 0
        self.count = 0
        self.suppressed = 0

    def __call__(self, reason: str, detail: str) -> None:
        now = int(time.monotonic())
        if now != self.window:
            self.window, self.count = now, 0
        self.count += 1
        if self.count > self.per_second:
            self.suppressed += 1
            return
        if self.suppressed:
            detail = f"{detail} (+{self.suppressed} suppressed)"
            self.suppressed = 0
        self.report(reason, detail)


def _watching(on_refused: Refused) -> type[ssl.SSLObject]:
    class WatchedSSLObject(ssl.SSLObject):
        """Tells `on_refused` when a client fails to prove who it is during the handshake."""

        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise  # the handshake is still under way
            except ssl.SSLError as exc:
                reason = exc.reason or type(exc).__name__
                if reason in _IDENTITY_FAILURES:
                    detail = getattr(exc, "verify_message", "") or reason
                    try:
                        on_refused(reason, detail)
                    except Exception:
                        log.exception("reporting a refused handshake failed")
                raise

    return WatchedSSLObject


def server_context(tls: TlsFiles, on_refused: Refused | None = None) -> ssl.SSLContext:
    """The TLS context of one listener; with a client CA, client certificates are required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # No TLS 1.3 session tickets: every connection is a full handshake, verified against the CA
    # and CRL as they are now (a resumed session would carry an older verification).
    ctx.num_tickets = 0
    ctx.options |= ssl.OP_NO_TICKET
    ctx.load_cert_chain(str(tls.cert), str(tls.key))
    if tls.client_ca is not None:
        # Only the configured CA: the system's store would admit any publicly issued certificate.
        ctx.load_verify_locations(cafile=str(tls.client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
        if tls.client_crl is not None:
            ctx.load_verify_locations(cafile=str(tls.client_crl))
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        if on_refused is not None:
            ctx.sslobject_class = _watching(on_refused)
    return ctx


def expiry_times(tls: TlsFiles) -> dict[str, float]:
    """When each of a listener's TLS files stops being valid (Unix time), for the metrics.

    An expired client CRL fails every handshake (fail closed), so it is watched like a
    certificate: deploy/alerts.yml warns two weeks ahead.
    """
    out = {"certificate": _not_after(tls.cert)}
    if tls.client_ca is not None:
        out["client_ca"] = _not_after(tls.client_ca)
    if tls.client_crl is not None:
        crl = x509.load_pem_x509_crl(tls.client_crl.read_bytes())
        if crl.next_update_utc is not None:
            out["client_crl"] = crl.next_update_utc.timestamp()
    return out


def _not_after(path: Path) -> float:
    """The earliest end of validity among the certificates in a PEM file."""
    certs = x509.load_pem_x509_certificates(path.read_bytes())
    return min(c.not_valid_after_utc.timestamp() for c in certs)


def schedule(coro: Any, pending: set[asyncio.Task[Any]]) -> None:
    """Run `coro` in the background on the running loop, keeping a reference until it ends."""
    task = asyncio.get_running_loop().create_task(coro)
    pending.add(task)
    task.add_done_callback(pending.discard)
