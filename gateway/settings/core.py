"""The gateway's settings object: every plain setting declared once (variable, type, default,
help), and its assembly from defaults, the environment and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from gateway.audit.record import MAX_BLOCK_EVENTS
from gateway.settings.attempts import AttemptSettings
from gateway.settings.network import (
    COMPOSITE_ENV,
    SERVICES,
    Listener,
    TlsFiles,
    separate_listeners,
    store_url,
    tls_from,
)
from gateway.settings.reading import (
    EnvVar,
    SettingsError,
    declared_variables,
    parse_value,
    setting,
    values_from_env,
)


@dataclass(frozen=True)
class Settings:
    """Everything the gateway is configured with; built once and passed down.

    Each plain setting is declared once below (`setting`: default, environment variable, help);
    the store's address, the listeners and their TLS are assembled from the variables of
    `COMPOSITE_ENV` and the command line.
    """

    data_dir: Path = setting(
        Path("./var"), "HOGO_DATA_DIR", "keys, the embedded store, the audit archive"
    )
    # The store: redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// (see
    # gateway.store.redis.connect); None starts the embedded store under the data dir.
    redis_url: str | None = None
    redis_password: str | None = setting(
        None,
        "HOGO_REDIS_PASSWORD",
        "the store's data nodes' password (environment only, so that it never shows in ps)",
        str,
    )
    redis_sentinel_password: str | None = setting(
        None, "HOGO_REDIS_SENTINEL_PASSWORD", "the sentinels' password (environment only)", str
    )
    # Across hosts the store needs TLS: whoever can change a reply on the wire can say "not
    # flagged". A single server takes TLS from its URL (rediss://); Sentinel and Cluster use TLS
    # for every node once a CA is given.
    redis_tls_ca: Path | None = setting(
        None, "HOGO_REDIS_TLS_CA", "the CA of the store's nodes' certificates", Path
    )
    redis_tls_cert: Path | None = setting(
        None, "HOGO_REDIS_TLS_CERT", "this gateway's client certificate for the store", Path
    )
    redis_tls_key: Path | None = setting(None, "HOGO_REDIS_TLS_KEY", "its private key", Path)
    # Acknowledged writes (held queries, provision records, staff decisions, flag changes,
    # requesters) wait until this many replicas have them, at most `wait_timeout` seconds; fewer
    # in time is StoreUnavailable. None: 1 with Sentinel or Cluster, 0 (no WAIT) otherwise.
    wait_replicas: int | None = None
    wait_timeout: float = setting(
        0.25, "HOGO_REDIS_WAIT_TIMEOUT", "seconds a replica has to confirm an acknowledged write"
    )
    upstream_url: str | None = setting(
        None, "HOGO_UPSTREAM_URL", "the information-provision endpoint behind the gateway", str
    )
    # The main listener serves every service without a listener of its own.
    host: str = setting("127.0.0.1", "HOGO_HOST", "the main listener's address")
    port: int = setting(8080, "HOGO_PORT", "the main listener's port")
    tls: TlsFiles | None = None
    separate_listeners: tuple[Listener, ...] = ()
    insecure_http: bool = setting(
        False, "HOGO_INSECURE_HTTP", "allow plain HTTP on an address other than loopback (never)"
    )
    # A business system looks people up one case at a time; a token reading faster is
    # enumerating the directory, looking for who is protected.
    flag_api_reads_per_minute: int = setting(
        120,
        "HOGO_FLAG_API_READS_PER_MINUTE",
        "reads per token and minute on the departments' flag API, across processes (0: no limit)",
    )
    store_timeout: float = setting(
        0.5,
        "HOGO_STORE_TIMEOUT",
        "seconds every store call has; later, the flag state counts as unknown (nothing automatic)",
    )
    upstream_timeout: float = setting(10.0, "HOGO_UPSTREAM_TIMEOUT", "seconds the upstream has")
    # The automatic path (issue 14, docs/lean-path.md): /soap/provision on the lean server and
    # the upstream through its pool; "aiohttp" keeps both on aiohttp (the benchmark's old path).
    provision_on_aiohttp: bool = setting(
        False,
        "HOGO_PROVISION_ON_AIOHTTP",
        "serve /soap/provision and call the upstream on aiohttp, not on the lean server and pool",
    )
    upstream_ca: str = setting(
        "", "HOGO_UPSTREAM_CA", "an https upstream's certificate must chain to this CA file"
    )
    upstream_client_cert: str = setting(
        "", "HOGO_UPSTREAM_CLIENT_CERT", "a client certificate (PEM) shown to an https upstream"
    )
    upstream_client_key: str = setting("", "HOGO_UPSTREAM_CLIENT_KEY", "its private key (PEM)")
    upstream_replay_submit: bool = setting(
        False,
        "HOGO_UPSTREAM_REPLAY_SUBMIT",
        "send a SubmitQuery once more when a reused connection closed without answering "
        "(only for an upstream that answers a repeated Idempotency-Key once)",
    )
    max_body_bytes: int = setting(
        1024 * 1024, "HOGO_MAX_BODY_BYTES", "largest request body accepted (413 beyond)"
    )
    answer_retention_seconds: int = setting(
        7 * 24 * 3600,
        "HOGO_ANSWER_RETENTION_SECONDS",
        "how long an answer stays retrievable by GetQueryResult (then only its metadata)",
    )
    interrupted_after_seconds: float = setting(
        60.0,
        "HOGO_INTERRUPTED_AFTER_SECONDS",
        "a query still received after this long was interrupted: held for staff, never automatic",
    )
    held_age_warning_seconds: int = setting(
        3 * 24 * 3600,
        "HOGO_HELD_AGE_WARNING_SECONDS",
        "held items older than this are highlighted (never released by themselves)",
    )
    default_handling_notice: str = (
        "取扱注意：本件はDV等支援措置の対象者に係る情報です。"
        "住所等の取扱いには十分注意し、第三者に開示しないでください。"
    )
    key_prefix: str = "{hogo}:"
    staff_session_idle_seconds: int = setting(
        30 * 60, "HOGO_STAFF_SESSION_IDLE_SECONDS", "a staff session ends after this long idle"
    )
    staff_session_absolute_seconds: int = setting(
        10 * 3600, "HOGO_STAFF_SESSION_ABSOLUTE_SECONDS", "and in any case this long after login"
    )
    staff_lockout_attempts: int = setting(
        5, "HOGO_STAFF_LOCKOUT_ATTEMPTS", "wrong passwords in a row that lock a login"
    )
    staff_lockout_seconds: int = setting(
        15 * 60, "HOGO_STAFF_LOCKOUT_SECONDS", "how long a locked login stays locked"
    )
    staff_claim_seconds: int = setting(
        15 * 60, "HOGO_STAFF_CLAIM_SECONDS", "an approver's claim on a held query lapses after this"
    )
    staff_four_eyes_release: bool = setting(
        False,
        "HOGO_STAFF_FOUR_EYES_RELEASE",
        "a second approver confirms each release a first one proposed",
    )
    audit_enabled: bool = setting(
        True,
        "HOGO_AUDIT_ENABLED",
        "the audit trail; off only for the benchmark's comparison (serve says so loudly)",
    )
    # One block of the trail is one sealing step, chained and signed once (docs/audit.md).
    audit_block_events: int = setting(
        256, "HOGO_AUDIT_BLOCK_EVENTS", "at most this many events in one signed block"
    )
    audit_block_seconds: float = setting(
        0.05, "HOGO_AUDIT_BLOCK_SECONDS", "the sealer looks this often when a block was not full"
    )
    audit_lease_seconds: float = setting(
        5.0, "HOGO_AUDIT_LEASE_SECONDS", "a sealer or archiver not renewing loses its role after"
    )
    audit_archive: bool = setting(
        True, "HOGO_AUDIT_ARCHIVE", "whether this host archives the trail (exactly one should)"
    )
    # The staff console and reports read older events from the files too, more slowly: the
    # console's default period (30 days) stays in the store.
    audit_archive_after_seconds: int = setting(
        31 * 24 * 3600, "HOGO_AUDIT_ARCHIVE_AFTER_SECONDS", "sealed events older go to files"
    )
    audit_keep_events: int = setting(
        1_000_000, "HOGO_AUDIT_KEEP_EVENTS", "and so do the oldest beyond this count (memory cap)"
    )
    audit_archive_file_bytes: int = setting(
        64 * 1024 * 1024, "HOGO_AUDIT_ARCHIVE_FILE_BYTES", "start a new archive file past this size"
    )
    audit_archive_file_seconds: int = setting(
        24 * 3600, "HOGO_AUDIT_ARCHIVE_FILE_SECONDS", "or when the current one is this old"
    )
    audit_archive_interval_seconds: float = setting(
        60.0, "HOGO_AUDIT_ARCHIVE_INTERVAL_SECONDS", "how often the archiver looks"
    )
    # -- the check of flag states and the directory against the trail (gateway/verify) --------
    # One gateway process at a time (the `verifier` lease) compares every person's flags, and the
    # directory, with the signed trail; each round also sweeps part of the store's keys, so a
    # sweep of the whole directory takes (its size / verify_sweep_keys) rounds.
    verify_interval_seconds: float = setting(
        60.0,
        "HOGO_VERIFY_INTERVAL_SECONDS",
        "how often the flag state check runs (one gateway process at a time), 1 to 3600",
    )
    verify_sweep_keys: int = setting(
        200_000,
        "HOGO_VERIFY_SWEEP_KEYS",
        "store keys the check's directory sweep looks at each round (at least 100 are)",
    )
    # `serve` runs the check in a process of its own (gateway/verify/process.py), so that its
    # fold of the trail never holds the event loop that answers queries; on: in every serving
    # process, as before (the lease still makes it one at a time).
    verify_in_process: bool = setting(
        False,
        "HOGO_VERIFY_IN_PROCESS",
        "run the flag state check inside the serving process(es), not in a checker process",
    )
    # -- (end of the check's settings) --------------------------------------------------------
    # whom attempts are told to by mail, and the pattern rules (the block above)
    attempts: AttemptSettings = field(default_factory=AttemptSettings)

    @classmethod
    def declared(cls) -> list[EnvVar]:
        """Every plain setting's variable, in declaration order."""
        return declared_variables(cls)

    @classmethod
    def known_env(cls) -> frozenset[str]:
        declared = [*cls.declared(), *AttemptSettings.declared()]
        return frozenset({v.name for v in declared} | COMPOSITE_ENV.keys())

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then HOGO_* environment variables, then `overrides` (the command line).

        Overrides that are None were not given. The store may be overridden as `redis_url`, or as
        `redis_sentinel` + `redis_service`, or `redis_cluster` (host:port lists); the main
        listener's TLS as `tls_cert`, `tls_key`, `tls_client_ca`, `tls_client_crl`; a separate
        listener as `<service>_listen` with `<service>_tls_cert` and so on.
        """
        clean = {k: v for k, v in overrides.items() if v is not None}

        def pick(name: str, env: str) -> str | None:
            value = clean.pop(name, None)
            return str(value) if value is not None else (os.environ.get(env) or None)

        # A store named on the command line replaces the environment's store entirely.
        store_keys = ("redis_url", "redis_sentinel", "redis_service", "redis_cluster")
        given = {k: str(clean.pop(k)) for k in store_keys if k in clean}
        if given.keys() - {"redis_service"}:
            url, sentinels, service, cluster = (given.get(k) for k in store_keys)
            service = service or os.environ.get("HOGO_REDIS_SERVICE") or None
        else:
            url = os.environ.get("HOGO_REDIS_URL") or None
            sentinels = os.environ.get("HOGO_REDIS_SENTINEL") or None
            service = given.get("redis_service") or os.environ.get("HOGO_REDIS_SERVICE") or None
            cluster = os.environ.get("HOGO_REDIS_CLUSTER") or None

        tls = tls_from(
            pick("tls_cert", "HOGO_TLS_CERT"),
            pick("tls_key", "HOGO_TLS_KEY"),
            pick("tls_client_ca", "HOGO_TLS_CLIENT_CA"),
            pick("tls_client_crl", "HOGO_TLS_CLIENT_CRL"),
            "the main listener",
        )
        separate = separate_listeners(pick)
        wait_env = os.environ.get("HOGO_REDIS_WAIT_REPLICAS", "").strip()
        base = cls(
            **values_from_env(cls, os.environ),  # type: ignore[arg-type]
            redis_url=store_url(url, sentinels, service, cluster),
            wait_replicas=parse_value(wait_env, int, "HOGO_REDIS_WAIT_REPLICAS")
            if wait_env
            else None,  # type: ignore[arg-type]
            tls=tls,
            separate_listeners=separate,
            attempts=AttemptSettings.from_env(),
        )
        if clean.get("insecure_http") is False:
            clean.pop("insecure_http")  # a flag not given does not undo the environment's
        if "data_dir" in clean:
            clean["data_dir"] = Path(str(clean["data_dir"]))
        settings = replace(base, **clean)  # type: ignore[arg-type]
        settings.check()
        return settings

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def audit_dir(self) -> Path:  # archive files and the spool of the audit trail
        return self.data_dir / "audit"

    @property
    def replicas_to_wait_for(self) -> int:
        """How many replicas an acknowledged write must reach (see `wait_replicas`)."""
        if self.wait_replicas is not None:
            return self.wait_replicas
        url = self.redis_url or ""
        return 1 if url.startswith(("redis+sentinel://", "redis+cluster://")) else 0

    def _check_store_tls(self) -> None:
        given = [p for p in (self.redis_tls_ca, self.redis_tls_cert, self.redis_tls_key) if p]
        if not given:
            return
        url = self.redis_url or ""
        if not url.startswith(("rediss://", "redis+sentinel://", "redis+cluster://")):
            # a CA beside a plain URL: the operator meant TLS and would get none
            raise SettingsError(
                "HOGO_REDIS_TLS_* is set but the store URL is not rediss:// "
                "(or Sentinel, Cluster): the store would be reached without TLS"
            )
        if (self.redis_tls_cert is None) != (self.redis_tls_key is None):
            raise SettingsError("HOGO_REDIS_TLS_CERT and HOGO_REDIS_TLS_KEY go together")

    def listeners(self) -> list[Listener]:
        """Every listener, the main one first, each with the services it serves."""
        moved = {s for listener in self.separate_listeners for s in listener.services}
        main = Listener(
            "main",
            self.host,
            self.port,
            tuple(s for s in SERVICES if s not in moved),
            self.tls,
        )
        return [main, *self.separate_listeners]

    def check(self) -> None:
        """Refuse contradictory settings before anything starts."""
        if self.wait_replicas is not None and self.wait_replicas < 0:
            raise SettingsError("--redis-wait-replicas must be 0 or more")
        if self.redis_url is None and self.wait_replicas:
            raise SettingsError("the embedded store has no replicas to wait for")
        self._check_store_tls()
        if not 1 <= self.audit_block_events <= MAX_BLOCK_EVENTS:
            raise SettingsError(f"HOGO_AUDIT_BLOCK_EVENTS must be 1 to {MAX_BLOCK_EVENTS}")
        if not 0 < self.audit_block_seconds <= 60:
            raise SettingsError("HOGO_AUDIT_BLOCK_SECONDS must be more than 0 and at most 60")
        if not 1 <= self.verify_interval_seconds <= 3600:
            raise SettingsError("HOGO_VERIFY_INTERVAL_SECONDS must be 1 to 3600")
        if self.verify_sweep_keys < 1:
            raise SettingsError("HOGO_VERIFY_SWEEP_KEYS must be at least 1")
        if self.replicas_to_wait_for and self.wait_timeout >= self.store_timeout:
            raise SettingsError(
                "--redis-wait-timeout must be shorter than the store timeout "
                f"({self.store_timeout} s), or every acknowledged write would fail"
            )
        ports: dict[tuple[str, int], str] = {}
        for listener in self.listeners():
            if listener.port and listener.port in {p for _, p in ports}:  # (0: any free port)
                raise SettingsError(f"two listeners on port {listener.port}")
            ports[(listener.host, listener.port)] = listener.name
            if (
                "provision" in listener.services
                and listener.tls is not None
                and listener.tls.client_ca is None
            ):
                # Requesters prove who they are by their certificate; TLS without it is not enough.
                raise SettingsError(
                    "the listener serving /soap/provision needs --tls-client-ca (mutual TLS)"
                )
