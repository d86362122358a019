"""One settings object for the whole gateway: command line over environment over defaults."""

from __future__ import annotations

import csv
import io
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gateway.audit.record import MAX_BLOCK_EVENTS

# What a listener can serve. The main listener (--host/--port) serves every service that is not
# given a listener of its own (--portal-listen, --staff-listen, --ops-listen).
SERVICES = ("provision", "portal", "staff", "ops")
SEPARABLE = ("portal", "staff", "ops")


class SettingsError(ValueError):
    """The settings contradict each other or name something unusable (exit status 2)."""


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_bool(raw: str, what: str) -> bool:
    """The one way a yes/no setting is read, wherever it comes from (environment, file, flag)."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"{what} must be one of 1/0, true/false, yes/no, on/off, not {raw!r}")


def _parse(raw: str, kind: type, what: str) -> object:
    if kind is bool:
        return parse_bool(raw, what)
    try:
        if kind is int:
            return int(raw.strip().replace("_", ""))
        if kind is float:
            return float(raw.strip())
    except ValueError:
        raise SettingsError(f"{what} must be a number, not {raw!r}") from None
    if kind is Path:
        return Path(raw.strip())
    return raw


def setting(default: object, env: str, help: str, kind: type | None = None) -> Any:
    """A setting's one declaration: its default, its environment variable and what it does.

    The type is the default's (give `kind` where the default is None); `Settings.from_env` reads
    every declared variable this way, and `describe()` lists them for the operator."""
    # (a Path default is a PosixPath: the kind is Path, which the environment's text is read as)
    kind = kind or (Path if isinstance(default, Path) else type(default))
    meta = {"env": env, "help": help, "kind": kind}
    if isinstance(default, (dict, list, set)):
        raise TypeError("settings are immutable values")
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class EnvVar:
    """A variable read by the gateway, its setting, its default and what it does (for `settings`)."""

    name: str
    setting: str
    default: str
    help: str


# Variables read outside the plain settings: they assemble the store's address, the listeners'
# TLS, the workers and the event loop. Declared here so that the list of what the gateway reads
# is whole (an unknown HOGO_* variable is then a typo, and said at start).
COMPOSITE_ENV: dict[str, str] = {
    "HOGO_REDIS_URL": "the store: redis://, rediss://, unix:// (or give Sentinel / Cluster)",
    "HOGO_REDIS_SENTINEL": "Sentinel addresses host:port,... (with HOGO_REDIS_SERVICE)",
    "HOGO_REDIS_SERVICE": "the master's name in the Sentinel set",
    "HOGO_REDIS_CLUSTER": "Redis Cluster node addresses host:port,...",
    "HOGO_REDIS_WAIT_REPLICAS": "replicas an acknowledged write must reach (1 with Sentinel or "
    "Cluster, 0 otherwise)",
    "HOGO_TLS_CERT": "the main listener's certificate (PEM)",
    "HOGO_TLS_KEY": "its private key",
    "HOGO_TLS_CLIENT_CA": "the CA requesters' client certificates must chain to (mutual TLS)",
    "HOGO_TLS_CLIENT_CRL": "revoked client certificates (PEM CRL)",
    "HOGO_WORKERS": "gateway processes on the one port (SO_REUSEPORT), default 1",
    "HOGO_EVENT_LOOP": "uvloop (default, when installed) or asyncio",
    "HOGO_WORKER": "set by the supervisor in its workers (internal)",
    "HOGO_WORKER_PORTS": "set by the supervisor in its workers: the ports it keeps (internal)",
    "HOGO_ENV_FILE": "the environment file deploy/hogo reads (default /etc/hogo-gateway/gateway.env)",
}
for _service in ("PORTAL", "STAFF", "OPS"):
    COMPOSITE_ENV[f"HOGO_{_service}_LISTEN"] = (
        f"HOST:PORT of a listener of its own for {_service.lower()}"
    )
    for _part in ("CERT", "KEY", "CLIENT_CA", "CLIENT_CRL"):
        COMPOSITE_ENV[f"HOGO_{_service}_TLS_{_part}"] = f"that listener's TLS: {_part.lower()}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_address(spec: str, what: str, *, any_port: bool = False) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` as (host, port); with `any_port`, port 0 too (a listener
    that takes whatever free port the system gives it)."""
    host, sep, port = spec.strip().rpartition(":")
    lowest = 0 if any_port else 1
    if not sep or not host or not port.isdigit() or not lowest <= int(port) < 65536:
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


# ==================================================================================================
# Attempts (試行): which holding departments are told by mail, and the security team's pattern
# rules (docs/attempts.md). Each setting of this block is declared once, here: its field, type,
# default, environment variable and help. Kept apart from Settings' own fields (about to be
# restructured): Settings holds one `attempts` and reads it with `AttemptSettings.from_env`.
# ==================================================================================================

MAIL_ADDRESS = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
SMTP_SECURITY = ("starttls", "tls", "none")


