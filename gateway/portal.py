"""The citizen portal's views (マイナポータル): self-information and provision records.

For a person who must not be found, both views answer exactly as they would for a person with no
data: the gateway builds every portal answer itself in one canonical form, so that "blocked" and
"nothing here" are the same bytes. The upstream is asked in both cases, so that the time taken does
not tell them apart either.
"""

from __future__ import annotations

from gateway import metrics
from gateway.crypto import Keyring
from gateway.model import Field, FlagState, PortalRequest, ProvisionRecord
from gateway.store.directory import DirectoryStore
from gateway.store.events import EventLog
from gateway.store.flags import FlagStore
from gateway.store.records import RecordStore
from gateway.upstream import Upstream


class PortalService:
    def __init__(
        self,
        keyring: Keyring,
        directory: DirectoryStore,
        flags: FlagStore,
        records: RecordStore,
        events: EventLog,
        upstream: Upstream,
    ) -> None:
        self.keyring = keyring
        self.directory = directory
        self.flags = flags
        self.records = records
        self.events = events
        self.upstream = upstream

    async def _flags(self, subject_code: str) -> tuple[str | None, FlagState | None]:
        person = await self.directory.person_of_subject(subject_code)
        if person is None:
            return None, None
        return person, await self.flags.state_of_person(person)

    async def self_information(self, view: PortalRequest) -> tuple[Field, ...] | None:
        """Fields to show, or None (UNAVAILABLE: no data, unknown person, or 自動応答不可)."""
        subject_code = view.subject_code
        person, flags = await self._flags(subject_code)
        fields = await self.upstream.self_information(view)
        reason = "auto_response_disabled"
        if flags is not None and not flags.auto_response_disabled:
            # the last moment: a flag set while the upstream answered blocks the view too
            person, flags = await self._flags(subject_code)
            reason = "flag_set_in_flight"
        if person is None or flags is None:
            metrics.PORTAL_VIEWS.labels("GetSelfInformation", "unknown_subject").inc()
            return None
        if flags.auto_response_disabled:
            await self.events.security(
                "portal_blocked",
                "portal",
                decision="blocked",
                operation="GetSelfInformation",
                subject=person,
                reason=reason,
            )
            metrics.PORTAL_VIEWS.labels("GetSelfInformation", "blocked").inc()
            return None
        metrics.PORTAL_VIEWS.labels("GetSelfInformation", "shown" if fields else "no_data").inc()
        return fields

    async def provision_records(self, view: PortalRequest) -> list[ProvisionRecord]:
        """Records the person may see: none while 不開示, never those marked non-disclosable
        (marked when written, so a released flag does not reveal what was made while flagged).

        The flag is read after the records, at the last moment before the answer is built: a flag
        set while the records were read hides them too.
        """
        subject_code = view.subject_code
        records = await self.records.of_subject(self.keyring.person_keys("subject", subject_code))
        person, flags = await self._flags(subject_code)
        if person is None or flags is None:
            # unknown to the directory: the flag state cannot be established, so nothing is shown
            metrics.PORTAL_VIEWS.labels("GetProvisionRecords", "unknown_subject").inc()
            return []
        shown = [] if flags.non_disclosure else [r for r in records if not r.non_disclosure]
        hidden = len(records) - len(shown)
        if flags.non_disclosure or hidden:
            await self.events.security(
                "portal_filtered",
                "portal",
                decision="filtered",
                operation="GetProvisionRecords",
                subject=person,
                hidden=str(hidden),
                reason="non_disclosure" if flags.non_disclosure else "record_marked",
            )
        outcome = "filtered" if hidden or flags.non_disclosure else "shown"
        metrics.PORTAL_VIEWS.labels("GetProvisionRecords", outcome).inc()
        return shown
