"""Prometheus metrics: what the operator watches (see deploy/RUNBOOK.md for what each alert means)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)

QUERIES = Counter(
    "hogo_queries",
    "Queries by outcome: provided, held, refused, fault",
    ["outcome"],
    registry=REGISTRY,
)
DECISIONS = Counter(
    "hogo_decisions", "Decisions by action and reason", ["action", "reason"], registry=REGISTRY
)
HOLDS = Counter(
    "hogo_holds", "Queries put in the manual queue, by reason", ["reason"], registry=REGISTRY
)
FAULTS = Counter("hogo_faults", "SOAP faults given, by error code", ["code"], registry=REGISTRY)
# Counted where each is recorded, once: EventLog.security, or the Python caller of a Lua script
# that emits one (from the script's result). Never at the call site as well.
SECURITY_EVENTS = Counter(
    "hogo_security_events", "Security events recorded, by kind", ["kind"], registry=REGISTRY
)
# Every read refused over a department token's limit; the first in each window is also a
# security event (api_rate_limited), the rest only counted here.
API_RATE_REFUSED = Counter(
    "hogo_api_rate_refused",
    "Department API reads refused over the per-token limit",
    ["department"],
    registry=REGISTRY,
)
STAFF_ACTIONS = Counter(
    "hogo_staff_actions", "Releases and refusals", ["action"], registry=REGISTRY
)
PORTAL_VIEWS = Counter(
    "hogo_portal_views",
    "Portal views by operation and outcome",
    ["operation", "outcome"],
    registry=REGISTRY,
)
UPSTREAM_SECONDS = Histogram(
    "hogo_upstream_seconds",
    "Time per upstream call",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
# Under `serve --workers N` (multiprocess mode) a gauge shows the value last set by any worker.
HELD_WAITING = Gauge(
    "hogo_held_waiting",
    "Held queries waiting for staff",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
STORE_UP = Gauge(
    "hogo_store_up",
    "1 when the flag store answered the last check",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)

for outcome in ("provided", "held", "refused", "fault"):
    QUERIES.labels(outcome)
STORE_WAIT_SHORT = Counter(
    "hogo_store_wait_short",
    "Acknowledged writes that did not reach the replicas in time (answered as a fault)",
    registry=REGISTRY,
)
TLS_EXPIRY = Gauge(
    "hogo_tls_expiry_timestamp_seconds",
    "When a listener's certificate, client CA or client CRL stops being valid (Unix time)",
    ["listener", "what"],
    registry=REGISTRY,
)

# The audit trail (docs/audit.md): sealing must keep up, or events wait unsealed in the store.
AUDIT_UNSEALED = Gauge(
    "hogo_audit_unsealed_events",
    "Events appended but not yet sealed (numbered, chained, signed) into the trail",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
AUDIT_SEAL_LAG = Gauge(
    "hogo_audit_seal_lag_seconds",
    "Age of the oldest event not yet sealed (0 when none waits)",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
AUDIT_SEALED_SEQ = Gauge(
    "hogo_audit_sealed_seq",
    "Sequence number of the last sealed event",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
AUDIT_STORED = Gauge(
    "hogo_audit_stored_events",
    "Sealed events still in the store, not yet moved to archive files",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
AUDIT_ARCHIVED_SEQ = Gauge(
    "hogo_audit_archived_seq",
    "Last sequence number moved to archive files",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
AUDIT_ROLE = Gauge(
    "hogo_audit_role",
    "1 while this process (under --workers: any living worker) holds the role",
    ["role"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
AUDIT_SEALED = Counter(
    "hogo_audit_sealed_events", "Events sealed by this process", registry=REGISTRY
)
AUDIT_SPOOLED = Counter(
    "hogo_audit_spooled_events",
    "Security events written to the local spool while the store could not be reached",
    registry=REGISTRY,
)
for _role in ("sealer", "archiver", "verifier"):
    AUDIT_ROLE.labels(_role)

# The check of the flag state and the directory against the trail (gateway/verify): set by the
# process holding the `verifier` lease after each round.
VERIFY_PERSONS = Gauge(
    "hogo_flag_state_mismatch_persons",
    "Persons whose flag state in the store differs from the trail or the history (last round)",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
VERIFY_SUBJECTS = Gauge(
    "hogo_directory_mismatch_subjects",
    "Directory entries written past the gateway, or moved from the trail's person (last round)",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
VERIFY_FOUND = Counter(
    "hogo_flag_state_mismatches",
    "Mismatches found and reported (a review opened, or a new finding), by scope",
    ["scope"],
    registry=REGISTRY,
)
VERIFY_PROBLEMS = Gauge(
    "hogo_flag_verify_problems",
    "Why the last round could not compare everything (trail broken or unreadable, sealer behind)",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
VERIFY_LAST = Gauge(
    "hogo_flag_verify_last_run_timestamp_seconds",
    "When the last round of the check ended (Unix time)",
    registry=REGISTRY,
    multiprocess_mode="max",
)
VERIFY_SECONDS = Gauge(
    "hogo_flag_verify_seconds",
    "How long the last round of the check took",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
CHECKER_RESTARTS = Counter(
    "hogo_checker_restarts",
    "Flag state checker processes started in place of one that died (counted by the new one)",
    registry=REGISTRY,
)
DIRECTORY_UNSEALED = Gauge(
    "hogo_directory_unsealed_entries",
    "Directory entries without the gateway's MAC, as the last whole sweep found them",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
for _scope in ("person", "subject"):
    VERIFY_FOUND.labels(_scope)
# Attempts told to the holding departments, the security team's pattern rules, and the mails
# (docs/attempts.md; deploy/alerts.yml alerts on each).
RULES_FIRED = Counter(
    "hogo_pattern_rules_fired",
    "Pattern rules fired (each also a security event pattern_<rule>), by rule",
    ["rule"],
    registry=REGISTRY,
)
ATTEMPTS_TOLD = Counter(
    "hogo_attempts_told",
    "Attempts recorded for a holding department (one per department told), by kind",
    ["kind"],
    registry=REGISTRY,
)
ATTEMPTS_INBOX = Gauge(
    "hogo_attempts_inbox",
    "Stops written but not yet folded into the departments' attempts",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
ATTEMPTS_INBOX_AGE = Gauge(
    "hogo_attempts_inbox_oldest_seconds",
    "Age of the oldest stop not yet folded into the departments' attempts (0 when none waits)",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
MAILS_SENT = Counter("hogo_mails_sent", "Mails the SMTP server took", registry=REGISTRY)
MAIL_FAILURES = Counter(
    "hogo_mail_failures",
    "Tries to send a mail that failed (it stays in the outbox)",
    registry=REGISTRY,
)
MAIL_OUTBOX = Gauge(
    "hogo_mail_outbox",
    "Mails waiting in the outbox",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
MAIL_OLDEST_SECONDS = Gauge(
    "hogo_mail_oldest_seconds",
    "Age of the oldest mail waiting in the outbox (0 when none waits)",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
for _rule in ("requesters", "requester_rate", "portal_views", "probing"):
    RULES_FIRED.labels(_rule)


# Set by a `serve` without workers that runs the flag state check in a checker process
# (gateway/verify/process.py): the checker writes its metrics there (multiprocess files), and
# /metrics adds them to this process's. (Under --workers the checker writes to the workers' dir.)
checker_metrics_dir: str | None = None
# The gauges the checker process sets: its value, not this process's (never set here), counts.
CHECKER_GAUGES = frozenset(
    {
        VERIFY_PERSONS._name,
        VERIFY_SUBJECTS._name,
        VERIFY_PROBLEMS._name,
        VERIFY_LAST._name,
        VERIFY_SECONDS._name,
        DIRECTORY_UNSEALED._name,
    }
)


def exposition() -> bytes:
    """The Prometheus text for /metrics: this process's (and its checker's), or every worker's
    added up."""
    from prometheus_client.multiprocess import MultiProcessCollector

    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry = CollectorRegistry()
    if multiproc_dir:
        MultiProcessCollector(registry, multiproc_dir)
    elif checker_metrics_dir:
        registry.register(_WithChecker(MultiProcessCollector(None, checker_metrics_dir)))
    else:
        return generate_latest(REGISTRY)
    return generate_latest(registry)


class _WithChecker:
    """This process's metrics with the checker's: counters and histograms added up, the check's
    gauges (and the `verifier` role) the checker's."""

    def __init__(self, checker: Any) -> None:
        self.checker = checker

    def collect(self) -> Iterator[Metric]:
        theirs = {family.name: family for family in self.checker.collect()}
        for family in REGISTRY.collect():
            other = theirs.pop(family.name, None)
            yield family if other is None else _merged(family, other)
        yield from theirs.values()


def _checker_sample(family: Metric, sample: Any) -> bool:
    if family.name in CHECKER_GAUGES:
        return True
    return family.name == AUDIT_ROLE._name and sample.labels.get("role") == "verifier"


def _merged(own: Metric, other: Metric) -> Metric:
    key = lambda s: (s.name, tuple(sorted(s.labels.items())))  # noqa: E731
    theirs = {key(s): s for s in other.samples}
    samples = []
    for s in own.samples:
        t = theirs.pop(key(s), None)
        if t is None:
            samples.append(s)
        elif own.type == "gauge":
            samples.append(t if _checker_sample(own, s) else s)
        elif s.name.endswith("_created"):
            samples.append(s)
        else:
            samples.append(s._replace(value=s.value + t.value))
    own.samples = samples + list(theirs.values())
    return own