def _setting(default: object, env: str, help_text: str, *, secret: bool = False) -> Any:
    """`setting` (the one declaration), with a secret kept out of the settings' repr."""
    found = setting(default, env, help_text)
    if secret:
        found.repr = False
    return found


@dataclass(frozen=True)
class AttemptSettings:
    """Who is told of attempts by mail, through which SMTP server, and the pattern rules' limits."""

    mailboxes: tuple[tuple[str, str], ...] = _setting(
        (),
        "HOGO_ATTEMPT_MAILBOXES",
        "A CSV file, header department,address: the mailbox of each holding department (annex 1) "
        "to tell of its attempts. A department not listed is told in the console only.",
    )
    smtp_host: str = _setting("", "HOGO_SMTP_HOST", "The SMTP server mails are sent through.")
    smtp_port: int = _setting(587, "HOGO_SMTP_PORT", "Its port (587 STARTTLS, 465 TLS).")
    smtp_security: str = _setting(
        "starttls",
        "HOGO_SMTP_SECURITY",
        "starttls, tls (from the first byte) or none (plain: only to a server on loopback).",
    )
    smtp_user: str = _setting("", "HOGO_SMTP_USER", "Login at the SMTP server, if it asks one.")
    smtp_password: str = _setting(
        "",
        "HOGO_SMTP_PASSWORD",
        "Its password (from the environment only, never a flag).",
        secret=True,
    )
    smtp_ca: str = _setting(
        "", "HOGO_SMTP_CA", "A CA file the server's certificate must chain to (else the system's)."
    )
    smtp_timeout: float = _setting(30.0, "HOGO_SMTP_TIMEOUT", "Seconds for one SMTP session.")
    mail_from: str = _setting("", "HOGO_MAIL_FROM", "The sender address of the mails.")
    console_url: str = _setting(
        "",
        "HOGO_CONSOLE_URL",
        "The staff console's address as staff reach it (https://...): the link in each mail.",
    )
    mail_retry_max_seconds: float = _setting(
        3600.0,
        "HOGO_MAIL_RETRY_MAX_SECONDS",
        "A mail the server did not take is tried again, waiting twice as long each time, at most "
        "this long; it stays in the outbox until it is sent.",
    )
    rule_requesters_per_person: int = _setting(
        2,
        "HOGO_RULE_REQUESTERS_PER_PERSON",
        "A flagged person asked about by this many requesters or more ...",
    )
    rule_requesters_days: int = _setting(
        30, "HOGO_RULE_REQUESTERS_DAYS", "... within this many days: security.pattern_requesters."
    )
    rule_rate_days: int = _setting(
        30,
        "HOGO_RULE_RATE_DAYS",
        "A requester's usual day: the mean and deviation of its holds of flagged people a day "
        "over this many days before today ...",
    )
    rule_rate_k: float = _setting(
        3.0, "HOGO_RULE_RATE_K", "... a day above mean + K x deviation is unusual ..."
    )
    rule_rate_floor: int = _setting(
        5,
        "HOGO_RULE_RATE_FLOOR",
        "... once it reaches at least this many holds: security.pattern_requester_rate.",
    )
    rule_portal_views: int = _setting(
        3,
        "HOGO_RULE_PORTAL_VIEWS",
        "Blocked portal views of one person within 24 hours: security.pattern_portal_views.",
    )
    rule_probing: int = _setting(
        10,
        "HOGO_RULE_PROBING",
        "Holds of unknown subjects from one requester within 24 hours: security.pattern_probing.",
    )

    @classmethod
    def declared(cls) -> list[EnvVar]:
        """Every setting's variable, in declaration order (for `hogo-gateway settings`)."""
        return [
            EnvVar(f.metadata["env"], f"attempts.{f.name}", _shown(f.default), f.metadata["help"])
            for f in fields(cls)
        ]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AttemptSettings:
        """Defaults, then the environment variables each field names, read the one way
        (`_parse`); the mailboxes from the file HOGO_ATTEMPT_MAILBOXES names."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            raw = env.get(name, "")
            if not raw.strip():
                continue
            if f.name == "mailboxes":
                try:
                    values[f.name] = read_mailboxes(Path(raw.strip()))
                except ValueError as exc:
                    raise SettingsError(f"{name}: {exc}") from None
            else:
                values[f.name] = _parse(raw, f.metadata["kind"], name)
        found = cls(**values)  # type: ignore[arg-type]
        found.check()
        return found

    @property
    def mail_on(self) -> bool:
        return bool(self.mailboxes)

    def mailbox(self, department: str) -> str | None:
        """The mailbox of a holding department, or None (told in the console only)."""
        from gateway.annex import fold

        wanted = fold(department)
        return next((a for d, a in self.mailboxes if fold(d) == wanted), None)

    def check(self) -> None:
        """Refuse a configuration that would tell no one, or tell the wrong one."""
        from gateway.annex import holding

        for department, address in self.mailboxes:
            if not holding().has_department(department):
                raise SettingsError(
                    f"HOGO_ATTEMPT_MAILBOXES: {department!r} is not a holding department (annex 1)"
                )
            if not MAIL_ADDRESS.match(address):
                raise SettingsError(f"HOGO_ATTEMPT_MAILBOXES: {address!r} is not a mail address")
        for name, low in (
            ("rule_requesters_per_person", 2),
            ("rule_requesters_days", 1),
            ("rule_rate_days", 1),
            ("rule_rate_floor", 1),
            ("rule_portal_views", 1),
            ("rule_probing", 1),
        ):
            if getattr(self, name) < low:
                env = next(f.metadata["env"] for f in fields(self) if f.name == name)
                raise SettingsError(f"{env} must be at least {low}")
        if self.rule_rate_k < 0:
            raise SettingsError("HOGO_RULE_RATE_K must be 0 or more")
        if not self.mail_on:
            return
        if self.smtp_security not in SMTP_SECURITY:
            raise SettingsError(f"HOGO_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}")
        if not self.smtp_host:
            raise SettingsError("HOGO_ATTEMPT_MAILBOXES needs HOGO_SMTP_HOST")
        if not MAIL_ADDRESS.match(self.mail_from):
            raise SettingsError("HOGO_ATTEMPT_MAILBOXES needs HOGO_MAIL_FROM, a mail address")
        if not self.console_url.startswith(("https://", "http://")):
            raise SettingsError("HOGO_ATTEMPT_MAILBOXES needs HOGO_CONSOLE_URL (the link's base)")
        if self.smtp_security == "none":
            if not is_loopback(self.smtp_host):
                raise SettingsError("HOGO_SMTP_SECURITY=none is for a server on loopback only")
            if self.smtp_user:
                raise SettingsError("an SMTP login is sent only over TLS (HOGO_SMTP_SECURITY)")


def _shown(default: object) -> str:
    if default == ():
        return ""
    return "" if default is None else str(default)


def read_mailboxes(path: Path) -> tuple[tuple[str, str], ...]:
    """The departments' mailboxes from a CSV file (header department,address; UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    if rows and set(rows[0]) != {"department", "address"}:
        raise ValueError(f"{path}: the header must be department,address")
    out = tuple((r["department"].strip(), r["address"].strip()) for r in rows)
    departments = [d for d, _ in out]
    if len(set(departments)) != len(departments):
        raise ValueError(f"{path}: a department is listed twice")
    return out


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
    # -- (end of the check's settings) --------------------------------------------------------
    # whom attempts are told to by mail, and the pattern rules (the block above)
    attempts: AttemptSettings = field(default_factory=AttemptSettings)

    @classmethod
    def declared(cls) -> list[EnvVar]:
        """Every plain setting's variable, in declaration order."""
        out = []
        for f in fields(cls):
            if "env" in f.metadata:
                shown = "" if f.default is None else str(f.default)
                out.append(EnvVar(f.metadata["env"], f.name, shown, f.metadata["help"]))
        return out

    @classmethod
    def known_env(cls) -> frozenset[str]:
        declared = [*cls.declared(), *AttemptSettings.declared()]
        return frozenset({v.name for v in declared} | COMPOSITE_ENV.keys())

    @classmethod
    def _from_environment(cls) -> dict[str, object]:
        values: dict[str, object] = {}
        for f in fields(cls):
            env = f.metadata.get("env")
            raw = os.environ.get(env, "") if env else ""
            if raw.strip():
                values[f.name] = _parse(raw, f.metadata["kind"], env)
        return values

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
            host, port = parse_address(listen, f"--{service_name}-listen", any_port=True)
            separate.append(
                Listener(
                    service_name,
                    host,
                    port,
                    (service_name,),
                    tls_from(*files, f"the {service_name} listener"),
                )
            )
        wait_env = os.environ.get("HOGO_REDIS_WAIT_REPLICAS", "").strip()
        base = cls(
            **cls._from_environment(),  # type: ignore[arg-type]
            redis_url=store_url(url, sentinels, service, cluster),
            wait_replicas=_parse(wait_env, int, "HOGO_REDIS_WAIT_REPLICAS") if wait_env else None,  # type: ignore[arg-type]
            tls=tls,
            separate_listeners=tuple(separate),
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


def environment_variables() -> list[EnvVar]:
    """Everything the gateway reads from its environment, for the operator (`hogo-gateway
    settings`): the plain settings with their defaults, then the assembled ones."""
    composite = [EnvVar(name, "", "", text) for name, text in sorted(COMPOSITE_ENV.items())]
    return [*Settings.declared(), *AttemptSettings.declared(), *composite]


def unknown_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """HOGO_* variables the gateway does not read: most likely misspelt, so that a setting the
    operator believes on (HOGO_STAFF_FOUR_EYE_RELEASE=1) is silently off. Said at start."""
    env = os.environ if environ is None else environ
    known = Settings.known_env()
    return sorted(k for k in env if k.startswith("HOGO_") and k not in known)
