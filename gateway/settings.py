"""One settings object for the whole gateway: command line over environment over defaults."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from gateway.audit.record import MAX_BLOCK_EVENTS

# What a listener can serve. The main listener (--host/--port) serves every service that is not
# given a listener of its own (--portal-listen, --staff-listen, --ops-listen).
SERVICES = ("provision", "portal", "staff", "ops")
SEPARABLE = ("portal", "staff", "ops")


class SettingsError(ValueError):
    """The settings contradict each other or name something unusable (exit status 2)."""


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_path(name: str) -> Path | None:
    raw = os.environ.get(name, "").strip()
    return Path(raw) if raw else None


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0, not {raw!r}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_address(spec: str, what: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` as (host, port)."""
    host, sep, port = spec.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{what}: expected HOST:PORT, got {spec!r}")
    return host.strip("[]"), int(port)


def parse_addresses(spec: str, what: str) -> tuple[tuple[str, int], ...]:
    """A comma-separated list of HOST:PORT."""
    found = tuple(parse_address(part, what) for part in spec.split(",") if part.strip())
    if not found:
        raise SettingsError(f"{what}: expected host:port,... , got {spec!r}")
    return found


@dataclass(frozen=True)
class TlsFiles:
    """A listener's TLS: its certificate and key, and the CA its clients must chain to.

    With `client_ca` set, a client without a certificate chaining to it is refused during the
    handshake (mutual TLS). `client_crl` (PEM) lists revoked client certificates.
    """

    cert: Path
    key: Path
    client_ca: Path | None = None
    client_crl: Path | None = None


@dataclass(frozen=True)
class Listener:
    """One address the gateway listens on, the services it serves there, and its TLS."""

    name: str  # "main" or a separable service
    host: str
    port: int
    services: tuple[str, ...]
    tls: TlsFiles | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def tls_from(
    cert: str | None, key: str | None, client_ca: str | None, crl: str | None, what: str
) -> TlsFiles | None:
    """TLS files for one listener, or None when none are given; half a configuration is an error."""
    if not any((cert, key, client_ca, crl)):
        return None
    if not cert or not key:
        raise SettingsError(f"{what}: TLS needs both a certificate and its key")
    if crl and not client_ca:
        raise SettingsError(f"{what}: a client CRL needs a client CA")
    return TlsFiles(
        Path(cert), Path(key), Path(client_ca) if client_ca else None, Path(crl) if crl else None
    )


def store_url(
    url: str | None,
    sentinels: str | None,
    service: str | None,
    cluster: str | None,
) -> str | None:
    """The one store address, whichever way it was given (see gateway.store.redis.connect).

    `--redis-sentinel h:p,... --redis-service NAME` becomes `redis+sentinel://h:p,.../NAME`,
    `--redis-cluster h:p,...` becomes `redis+cluster://h:p,...`, so that one string names the
    store everywhere (the CLI, the app, the tests).
    """
    given = [name for name, v in (("url", url), ("sentinel", sentinels), ("cluster", cluster)) if v]
    if len(given) > 1:
        raise SettingsError("give one of --redis-url, --redis-sentinel or --redis-cluster")
    if sentinels:
        if not service:
            raise SettingsError("--redis-sentinel needs --redis-service NAME (the master's name)")
        hosts = ",".join(f"{h}:{p}" for h, p in parse_addresses(sentinels, "--redis-sentinel"))
        return f"redis+sentinel://{hosts}/{service}"
    if service:
        raise SettingsError("--redis-service is for --redis-sentinel")
    if cluster:
        hosts = ",".join(f"{h}:{p}" for h, p in parse_addresses(cluster, "--redis-cluster"))
        return f"redis+cluster://{hosts}"
    return url


