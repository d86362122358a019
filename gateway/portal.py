"""The citizen portal's views (マイナポータル): self-information and provision records.

For a person who must not be found, both views answer exactly as they would for a person with no
data: the gateway builds every portal answer itself in one canonical form, so that "blocked" and
"nothing here" are the same bytes. Nor does the work behind the answer tell them apart: the
upstream is asked for every self-information view, and each view is one store script with the
same store work for a flagged, an unflagged and an unknown person (gateway/store/portal.py),
which also records the view, whatever its outcome.
"""

from __future__ import annotations

from gateway import metrics
from gateway.crypto import Keyring
from gateway.model import Field, PortalRequest, ProvisionRecord
from gateway.store.portal import PortalStore, PortalView
from gateway.upstream import Upstream

# The view outcomes that are security events (their kinds without `security.`); the script
# records them, and its caller counts them (gateway/metrics.py SECURITY_EVENTS).
_SECURITY_KINDS = {"blocked": "portal_blocked", "filtered": "portal_filtered"}


class PortalService:
    def __init__(self, keyring: Keyring, store: PortalStore, upstream: Upstream) -> None:
        self.keyring = keyring
        self.store = store
        self.upstream = upstream

    async def self_information(self, view: PortalRequest) -> tuple[Field, ...] | None:
        """Fields to show, or None (UNAVAILABLE: no data, unknown person, or 自動応答不可).

        The flags are read after the upstream answered, at the last moment before the answer is
        built: a flag set while the upstream answered blocks the view too."""
        began_at, _ = self.store.r.clock.stamp()
        fields = await self.upstream.self_information(view)
        seen = await self.store.self_information(
            self.keyring.person_keys("subject", view.subject_code), began_at, bool(fields)
        )
        self._count("GetSelfInformation", seen)
        return fields if seen.outcome == "shown" else None

    async def provision_records(self, view: PortalRequest) -> list[ProvisionRecord]:
        """Records the person may see: none while 不開示, never those marked non-disclosable
        (marked when written, so a released flag does not reveal what was made while flagged),
        none for a subject the directory does not know (its flag state cannot be established)."""
        seen = await self.store.provision_records(
            self.keyring.person_keys("subject", view.subject_code)
        )
        self._count("GetProvisionRecords", seen)
        return list(seen.records)

    @staticmethod
    def _count(operation: str, seen: PortalView) -> None:
        metrics.PORTAL_VIEWS.labels(operation, seen.outcome).inc()
        kind = _SECURITY_KINDS.get(seen.outcome)
        if kind:
            metrics.SECURITY_EVENTS.labels(kind).inc()
