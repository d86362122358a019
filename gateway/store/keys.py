"""The one place that knows the key layout. Everything shares one hash tag (`{hogo}`), so that the
keys of a decision sit in one Redis Cluster slot and each Lua script may touch them atomically.

Personal values never appear in a key: persons are `person_key`s (keyed hashes, see crypto.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "{hogo}:"

    # directory (宛名): subject_key -> atena person key
    def directory(self, subject_key: str) -> str:
        return f"{self.prefix}dir:{subject_key}"

    # flags: hash per person, history list per person, index of every person with a record
    def flag(self, person_key: str) -> str:
        return f"{self.prefix}flag:{person_key}"

    def flag_history(self, person_key: str) -> str:
        return f"{self.prefix}flaghist:{person_key}"

    @property
    def flag_index(self) -> str:
        return f"{self.prefix}flags"

    # requesters (情報照会者)
    def requester(self, org_code: str) -> str:
        return f"{self.prefix}req:{org_code}"

    @property
    def requester_index(self) -> str:
        return f"{self.prefix}reqs"

    def requester_rights(self, org_code: str) -> str:  # set: "JM…" (whole affair) or "JM…:JT…"
        return f"{self.prefix}rights:{org_code}"

    # queries
    def idempotency(self, org_code: str, processing_number: str) -> str:
        return f"{self.prefix}idem:{org_code}:{processing_number}"

    def query(self, query_id: str) -> str:
        return f"{self.prefix}query:{query_id}"

    def answer(self, query_id: str) -> str:
        return f"{self.prefix}ans:{query_id}"

    def release_lock(self, query_id: str) -> str:
        return f"{self.prefix}relock:{query_id}"

    @property
    def held(self) -> str:  # ids now HELD, by held time
        return f"{self.prefix}held"

    @property
    def holds(self) -> str:  # ids ever held, by held time
        return f"{self.prefix}holds"

    @property
    def inflight(self) -> str:  # ids RECEIVED and not yet answered, by receipt time
        return f"{self.prefix}inflight"

    # provision records (情報提供等記録), per subject key
    def records(self, subject_key: str) -> str:
        return f"{self.prefix}rec:{subject_key}"

    # check values of the keys every host must share (see gateway/store/keycheck.py)
    @property
    def keyring_check(self) -> str:
        return f"{self.prefix}keyring"

    # the event log (the audit trail's source)
    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    # cache invalidation channel for flag changes (see gateway/store/flags.py)
    @property
    def flag_channel(self) -> str:
        return f"{self.prefix}flagchanged"

    @property
    def flag_epoch(self) -> str:
        return f"{self.prefix}flagepoch"