@dataclass(frozen=True)
class Settings:
    """Everything the gateway is configured with; built once and passed down."""

    data_dir: Path = Path("./var")
    # The store: redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// (see
    # gateway.store.redis.connect); None starts the embedded store under the data dir.
    redis_url: str | None = None
    # Passwords for the store's data nodes and for the sentinels; from the environment only
    # (HOGO_REDIS_PASSWORD, HOGO_REDIS_SENTINEL_PASSWORD), so that they never show in `ps`.
    redis_password: str | None = None
    redis_sentinel_password: str | None = None
    # TLS to the store (HOGO_REDIS_TLS_CA, _CERT, _KEY): the CA that signed the data nodes' and
    # sentinels' certificates, and this gateway's client certificate if Redis asks for one
    # (`tls-auth-clients yes`). A single server takes TLS from its URL (rediss://); Sentinel and
    # Cluster use TLS for every node once a CA is given. Across hosts the store needs it: whoever
    # can change a reply on the wire can say "not flagged".
    redis_tls_ca: Path | None = None
    redis_tls_cert: Path | None = None
    redis_tls_key: Path | None = None
    # Acknowledged writes (held queries, provision records, staff decisions, flag changes,
    # requesters) wait until this many replicas have them, at most `wait_timeout` seconds; fewer
    # in time is StoreUnavailable. None: 1 with Sentinel or Cluster, 0 (no WAIT) otherwise.
    wait_replicas: int | None = None
    wait_timeout: float = 0.25
    upstream_url: str | None = None
    # The main listener serves every service without a listener of its own.
    host: str = "127.0.0.1"
    port: int = 8080
    tls: TlsFiles | None = None
    separate_listeners: tuple[Listener, ...] = ()
    # Plain HTTP on an address other than loopback (never in production).
    insecure_http: bool = False
    # The departments' flag API: reads of persons allowed per token and minute, shared by every
    # gateway process (0: no limit). A business system looks people up one case at a time; a
    # token reading faster is enumerating the directory, looking for who is protected.
    flag_api_reads_per_minute: int = 120
    # Every store call must answer within this many seconds, or the flag state counts as
    # unknown and nothing is answered automatically.
    store_timeout: float = 0.5
    upstream_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024
    # How long a released or automatic answer stays retrievable by GetQueryResult.
    answer_retention_seconds: int = 7 * 24 * 3600
    # A query still "received" after this long was interrupted (crash, kill -9) mid-flight:
    # it is held for staff, never answered automatically later.
    interrupted_after_seconds: float = 60.0
    # Held items older than this are highlighted in the console (never released by themselves).
    held_age_warning_seconds: int = 3 * 24 * 3600
    default_handling_notice: str = (
        "取扱注意：本件はDV等支援措置の対象者に係る情報です。"
        "住所等の取扱いには十分注意し、第三者に開示しないでください。"
    )
    key_prefix: str = "{hogo}:"
    # The staff console (gateway/staff). A session ends after this long without a request, and
    # in any case this long after login; a login is locked after so many failures in a row, until
    # an admin unlocks it or the lock-out period passes. A claim on a held query lapses by itself.
    staff_session_idle_seconds: int = 30 * 60
    staff_session_absolute_seconds: int = 10 * 3600
    staff_lockout_attempts: int = 5
    staff_lockout_seconds: int = 15 * 60
    staff_claim_seconds: int = 15 * 60
    # Four-eyes release of held queries: a second approver confirms what the first proposed.
    staff_four_eyes_release: bool = False
    # The audit trail (see docs/audit.md). Off only for the benchmark's comparison: then no
    # event is recorded at all, and `serve` says so loudly.
    audit_enabled: bool = True
    # One block of the trail is one sealing step, chained and signed once (docs/audit.md): at
    # most this many events, and the sealer looks this often when the last block was not full,
    # so a block closes after 256 events or about 50 ms, whichever comes first.
    audit_block_events: int = 256
    audit_block_seconds: float = 0.05
    # A sealer or archiver that stops renewing its lease loses the role after this long.
    audit_lease_seconds: float = 5.0
    # Whether this process may archive; the archive files live on the archiving process's host.
    audit_archive: bool = True
    # Sealed events older than this go to files, and so do the oldest beyond the count (a cap on
    # the store's memory). The staff console and reports read older events from the files too,
    # more slowly: the console's default period (30 days) stays in the store.
    audit_archive_after_seconds: int = 31 * 24 * 3600
    audit_keep_events: int = 1_000_000
    audit_archive_file_bytes: int = 64 * 1024 * 1024  # start a new archive file past this size
    audit_archive_file_seconds: int = 24 * 3600  # or when the current one is this old
    audit_archive_interval_seconds: float = 60.0
    extra: dict[str, str] = field(default_factory=dict)

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
        separate = []
        for service_name in SEPARABLE:
            up = service_name.upper()
            listen = pick(f"{service_name}_listen", f"HOGO_{up}_LISTEN")
            files = [
                pick(f"{service_name}_tls_{part}", f"HOGO_{up}_TLS_{part.upper()}")
                for part in ("cert", "key", "client_ca", "client_crl")
            ]
            if listen is None:
                if any(files):
                    raise SettingsError(f"--{service_name}-tls-* needs --{service_name}-listen")
                continue
            host, port = parse_address(listen, f"--{service_name}-listen")
            separate.append(
                Listener(
                    service_name,
                    host,
                    port,
                    (service_name,),
                    tls_from(*files, f"the {service_name} listener"),
                )
            )
        wait_env = os.environ.get("HOGO_REDIS_WAIT_REPLICAS")
        base = cls(
            data_dir=Path(os.environ.get("HOGO_DATA_DIR", "./var")),
            redis_url=store_url(url, sentinels, service, cluster),
            redis_password=os.environ.get("HOGO_REDIS_PASSWORD") or None,
            redis_sentinel_password=os.environ.get("HOGO_REDIS_SENTINEL_PASSWORD") or None,
            redis_tls_ca=_env_path("HOGO_REDIS_TLS_CA"),
            redis_tls_cert=_env_path("HOGO_REDIS_TLS_CERT"),
            redis_tls_key=_env_path("HOGO_REDIS_TLS_KEY"),
            wait_replicas=int(wait_env) if wait_env else None,
            wait_timeout=_env_float("HOGO_REDIS_WAIT_TIMEOUT", 0.25),
            upstream_url=os.environ.get("HOGO_UPSTREAM_URL") or None,
            host=os.environ.get("HOGO_HOST", "127.0.0.1"),
            port=_env_int("HOGO_PORT", 8080),
            tls=tls,
            separate_listeners=tuple(separate),
            insecure_http=os.environ.get("HOGO_INSECURE_HTTP", "") in ("1", "yes", "true"),
            store_timeout=_env_float("HOGO_STORE_TIMEOUT", 0.5),
            flag_api_reads_per_minute=_env_int("HOGO_FLAG_API_READS_PER_MINUTE", 120),
            upstream_timeout=_env_float("HOGO_UPSTREAM_TIMEOUT", 10.0),
            max_body_bytes=_env_int("HOGO_MAX_BODY_BYTES", 1024 * 1024),
            answer_retention_seconds=_env_int("HOGO_ANSWER_RETENTION_SECONDS", 7 * 24 * 3600),
            interrupted_after_seconds=_env_float("HOGO_INTERRUPTED_AFTER_SECONDS", 60.0),
            held_age_warning_seconds=_env_int("HOGO_HELD_AGE_WARNING_SECONDS", 3 * 24 * 3600),
            staff_session_idle_seconds=_env_int("HOGO_STAFF_SESSION_IDLE_SECONDS", 30 * 60),
            staff_session_absolute_seconds=_env_int(
                "HOGO_STAFF_SESSION_ABSOLUTE_SECONDS", 10 * 3600
            ),
            staff_lockout_attempts=_env_int("HOGO_STAFF_LOCKOUT_ATTEMPTS", 5),
            staff_lockout_seconds=_env_int("HOGO_STAFF_LOCKOUT_SECONDS", 15 * 60),
            staff_claim_seconds=_env_int("HOGO_STAFF_CLAIM_SECONDS", 15 * 60),
            staff_four_eyes_release=os.environ.get("HOGO_STAFF_FOUR_EYES_RELEASE", "")
            in ("1", "true", "yes"),
            audit_enabled=_env_bool("HOGO_AUDIT_ENABLED", True),
            audit_block_events=_env_int("HOGO_AUDIT_BLOCK_EVENTS", 256),
            audit_block_seconds=_env_float("HOGO_AUDIT_BLOCK_SECONDS", 0.05),
            audit_lease_seconds=_env_float("HOGO_AUDIT_LEASE_SECONDS", 5.0),
            audit_archive=_env_bool("HOGO_AUDIT_ARCHIVE", True),
            audit_archive_after_seconds=_env_int(
                "HOGO_AUDIT_ARCHIVE_AFTER_SECONDS", 31 * 24 * 3600
            ),
            audit_keep_events=_env_int("HOGO_AUDIT_KEEP_EVENTS", 1_000_000),
            audit_archive_file_bytes=_env_int("HOGO_AUDIT_ARCHIVE_FILE_BYTES", 64 * 1024 * 1024),
            audit_archive_file_seconds=_env_int("HOGO_AUDIT_ARCHIVE_FILE_SECONDS", 24 * 3600),
            audit_archive_interval_seconds=_env_float("HOGO_AUDIT_ARCHIVE_INTERVAL_SECONDS", 60.0),
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
