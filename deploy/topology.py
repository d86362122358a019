#!/usr/bin/env python3
"""The production-like topology on one machine, for trying it out (and for tests/test_failover.py).

    python deploy/topology.py up [--dir DIR] [--residents N]

brings up, all on loopback:
  - a throwaway CA (made here with `cryptography`), the gateways' server certificate and client
    certificates for two requesters and for the citizen portal;
  - the store: a Redis master and a replica from deploy/redis.conf, three sentinels from
    deploy/sentinel.conf (with short timings), all with a password, all on TLS ports only with
    client certificates (`--plain-store` for none);
  - a simulated upstream with synthetic residents (gateway/simulator.py);
  - two gateway processes sharing the store, each with its own data dir holding identical copies
    of the keys; provision on mutual TLS, the portal on its own mutual-TLS listener, /readyz and
    /metrics on a plain loopback listener;
  - one requester with a right to one affair, the directory, and two flagged residents;
then prints the addresses and a curl command to try, and stops everything on Ctrl-C.
Needs the gateway installed in the running Python (pip install -e .) and redis-server.
Everything is synthetic.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEPLOY = Path(__file__).resolve().parent
SERVICE = "hogo"
REQUESTER = "1310000000000001"
OTHER_REQUESTER = "1320000000000002"
AFFAIR = "JM00000000000001"
ORG_URI_PREFIX = "urn:hogo-gateway:org:"  # the same as gateway/tls.py


BIND_ATTEMPTS = 10


def free_port() -> int:
    """A port free now, for a Redis node or a sentinel: redis-server cannot bind port 0 and say
    which port it got, and Sentinel needs each node's real port. Another process may take it
    before redis-server binds it, so a node that finds its port taken is started again on
    another (`_start_on_a_free_port`); everything else here binds port 0 and reports its port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a throwaway CA -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


@dataclass(frozen=True)
class StoreTls:
    """TLS between everything that speaks to Redis: the data nodes' and sentinels' certificate
    (server and client: a replica connects to its master with it), and the gateways' client one."""

    ca: Path
    node: Issued
    client: Issued

    def server_lines(self) -> list[str]:
        """redis.conf / sentinel.conf lines: a TLS port only, client certificates required."""
        return [
            f"tls-cert-file {self.node.cert}",
            f"tls-key-file {self.node.key}",
            f"tls-ca-cert-file {self.ca}",
            "tls-auth-clients yes",
            "tls-replication yes",
        ]

    def client_arguments(self) -> dict[str, object]:
        return {
            "ssl": True,
            "ssl_ca_certs": str(self.ca),
            "ssl_certfile": str(self.client.cert),
            "ssl_keyfile": str(self.client.key),
        }


class ThrowawayCA:
    """A CA for trying things out and for tests: EC P-256 keys, certificates valid for a day."""

    def __init__(self, directory: Path, name: str = "hogo-gateway throwaway CA") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = self.dir / "ca.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.revoked: list[x509.Certificate] = []

    def issue(
        self,
        name: str,
        *,
        server: bool = False,
        client: bool = False,
        dns: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
        uris: tuple[str, ...] = (),
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] * server + [
            ExtendedKeyUsageOID.CLIENT_AUTH
        ] * client
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        sans += [x509.UniformResourceIdentifier(u) for u in uris]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        slug = re.sub(r"[^A-Za-z0-9.-]", "_", name)
        issued = Issued(self.dir / f"{slug}.pem", self.dir / f"{slug}-key.pem")
        issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(issued.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return issued

    def requester(self, org_code: str) -> Issued:
        """A requester's client certificate: its org code in the URI SAN the gateway reads."""
        return self.issue(f"requester-{org_code}", client=True, uris=(ORG_URI_PREFIX + org_code,))

    def server(self, name: str = "gateway") -> Issued:
        return self.issue(name, server=True, dns=("localhost",), ips=("127.0.0.1",))

    def revoke(self, issued: Issued) -> Path:
        """Add a certificate to the CRL and write it (crl.pem); returns the CRL's path."""
        self.revoked.append(x509.load_pem_x509_certificate(issued.cert.read_bytes()))
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=1))
        )
        for cert in self.revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - dt.timedelta(minutes=1))
                .build()
            )
        path = self.dir / "crl.pem"
        path.write_bytes(
            builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
        )
        return path

    def client_context(self, issued: Issued | None) -> ssl.SSLContext:
        """A client's TLS context trusting this CA, presenting `issued` if given."""
        ctx = ssl.create_default_context(cafile=str(self.cert_path))
        if issued is not None:
            ctx.load_cert_chain(str(issued.cert), str(issued.key))
        return ctx

    def empty_crl(self) -> Path:
        path = self.dir / "crl.pem"
        if not path.exists():
            now = dt.datetime.now(dt.UTC)
            crl = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(self.cert.subject)
                .last_update(now - dt.timedelta(minutes=5))
                .next_update(now + dt.timedelta(days=1))
                .sign(self.key, hashes.SHA256())
            )
            path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return path


