"""`Upstream` on the lean pool: the same `submit`, `self_information` and `reachable`, the same
`UpstreamUnavailable` for every failure and the same observe callback, over `UpstreamPool`."""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.lean.pool import UpstreamPool
from gateway.soap import PORTAL_NS
from gateway.upstream import Upstream, UpstreamUnavailable

# the names as aiohttp's client writes them: an upstream might (wrongly) match them by case
_CONTENT_TYPE = (b"Content-Type", b"text/xml; charset=utf-8")


class LeanUpstream(Upstream):
    """A drop-in for `Upstream` whose `_post` goes through an `UpstreamPool`.

    Which POSTs may be sent a second time after an idle pooled connection closed under them
    without answering (see gateway/lean/pool/): GetSelfInformation, a read; SubmitQuery only
    with `replay_submit`, which an operator may turn on for an upstream known to answer a
    repeated Idempotency-Key once (the gateway sends the query's id as that key). Off, such a
    SubmitQuery fails as UPSTREAM_UNAVAILABLE, which is what aiohttp's client does today.
    """

    def __init__(
        self,
        pool: UpstreamPool,
        observe: Callable[[float], None] | None = None,
        *,
        replay_submit: bool = False,
    ) -> None:
        self.pool = pool
        self.url = pool.url
        self._observe = observe
        self.replay_submit = replay_submit

    async def _post(self, body: bytes, action: str, idempotency_key: str | None) -> bytes:
        headers = [_CONTENT_TYPE, (b"SOAPAction", f'"{action}"'.encode())]
        if idempotency_key:
            headers.append((b"Idempotency-Key", idempotency_key.encode()))
        replayable = action == f"{PORTAL_NS}/GetSelfInformation" or (
            self.replay_submit and bool(idempotency_key)
        )
        started = time.perf_counter()
        try:
            answer = await self.pool.request("POST", body, headers, replayable=replayable)
            if answer.status >= 500 and b"Fault" not in answer.body:
                raise UpstreamUnavailable(f"the upstream answered HTTP {answer.status}")
            return answer.body
        finally:
            if self._observe:
                self._observe(time.perf_counter() - started)

    async def reachable(self, within: float = 2.0) -> bool:
        """Any HTTP response at all within `within` seconds (for /readyz)."""
        try:
            await self.pool.request("GET", replayable=True, timeout=within)
        except UpstreamUnavailable:
            return False
        return True

    async def close(self) -> None:
        await self.pool.close()
