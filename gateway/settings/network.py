"""Where the gateway listens and where its store is: addresses, each listener's TLS files and
services, the store's one address, and the variables these are assembled from."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.settings.reading import SettingsError

# What a listener can serve. The main listener (--host/--port) serves every service that is not
# given a listener of its own (--portal-listen, --staff-listen, --ops-listen).
SERVICES = ("provision", "portal", "staff", "ops")
SEPARABLE = ("portal", "staff", "ops")

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


def separate_listeners(pick: Callable[[str, str], str | None]) -> tuple[Listener, ...]:
    """The listeners of their own for the separable services, from `pick(option, variable)`
    (the command line's value, else the environment's, else None)."""
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
    return tuple(separate)