# -- processes ------------------------------------------------------------------------------------
def redis_server_binary() -> str:
    from gateway.embedded import redis_server_binary as find

    return find()


@dataclass
class Proc:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        fh = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args, stdout=fh, stderr=subprocess.STDOUT, env=self.env, cwd=self.log.parent
        )
        fh.close()
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        if self.alive:
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout: float = 20) -> None:
        if self.alive:
            assert self.popen is not None
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()


def _redis_client(
    port: int, password: str | None, tls: StoreTls | None, timeout: float = 2.0
) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        **(tls.client_arguments() if tls else {}),  # type: ignore[arg-type]
    )


def _ports(port: int, tls: StoreTls | None) -> list[str]:
    """The listening lines: with TLS, a TLS port and no plaintext one."""
    if tls is None:
        return [f"port {port}"]
    return ["port 0", f"tls-port {port}", *tls.server_lines()]


def wait_until(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: S110 (not up yet)
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout} s")


def _came_up(proc: Proc, ping: Callable[[], object], timeout: float, what: str) -> bool:
    """True once `ping` answers; False if the process exited first (it could not start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive:
            return False
        with contextlib.suppress(Exception):
            if ping():
                return True
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not within {timeout} s")


def _start_on_a_free_port(node: DataNode | SentinelNode, log: Path, what: str) -> None:
    """Start `node` on a port picked free; if another process took it first (redis-server says
    so in its log and exits), on another one (the one retry allowed: see `free_port`)."""
    for _ in range(BIND_ATTEMPTS):
        node.port = free_port()
        node.write_config()
        offset = log.stat().st_size if log.exists() else 0
        node.proc = node.process().start()
        if _came_up(node.proc, node.client().ping, 20, f"{what} on {node.port}"):
            return
        with log.open("rb") as fh:
            fh.seek(offset)
            said = fh.read()
        if b"Address already in use" not in said:
            raise RuntimeError(f"{what} did not start: {said[-2000:]!r}")
    raise RuntimeError(f"{what}: every port tried was taken")


@dataclass
class DataNode:
    """One Redis data node from deploy/redis.conf (master or replica)."""

    dir: Path
    port: int
    password: str
    replica_of: int | None = None
    tls: StoreTls | None = None
    proc: Proc | None = None

    def write_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "redis.conf"
        lines = [
            f"include {DEPLOY / 'redis.conf'}",
            "# topology: loopback, this directory, no systemd",
            "bind 127.0.0.1",
            *_ports(self.port, self.tls),
            f"dir {self.dir}",
            f"logfile {self.dir / 'redis.log'}",
            "supervised no",
            f"requirepass {self.password}",
            f"masterauth {self.password}",
            "repl-ping-replica-period 1",
        ]
        if self.replica_of:
            lines.append(f"replicaof 127.0.0.1 {self.replica_of}")
        conf.write_text("\n".join(lines) + "\n")
        os.chmod(conf, 0o600)
        return conf

    def process(self) -> Proc:
        return Proc(
            f"redis:{self.port}",
            [redis_server_binary(), str(self.dir / "redis.conf")],
            self.dir / "stdout.log",
        )

    def start(self) -> DataNode:
        """Start it: the first time on a free port (port 0 until then), again on its own port
        (the sentinels and the replica know it by that)."""
        if not self.port:
            _start_on_a_free_port(self, self.dir / "redis.log", "redis")
            return self
        if not (self.dir / "redis.conf").exists():
            self.write_config()
        self.proc = self.process().start()
        wait_until(lambda: self.client().ping(), 20, f"redis on {self.port}")
        return self

    def client(self) -> redis.Redis:
        return _redis_client(self.port, self.password, self.tls)

    def role(self) -> str:
        return self.client().info("replication")["role"]


@dataclass
class SentinelNode:
    dir: Path
    port: int
    master_port: int
    password: str
    down_after_ms: int
    failover_timeout_ms: int
    tls: StoreTls | None = None
    proc: Proc | None = None

    def write_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        text = (DEPLOY / "sentinel.conf").read_text()
        text = re.sub(r"(?m)^bind .*$", "bind 127.0.0.1", text)
        text = re.sub(r"(?m)^port .*$", "\n".join(_ports(self.port, self.tls)), text)
        text = re.sub(r"(?m)^dir .*$", f"dir {self.dir}", text)
        text = re.sub(r"(?m)^logfile .*$", f"logfile {self.dir / 'sentinel.log'}", text)
        text = re.sub(r"(?m)^supervised .*$", "supervised no", text)
        text = re.sub(
            r"(?m)^sentinel monitor hogo .*$",
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 2\n"
            f"sentinel auth-pass {SERVICE} {self.password}",
            text,
        )
        text = re.sub(
            r"(?m)^sentinel down-after-milliseconds hogo .*$",
            f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}",
            text,
        )
        text = re.sub(
            r"(?m)^sentinel failover-timeout hogo .*$",
            f"sentinel failover-timeout {SERVICE} {self.failover_timeout_ms}",
            text,
        )
        conf = self.dir / "sentinel.conf"
        conf.write_text(text)
        os.chmod(conf, 0o600)
        return conf

    def process(self) -> Proc:
        return Proc(
            f"sentinel:{self.port}",
            [redis_server_binary(), str(self.dir / "sentinel.conf"), "--sentinel"],
            self.dir / "stdout.log",
        )

    def start(self) -> SentinelNode:
        """As DataNode.start: a free port the first time, its own port after."""
        if not self.port:
            _start_on_a_free_port(self, self.dir / "sentinel.log", "sentinel")
            return self
        if not (self.dir / "sentinel.conf").exists():
            self.write_config()
        self.proc = self.process().start()
        wait_until(lambda: self.client().ping(), 20, f"sentinel on {self.port}")
        return self

    def client(self) -> redis.Redis:
        return _redis_client(self.port, None, self.tls)

    def master(self) -> tuple[str, int] | None:
        host, port = self.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return host, int(port)


@dataclass
class GatewayNode:
    """One `hogo-gateway serve`: its listeners bind port 0, and it says in its ready file which
    ports they got."""

    name: str
    data_dir: Path
    port: int = 0
    portal_port: int = 0
    ops_port: int = 0
    proc: Proc | None = None

    @property
    def ready_file(self) -> Path:
        return self.data_dir.parent / f"{self.name}.ready"

    def read_ready_file(self) -> bool:
        """The listeners' ports, once the gateway has written them (False until then)."""
        if not self.ready_file.exists():
            if self.proc is not None and not self.proc.alive:
                raise RuntimeError(f"{self.name} exited: see {self.data_dir / 'gateway.log'}")
            return False
        info = json.loads(self.ready_file.read_text())
        ports = {entry["name"]: int(entry["port"]) for entry in info["listeners"]}
        self.port, self.portal_port, self.ops_port = ports["main"], ports["portal"], ports["ops"]
        return True

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def portal_url(self) -> str:
        return f"https://127.0.0.1:{self.portal_port}"

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"


