"""The information-provision service: SubmitQuery (照会依頼) and GetQueryResult (結果取得要求).

A query's way, in order: parse (edge) → resolve the subject, read its flags and decide (store.admit:
the pure rule of gateway.decision, looked up inside the store's atomic step) → forward and relay
if the flag is still clear at that moment (store.complete), or
hold → answer. Anything uncertain ends in a hold or a fault, never in an automatic answer.
"""

from __future__ import annotations

import logging

from gateway import metrics
from gateway.crypto import Keyring
from gateway.decision import Action, RefuseReason, requester_certified
from gateway.model import QueryResult, SubmitQuery
from gateway.store.events import EventLog
from gateway.store.queries import QueryStore
from gateway.upstream import Upstream, UpstreamUnavailable

log = logging.getLogger("hogo.provision")


class ProvisionService:
    def __init__(
        self, queries: QueryStore, keyring: Keyring, upstream: Upstream, events: EventLog
    ) -> None:
        self.queries = queries
        self.keyring = keyring
        self.upstream = upstream
        self.events = events

    async def _certified(
        self, claimed_org: str, certified_org: str | None, pn: str, operation: str
    ) -> bool:
        """The requester is who its client certificate says; otherwise a security event."""
        if requester_certified(claimed_org, certified_org):
            return True
        metrics.QUERIES.labels("refused").inc()
        await self.events.security(
            "requester_identity_mismatch",
            f"certificate:{certified_org or 'none'}",
            org=claimed_org,
            certified_org=certified_org or "",
            pn=pn,
            operation=operation,
            decision="refused",
            reason=RefuseReason.NOT_AUTHORIZED,
        )
        return False

    async def submit(self, q: SubmitQuery, certified_org: str | None = None) -> QueryResult:
        """One 照会依頼. `certified_org`: the requester its client certificate names (see tls.py).

        `q` is all there is of the request: the upstream receives a request built from it, so what
        was decided on is what is asked (never the requester's bytes, which stop at the edge)."""
        if not await self._certified(
            q.requester_org_code, certified_org, q.processing_number, "SubmitQuery"
        ):
            return QueryResult.refused(q.processing_number, RefuseReason.NOT_AUTHORIZED)
        subject_keys = self.keyring.person_keys("subject", q.subject_code)
        admission = await self.queries.admit(q, subject_keys)
        # decided inside the atomic admission, by the table made from decision.decide()
        decision = admission.decision
        metrics.DECISIONS.labels(decision.action.value, decision.reason).inc()

        if decision.action is Action.REFUSE:
            metrics.QUERIES.labels("refused").inc()
            metrics.SECURITY_EVENTS.labels(
                "unknown_requester"
                if not admission.facts.requester_registered
                else "requester_not_permitted"
            ).inc()
            return QueryResult.refused(q.processing_number, decision.reason)

        if decision.action is Action.EXISTING:
            return await self.queries.result(q.requester_org_code, q.processing_number)

        assert admission.query_id is not None
        if decision.action is Action.HOLD:
            await self.queries.hold(admission.query_id, decision.reason)
            return self._held(q, decision.reason)

        try:
            answer = await self.upstream.submit(q, idempotency_key=admission.query_id)
        except Exception as exc:
            # Whatever went wrong with the upstream (Upstream raises UpstreamUnavailable for every
            # failure it knows; anything else is a failure too), the reservation is given back so
            # that the requester may send the same query again, as the contract says: a query
            # left RECEIVED would answer PENDING for good and be held as `interrupted`.
            await self.queries.abandon(q, admission.query_id, "upstream_unavailable")
            if isinstance(exc, UpstreamUnavailable):
                raise
            log.exception("the upstream call failed unexpectedly")
            raise UpstreamUnavailable("the upstream call failed") from None
        relay = await self.queries.complete(
            admission.query_id, subject_keys, subject_keys[0], answer
        )
        if not relay.provided:
            # The flag was set (or the subject vanished) while the upstream answered; or the
            # query was swept as interrupted. Either way the answer stays here.
            return self._held(q, relay.reason or relay.state)
        metrics.QUERIES.labels("provided").inc()
        # The upstream's bytes are relayed only when they were exactly the canonical answer for
        # this very query (the same processing number, the values read): the same bytes the
        # gateway would write, decided on and recorded above like any other answer.
        canonical = answer.canonical
        relayed = canonical[1] if canonical and canonical[0] == q.processing_number else None
        if not answer.has_data:
            return QueryResult(
                q.processing_number, "REFUSED", refusal_code="NO_DATA", relayed=relayed
            )
        return QueryResult(q.processing_number, "PROVIDED", fields=answer.fields, relayed=relayed)

    @staticmethod
    def _held(q: SubmitQuery, reason: str) -> QueryResult:
        metrics.QUERIES.labels("held").inc()
        metrics.HOLDS.labels(reason).inc()
        return QueryResult.pending(q.processing_number)

    async def result(
        self, org_code: str, processing_number: str, certified_org: str | None = None
    ) -> QueryResult:
        """GetQueryResult (結果取得要求), for the requester its certificate names."""
        if not await self._certified(org_code, certified_org, processing_number, "GetQueryResult"):
            return QueryResult.refused(processing_number, RefuseReason.NOT_AUTHORIZED)
        result, refusal = await self.queries.result_and_refusal(org_code, processing_number)
        if refusal:
            metrics.SECURITY_EVENTS.labels(refusal).inc()
        return result
