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

    # the directory import's lock: one import at a time (lua/directory_lock.lua)
    @property
    def directory_import(self) -> str:
        return f"{self.prefix}dirimport"

    # holds for review (quarantine): a subject or person whose every query is held until staff
    # confirm. A hash per review; the open reviews of each subject / person (id -> reason), which
    # lua/prelude.lua's `under_review` and `open_review` build from the scope and key too; the
    # open reviews and every review, by opening time.
    def quarantine(self, review_id: str) -> str:
        return f"{self.prefix}quar:{review_id}"

    def quarantined(self, scope: str, key: str) -> str:
        return f"{self.prefix}quarof:{scope}:{key}"

    @property
    def quarantine_open(self) -> str:
        return f"{self.prefix}quars"

    @property
    def quarantine_all(self) -> str:
        return f"{self.prefix}quarall"

    # flags (lua/flag_holds.lua): per person the aggregate every decision reads, each holding
    # department's own hold and the hold's history; an index of every person with a record
    def flag(self, person_key: str) -> str:
        return f"{self.prefix}flag:{person_key}"

    def flag_holds(self, person_key: str) -> str:  # department -> its hold (JSON)
        return f"{self.prefix}flagholds:{person_key}"

    def flag_hold_history(self, person_key: str, department: str) -> str:
        return f"{self.prefix}flagholdhist:{person_key}:{department}"

    def flag_history(self, person_key: str) -> str:  # the history before holds (kept, not added to)
        return f"{self.prefix}flaghist:{person_key}"

    # Before holds, `flagdepts:<pk>` (the departments that set a flag) and `relreqof:<pk>` (the
    # person's one pending release request) were kept too; lua/flag_holds.lua removes them when
    # it turns such a record into holds.

    @property
    def flag_index(self) -> str:
        return f"{self.prefix}flags"

    # two-person release (解除申請): a request per id, the pending ones by time, one per person
    # and department
    def release_request(self, request_id: str) -> str:
        return f"{self.prefix}relreq:{request_id}"

    @property
    def release_requests_pending(self) -> str:
        return f"{self.prefix}relreqs"

    def release_request_of(self, person_key: str, department: str) -> str:
        return f"{self.prefix}relreqof:{person_key}:{department}"

    # the using departments' API tokens (only a hash of each token is kept), and their index
    def department_token(self, token_id: str) -> str:
        return f"{self.prefix}dtoken:{token_id}"

    @property
    def department_token_index(self) -> str:
        return f"{self.prefix}dtokens"

    # requesters (情報照会者)
    def department_token_reads(self, token_id: str, window: int) -> str:  # reads in one window
        return f"{self.prefix}dtreads:{token_id}:{window}"

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

    # the audit trail: raw events (appended with each action), then sealed by one sealer
    @property
    def events(self) -> str:  # raw, not yet sealed, in the order they happened
        return f"{self.prefix}events"

    @property
    def trail(self) -> str:  # sealed events, under the id each had in `events`
        return f"{self.prefix}trail"

    @property
    def audit_head(self) -> str:  # the last sealed event (seq, hash) and the archive mark
        return f"{self.prefix}audit:head"

    def audit_lease(self, role: str) -> str:  # "sealer", "archiver", "verifier": one at a time
        return f"{self.prefix}audit:lease:{role}"

    def audit_epoch(self, role: str) -> str:  # counts leases taken: part of the fencing token
        return f"{self.prefix}audit:epoch:{role}"

    def audit_replayed(self, spool_id: str) -> str:  # a spooled event already appended
        return f"{self.prefix}audit:replayed:{spool_id}"

    @property
    def audit_keys(self) -> frozenset[str]:
        """The keys the audit trail's background work creates and changes by itself."""
        return frozenset(
            {
                self.events,
                self.trail,
                self.audit_head,
                *(self.audit_lease(r) for r in ("sealer", "archiver")),
                *(self.audit_epoch(r) for r in ("sealer", "archiver")),
            }
        )

    # the check of the flag state and the directory (gateway/verify): its fold of the trail, as
    # last saved, with the gateway's MAC (a checkpoint any host may carry on from)
    @property
    def verify_state(self) -> str:
        return f"{self.prefix}verify:state"

    # cache invalidation channel for flag changes (see gateway/store/flags/)
    @property
    def flag_channel(self) -> str:
        return f"{self.prefix}flagchanged"

    @property
    def flag_epoch(self) -> str:
        return f"{self.prefix}flagepoch"

    # the staff console (gateway/staff): users, sessions, claims on held queries, four-eyes
    # proposals, auditors' reviews of events
    def staff_user(self, login: str) -> str:  # lua/staff_session.lua builds it too
        return f"{self.prefix}staff:user:{login}"

    @property
    def staff_users(self) -> str:
        return f"{self.prefix}staff:users"

    def staff_session(self, digest: str) -> str:  # the digest of the cookie, never the cookie
        return f"{self.prefix}staff:session:{digest}"

    def staff_claim(self, query_id: str) -> str:
        return f"{self.prefix}staff:claim:{query_id}"

    def staff_proposal(self, query_id: str) -> str:
        return f"{self.prefix}staff:proposal:{query_id}"

    def staff_reviews(self, event_id: str) -> str:
        return f"{self.prefix}staff:reviews:{event_id}"

    # the auditors' pictures (gateway/services/patterns.py): counts per day folded from the event
    # log, with the id of the last event folded in; derived data, counted again if lost
    @property
    def audit_patterns(self) -> str:
        return f"{self.prefix}audit:patterns"

    @property
    def staff_reviewed(self) -> str:  # event ids with at least one review, by review time
        return f"{self.prefix}staff:reviewed"

    # attempts (試行) told to the holding departments (gateway/notices.py). The inbox: a copy of
    # each stop's event with the departments to tell, written in the stop's own step
    # (lua/prelude.lua emit_stop) and folded by lua/attempts_fold.lua, which builds the keys below
    # from the prefix too (a department's name is part of its keys), with the pattern rules'
    # counts (`rules:<rule>:<person or requester>`, `rules:fired:<rule>`) and the mail outbox.
    @property
    def attempts_inbox(self) -> str:
        return f"{self.prefix}attempts:inbox"

    @property
    def attempts_fold(self) -> str:  # the last inbox entry folded in (hash: cursor)
        return f"{self.prefix}attempts:fold"

    def attempt(self, attempt_id: str) -> str:  # one department's attempt (hash)
        return f"{self.prefix}attempt:{attempt_id}"

    def attempts_of(self, department: str) -> str:  # a department's attempts, by time
        return f"{self.prefix}attempts:of:{department}"

    def attempts_open(self, department: str) -> str:  # those not acknowledged yet, by time
        return f"{self.prefix}attempts:open:{department}"

    # mails to the departments' mailboxes (gateway/mail.py): one per mail, the outbox by when each
    # is next due, and the mail of each department still gathering attempts
    def mail(self, mail_id: str) -> str:
        return f"{self.prefix}mail:{mail_id}"

    @property
    def mail_outbox(self) -> str:
        return f"{self.prefix}mail:outbox"

    def mail_pending(self, department: str) -> str:
        return f"{self.prefix}mail:pending:{department}"