@dataclass
class Topology:
    """Everything `up` starts, as objects a test can drive (kill the master, read the logs)."""

    root: Path
    residents: int = 30
    down_after_ms: int = 5000
    failover_timeout_ms: int = 60000
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the gateways
    store_tls: bool = True  # TLS with client certificates between everything and Redis

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.password = secrets.token_hex(16)
        self.data_nodes: list[DataNode] = []
        self.sentinels: list[SentinelNode] = []
        self.gateways: list[GatewayNode] = []
        self.simulator: Proc | None = None
        self.upstream_url = ""
        self.ca: ThrowawayCA | None = None
        self.certs: dict[str, Issued] = {}
        self.tls: StoreTls | None = None

    # -- addresses and clients ------------------------------------------------------------
    @property
    def sentinel_list(self) -> str:
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    @property
    def store_env(self) -> dict[str, str]:
        """How every gateway process and command finds the store (and its password)."""
        env = {
            "HOGO_REDIS_SENTINEL": self.sentinel_list,
            "HOGO_REDIS_SERVICE": SERVICE,
            "HOGO_REDIS_PASSWORD": self.password,
        }
        if self.tls:
            env["HOGO_REDIS_TLS_CA"] = str(self.tls.ca)
            env["HOGO_REDIS_TLS_CERT"] = str(self.tls.client.cert)
            env["HOGO_REDIS_TLS_KEY"] = str(self.tls.client.key)
        return env

    def master_port(self) -> int | None:
        """The master's port as the sentinels' majority sees it now."""
        seen: dict[int, int] = {}
        for s in self.sentinels:
            with contextlib.suppress(Exception):
                addr = s.master()
                if addr:
                    seen[addr[1]] = seen.get(addr[1], 0) + 1
        best = max(seen.items(), key=lambda kv: kv[1], default=None)
        return best[0] if best and best[1] >= 2 else None

    def node(self, port: int) -> DataNode:
        return next(n for n in self.data_nodes if n.port == port)

    def cli(self, *args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`hogo-gateway ARGS` against the topology's store, as the operator would run it."""
        data = data_dir or self.gateways[0].data_dir
        return subprocess.run(
            [sys.executable, "-m", "gateway", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **self.store_env},
        )

    # -- bring up -------------------------------------------------------------------------
    def start(self) -> Topology:
        try:
            self._pki()
            self._store()
            self._upstream()
            self._seed()
            self._gateways()
        except BaseException:
            self.stop()
            raise
        return self

    def _pki(self) -> None:
        self.ca = ThrowawayCA(self.root / "pki")
        self.certs["server"] = self.ca.server()
        self.certs["requester"] = self.ca.requester(REQUESTER)
        self.certs["other"] = self.ca.requester(OTHER_REQUESTER)
        self.certs["portal"] = self.ca.issue("mynaportal", client=True)
        if self.store_tls:
            node = self.ca.issue(
                "store-node", server=True, client=True, dns=("localhost",), ips=("127.0.0.1",)
            )
            client = self.ca.issue("gateway-store-client", client=True)
            self.certs["store-node"], self.certs["store-client"] = node, client
            self.tls = StoreTls(self.ca.cert_path, node, client)

    def _store(self) -> None:
        master = DataNode(self.root / "redis-a", 0, self.password, tls=self.tls).start()
        replica = DataNode(self.root / "redis-b", 0, self.password, master.port, tls=self.tls)
        self.data_nodes = [master, replica.start()]
        wait_until(
            lambda: (
                master.client().info("replication")["connected_slaves"] >= 1
                and replica.client().info("replication")["master_link_status"] == "up"
            ),
            30,
            "the replica's link to the master",
        )
        for i in range(3):
            self.sentinels.append(
                SentinelNode(
                    self.root / f"sentinel-{i}",
                    0,
                    master.port,
                    self.password,
                    self.down_after_ms,
                    self.failover_timeout_ms,
                    self.tls,
                ).start()
            )

        # every sentinel knows the replica and the two others before anything relies on them
        def sentinels_ready() -> bool:
            for s in self.sentinels:
                info = s.client().sentinel_master(SERVICE)
                if int(info["num-other-sentinels"]) < 2 or int(info["num-slaves"]) < 1:
                    return False
            return True

        wait_until(sentinels_ready, 30, "the sentinels to find each other", interval=0.2)

    def _upstream(self) -> None:
        port_file = self.root / "simulator.port"
        self.simulator = Proc(
            "simulator",
            [
                sys.executable, str(Path(__file__).resolve()), "simulator",
                "--port", "0", "--port-file", str(port_file), "--residents", str(self.residents),
            ],
            self.root / "simulator.log",
        ).start()  # fmt: skip
        wait_until(port_file.exists, 20, "the simulated upstream")
        self.upstream_url = f"http://127.0.0.1:{int(port_file.read_text())}/provision"

    def _seed(self) -> None:
        for i in range(2):
            self.gateways.append(GatewayNode(f"gateway-{i + 1}", self.root / f"gateway-{i + 1}"))
        first = self.gateways[0]
        first.data_dir.mkdir(parents=True, exist_ok=True)
        csv = self.root / "directory.csv"
        from gateway.simulator import synthetic_residents

        residents = list(synthetic_residents(self.residents))
        csv.write_text(
            "atena_number,subject_code\n"
            + "".join(f"{r.atena_number},{r.subject_code}\n" for r in residents)
        )
        steps = [
            ("requesters", "add", REQUESTER, "--name", "見本市 子ども家庭課 (topology)"),
            ("requesters", "grant", REQUESTER, "--affair", AFFAIR),
            ("requesters", "add", OTHER_REQUESTER, "--name", "例示町 税務課 (topology)"),
            ("directory", "import", str(csv)),
        ]
        for r in residents[:2]:
            steps.append(
                (
                    "flags", "set", r.atena_number, "--name", r.name, "--department",
                    "子ども家庭課", "--business", "児童手当業務", "--basis", "application",
                )
            )  # fmt: skip
        for step in steps:
            res = self.cli(*step)
            if res.returncode != 0:
                raise RuntimeError(f"hogo-gateway {' '.join(step[:2])}: {res.stderr.strip()}")
        # Every gateway host holds identical copies of the keys (deploy/KEYS.md).
        for gw in self.gateways[1:]:
            shutil.copytree(first.data_dir / "keys", gw.data_dir / "keys")

    def _gateways(self) -> None:
        assert self.ca is not None
        server, ca = self.certs["server"], self.ca.cert_path
        for gw in self.gateways:
            env = {
                **os.environ,
                **self.store_env,
                "HOGO_DATA_DIR": str(gw.data_dir),
                "HOGO_UPSTREAM_URL": self.upstream_url,
                **self.env,
            }
            gw.ready_file.unlink(missing_ok=True)  # (one it left when it was killed)
            gw.proc = Proc(
                gw.name,
                [
                    sys.executable, "-m", "gateway", "serve",
                    "--host", "127.0.0.1", "--port", str(gw.port), "--ready-file", str(gw.ready_file),
                    "--tls-cert", str(server.cert), "--tls-key", str(server.key),
                    "--tls-client-ca", str(ca),
                    "--portal-listen", f"127.0.0.1:{gw.portal_port}",  # (port 0: any free one)
                    "--portal-tls-cert", str(server.cert), "--portal-tls-key", str(server.key),
                    "--portal-tls-client-ca", str(ca),
                    "--ops-listen", f"127.0.0.1:{gw.ops_port}",
                ],
                gw.data_dir / "gateway.log",
                env=env,
            ).start()  # fmt: skip
        for gw in self.gateways:
            wait_until(gw.read_ready_file, 60, f"{gw.name} listening", interval=0.1)
            wait_until(lambda gw=gw: _ready(gw.ops_url), 60, f"{gw.name} ready", interval=0.2)

    # -- failures -------------------------------------------------------------------------
    def kill_master(self) -> DataNode:
        """kill -9 the current master; returns it (restart it with `.start()`)."""
        port = self.master_port()
        if port is None:
            raise RuntimeError("the sentinels agree on no master")
        node = self.node(port)
        assert node.proc is not None
        node.proc.kill9()
        return node

    # -- tear down ------------------------------------------------------------------------
    def stop(self) -> None:
        for gw in self.gateways:
            if gw.proc:
                gw.proc.stop()
        if self.simulator:
            self.simulator.stop()
        for s in self.sentinels:
            if s.proc:
                s.proc.stop()
        for n in self.data_nodes:
            if n.proc:
                n.proc.stop()

    def describe(self) -> dict[str, object]:
        return {
            "ca": str(self.ca.cert_path) if self.ca else None,
            "certificates": {
                k: {"cert": str(v.cert), "key": str(v.key)} for k, v in self.certs.items()
            },
            "store": {
                "sentinels": self.sentinel_list,
                "service": SERVICE,
                "password_env": "HOGO_REDIS_PASSWORD",
                "tls": bool(self.tls),
                "data_nodes": [n.port for n in self.data_nodes],
            },
            "upstream": self.upstream_url,
            "gateways": [
                {
                    "provision": g.url,
                    "portal": g.portal_url,
                    "ops": g.ops_url,
                    "data_dir": str(g.data_dir),
                }
                for g in self.gateways
            ],
        }


def _ready(url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(url + "/readyz", timeout=2) as resp:  # noqa: S310 (loopback)
        return resp.status == 200


# -- the simulated upstream as a process -----------------------------------------------------------
def run_simulator(port: int, residents: int, port_file: Path | None = None) -> None:
    """The simulator on 127.0.0.1:port (0: any free port), the port it got written to
    `port_file` once it listens."""
    import asyncio

    from aiohttp import web

    from gateway.listeners import listen
    from gateway.simulator import Simulator

    async def serve() -> None:
        runner = web.AppRunner(
            Simulator.with_residents(residents, record_calls=False).app(), access_log=None
        )
        await runner.setup()
        bound = await listen(runner, "127.0.0.1", port)
        if port_file is not None:
            tmp = port_file.with_name(f".{port_file.name}.tmp")
            tmp.write_text(f"{bound}\n")
            tmp.replace(port_file)  # whole, or not there
        await asyncio.Event().wait()  # until SIGTERM

    asyncio.run(serve())


def _curl(topo: Topology) -> str:
    gw = topo.gateways[0]
    cert = topo.certs["requester"]
    assert topo.ca is not None
    body = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<q:SubmitQueryRequest xmlns:q="urn:hogo-gateway:provision:1">'
        f"<q:processingNumber>TRY-{secrets.token_hex(3)}</q:processingNumber>"
        f"<q:requesterOrgCode>{REQUESTER}</q:requesterOrgCode>"
        f"<q:affairCode>{AFFAIR}</q:affairCode><q:procedureCode>JT00000000000001</q:procedureCode>"
        "<q:itemCode>TM00000000000001</q:itemCode><q:subjectCode>SIM0000000000005</q:subjectCode>"
        "<q:requestedAt>2026-11-26T10:00:00+09:00</q:requestedAt>"
        "</q:SubmitQueryRequest></soap:Body></soap:Envelope>"
    )
    return (
        f"curl --cacert {topo.ca.cert_path} --cert {cert.cert} --key {cert.key} "
        f"{gw.url}/soap/provision -H 'Content-Type: text/xml' --data '{body}'"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring the topology up until Ctrl-C")
    up.add_argument("--dir", default="./var/topology", help="where everything lives")
    up.add_argument("--residents", type=int, default=30)
    up.add_argument(
        "--plain-store", action="store_true", help="no TLS between the gateways and Redis"
    )
    sim = sub.add_parser("simulator", help="(internal) run the simulated upstream")
    sim.add_argument("--port", type=int, default=0, help="0: any free port")
    sim.add_argument("--port-file", type=Path, help="where to write the port it got")
    sim.add_argument("--residents", type=int, default=30)
    args = parser.parse_args(argv)
    if args.command == "simulator":
        run_simulator(args.port, args.residents, args.port_file)
        return 0
    root = Path(args.dir)
    if root.exists():
        shutil.rmtree(root)
    topo = Topology(root, residents=args.residents, store_tls=not args.plain_store)
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("bringing the topology up under", root.resolve(), flush=True)
    topo.start()
    try:
        print(json.dumps(topo.describe(), indent=2, ensure_ascii=False))
        print("\nTry (answered automatically):\n  " + _curl(topo))
        env = " ".join(f"{k}={v}" for k, v in topo.store_env.items())
        print(
            "\nOperator commands against this store:\n"
            f"  {env} hogo-gateway --data-dir {topo.gateways[0].data_dir} held list"
        )
        print("\nStop with Ctrl-C.", flush=True)
        while not stop:
            time.sleep(0.2)
    finally:
        topo.stop()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
