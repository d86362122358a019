"""Forwarding to the information-provision endpoint (the store of 副本) behind the gateway.

What it sends is built here from domain values (a SubmitQuery, a PortalRequest): this client has
no way to pass on bytes it was given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import aiohttp

from gateway.model import Field, PortalRequest, SubmitQuery, UpstreamAnswer
from gateway.soap import PORTAL_NS, PROVISION_NS
from gateway.soap.canonical import read_answer
from gateway.soap.faults import ErrorCode, SoapFault
from gateway.soap.messages import (
    read_upstream_self_information,
    self_information_request_envelope,
    submit_query_envelope,
)

MAX_ANSWER_BYTES = 8 * 1024 * 1024


class UpstreamUnavailable(SoapFault):
    """The upstream gave no usable answer: unreachable, too slow, an HTTP error, a SOAP fault, or
    anything that is not the answer asked for. The one error this client raises."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(ErrorCode.UPSTREAM_UNAVAILABLE, detail)


T = TypeVar("T")


def _usable(read: Callable[[bytes], T], payload: bytes) -> T:
    """The answer read from `payload`, or UpstreamUnavailable (a fault, garbage, another answer)."""
    try:
        return read(payload)
    except UpstreamUnavailable:
        raise
    except SoapFault as fault:
        raise UpstreamUnavailable(fault.detail or "the upstream gave no usable answer") from None


class Upstream:
    """One HTTP client session to the upstream URL, shared by the whole process."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, timeout: float, observe=None
    ) -> None:
        self.session = session
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._observe = observe  # called with seconds per upstream call (metrics)

    async def _post(self, body: bytes, action: str, idempotency_key: str | None) -> bytes:
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        started = time.perf_counter()
        try:
            async with self.session.post(
                self.url, data=body, headers=headers, timeout=self.timeout
            ) as resp:
                payload = await resp.content.read(MAX_ANSWER_BYTES + 1)
                if len(payload) > MAX_ANSWER_BYTES:
                    raise UpstreamUnavailable("the upstream's answer is too large")
                if resp.status >= 500 and b"Fault" not in payload:
                    raise UpstreamUnavailable(f"the upstream answered HTTP {resp.status}")
                return payload
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamUnavailable(
                f"the upstream cannot be reached: {type(exc).__name__}"
            ) from None
        finally:
            if self._observe:
                self._observe(time.perf_counter() - started)

    async def submit(self, q: SubmitQuery, idempotency_key: str) -> UpstreamAnswer:
        """Ask the upstream the 照会依頼 `q` (a request built from its values) and read the answer."""
        payload = await self._post(
            submit_query_envelope(q), f"{PROVISION_NS}/SubmitQuery", idempotency_key
        )
        return _usable(read_answer, payload)

    async def self_information(self, view: PortalRequest) -> tuple[Field, ...] | None:
        """The person's own data (自己情報), or None when the upstream has none."""
        payload = await self._post(
            self_information_request_envelope(view.subject_code, view.item_code),
            f"{PORTAL_NS}/GetSelfInformation",
            None,
        )
        return _usable(read_upstream_self_information, payload)

    async def reachable(self, within: float = 2.0) -> bool:
        """Any HTTP response at all within `within` seconds (for /readyz)."""
        try:
            async with self.session.get(
                self.url, timeout=aiohttp.ClientTimeout(total=within)
            ) as resp:
                await resp.read()
                return True
        except (TimeoutError, aiohttp.ClientError):
            return False
