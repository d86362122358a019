"""The one way the tests start processes and servers: redis-server (`RedisServer`), the command
line (`hogo`, `hogo_process`), `hogo-gateway serve` (`GatewayProcess`), aiohttp applications
(`serve_app`) and SMTP servers (`SmtpServer`).

No port is picked and bound later (another process could take it in between): aiohttp sites and
the gateway bind port 0 and say which port they got (the gateway in its `--ready-file`), and
redis-server listens on a Unix socket in its own directory. Where a redis-server must have a TCP
port (a replica's master, cluster nodes, TLS), the port is picked free and, since redis-server
cannot bind port 0 and report it, picked again when the server finds it taken: the one retry the
tests allow (`RedisServer(tcp=True)`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import redis
import redis.asyncio as aioredis
from aiohttp import web
from aiosmtpd.controller import Controller

from gateway.embedded import redis_server_binary
from gateway.listeners import listen

BIND_ATTEMPTS = 10
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux


# -- the command line ---------------------------------------------------------------------------
def hogo_command(
    *args: str | Path, data_dir: Path | None = None, redis_url: str | None = None
) -> list[str]:
    """`hogo-gateway [--data-dir D] [--redis-url U] ARGS...` as an argv (this interpreter's)."""
    head: list[str] = [sys.executable, "-m", "gateway"]
    if data_dir is not None:
        head += ["--data-dir", str(data_dir)]
    if redis_url is not None:
        head += ["--redis-url", redis_url]
    return head + [str(a) for a in args]


def hogo_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any HOGO_* setting or SUDO_USER (so that nothing of
    the caller's leaks into a test: the operator a command records is the test's), plus `env`."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HOGO_", "PROMETHEUS_")) and k != "SUDO_USER"
    }
    return {**clean, **(env or {})}


def hogo(
    *args: str | Path,
    data_dir: Path | None = None,
    redis_url: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run one `hogo-gateway` command to its end; its output captured as text."""
    return subprocess.run(
        hogo_command(*args, data_dir=data_dir, redis_url=redis_url),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        env=hogo_env(env),
    )


def hogo_process(
    *args: str | Path,
    data_dir: Path | None = None,
    redis_url: str | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: int | IO[Any] | None = None,
    text: bool = False,
) -> subprocess.Popen[Any]:
    """Start one `hogo-gateway` command in the background; the caller stops it."""
    return subprocess.Popen(
        hogo_command(*args, data_dir=data_dir, redis_url=redis_url),
        stdout=stdout,
        stderr=stderr,
        text=text,
        env=hogo_env(env),
    )


# -- hogo-gateway serve ---------------------------------------------------------------------
class GatewayProcess:
    """`hogo-gateway serve` in its own process (to kill -9), on port 0, with extra environment;
    its output (the banner and the log) goes to a file beside the data dir (`log`). `wait_ready` learns its address from the
    ready file it writes once it listens."""

    def __init__(
        self,
        data_dir: Path,
        redis_url: str | None,
        upstream_url: str,
        *args: str,
        **env: str,
    ) -> None:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        handle, ready = tempfile.mkstemp(prefix="gateway-", suffix=".ready", dir=data_dir.parent)
        os.close(handle)
        self.ready_file = Path(ready)
        self.ready_file.unlink()  # it appears once every listener listens
        self.log = self.ready_file.with_suffix(".log")
        with self.log.open("wb") as log:
            self.proc = hogo_process(
                "serve", "--upstream-url", upstream_url, "--port", "0",
                "--ready-file", str(self.ready_file), *args,
                data_dir=data_dir, redis_url=redis_url, env=env, stdout=log, stderr=log,
            )  # fmt: skip
        self.port = 0
        self.url = ""
        self.listeners: dict[str, str] = {}  # name -> URL

    async def wait_ready(self, timeout: float = 60) -> None:
        import aiohttp

        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.log.read_text(errors='replace')}")
            assert time.monotonic() < deadline, "gateway did not start"
            await asyncio.sleep(0.05)
        info = json.loads(self.ready_file.read_text())
        self.listeners = {entry["name"]: entry["url"] for entry in info["listeners"]}
        main = info["listeners"][0]
        self.port, self.url = int(main["port"]), main["url"]
        async with aiohttp.ClientSession() as s, s.get(self.url + "/healthz") as resp:
            assert resp.status == 200, "gateway listens but is not alive"

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()


# -- the processes `serve` starts: workers, the flag state checker ------------------------------
def children(pid: int) -> set[int]:
    """The processes `pid` started (and not yet reaped)."""
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def alive(pid: int) -> bool:
    """Running (a zombie is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def is_checker(pid: int) -> bool:
    """Whether `pid` is a flag state checker process (gateway/verify/process.py)."""
    try:
        return b"HOGO_CHECKER=1" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def checkers(pid: int) -> list[int]:
    """The living flag state checkers among `pid`'s children."""
    return [c for c in children(pid) if is_checker(c) and alive(c)]


async def until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Wait for `await predicate()` to be true, checking every 0.1 s; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout} s")


# -- aiohttp applications ---------------------------------------------------------------------
@dataclass
class ServedApp:
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def cleanup(self) -> None:
        await self.runner.cleanup()


async def serve_app(app: web.Application, **site: Any) -> ServedApp:
    """`app` listening on a free loopback port (bound as port 0). Its access lines go to
    aiohttp's access log, as a real server's would (test_staff_privacy scans them)."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        port = await listen(runner, "127.0.0.1", 0, **site)
    except BaseException:
        await runner.cleanup()
        raise
    return ServedApp(runner, port)


# -- SMTP servers -------------------------------------------------------------------------------
def reserve_port() -> socket.socket:
    """A loopback TCP socket bound to port 0 but not listening: its port is this test's (no other
    process can bind it) and refuses connections until an `SmtpServer(sock=...)` listens on it,
    as a mail server that is down and comes up later on the same address."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class SmtpServer(Controller):
    """aiosmtpd's server thread on loopback, bound to port 0 (or to a reserved socket): `port` is
    the port it got, known once `start()` returns."""

    def __init__(self, handler: Any, *, sock: socket.socket | None = None, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)
        self._sock = sock

    async def _bind(self) -> asyncio.AbstractServer:
        where: dict[str, Any] = (
            {"sock": self._sock} if self._sock is not None else {"host": self.hostname, "port": 0}
        )
        server = await self.loop.create_server(self._factory_invoker, ssl=self.ssl_context, **where)
        self.port = server.sockets[0].getsockname()[1]
        return server

    def _create_server(self) -> Any:
        return self._bind()


# -- redis-server -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RedisTls:
    """TLS for a redis-server: its certificate and key, the CA clients' certificates must chain
    to, and a client certificate the tests' own clients present."""

    cert: Path
    key: Path
    ca: Path
    client_cert: Path
    client_key: Path


class RedisServer:
    """A real redis-server in its own directory, append-only with `appendfsync always` (as
    deployed), on a Unix socket unless `tcp` (or TLS, a cluster, a replica: they need a port).

    `config`: more configuration lines ("name value"); `cluster`: a cluster node (its bus port is
    picked with its port); `replica_of`: a replica of that (TCP) server, linked before start()
    returns; `tls`: TLS only, no plaintext port.
    """

    def __init__(
        self,
        directory: Path,
        *,
        tcp: bool = False,
        tls: RedisTls | None = None,
        cluster: bool = False,
        replica_of: RedisServer | None = None,
        config: Sequence[str] = (),
    ) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tcp = tcp or tls is not None or cluster or replica_of is not None
        self.tls = tls
        self.cluster = cluster
        self.replica_of = replica_of
        self.config = list(config)
        self.port = 0
        self.bus_port = 0
        self.socket = self._socket_path() if not self.tcp else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "redis.log"

    def _socket_path(self) -> Path:
        path = self.dir / "redis.sock"
        if len(str(path).encode()) <= MAX_SOCKET_PATH:
            return path
        return Path(tempfile.mkdtemp(prefix="hogo-redis-", dir="/tmp")) / "redis.sock"

    @property
    def url(self) -> str:
        if self.socket is not None:
            return f"unix://{self.socket}?db=0"
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def _client_options(self) -> dict[str, Any]:
        if self.socket is not None:
            return {"unix_socket_path": str(self.socket)}
        options: dict[str, Any] = {"host": "127.0.0.1", "port": self.port}
        if self.tls is not None:
            options.update(
                ssl=True,
                ssl_ca_certs=str(self.tls.ca),
                ssl_certfile=str(self.tls.client_cert),
                ssl_keyfile=str(self.tls.client_key),
            )
        return options

    def client(self) -> redis.Redis:
        return redis.Redis(socket_timeout=5, decode_responses=True, **self._client_options())

    def async_client(self) -> aioredis.Redis:
        return aioredis.Redis(socket_timeout=5, decode_responses=True, **self._client_options())

    def _arguments(self) -> list[str]:
        args = [
            "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always",
            "--save", "", "--rdbcompression", "no", "--daemonize", "no",
            "--logfile", str(self.log), "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip
        if self.socket is not None:
            args += ["--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        elif self.tls is not None:
            args += ["--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1"]
            args += ["--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key)]
            args += ["--tls-ca-cert-file", str(self.tls.ca), "--tls-auth-clients", "yes"]
        else:
            args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-node-timeout", "1000", "--cluster-port", str(self.bus_port)]
        if self.replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of.port)]
        for line in self.config:
            name, _, value = line.partition(" ")
            args += [f"--{name}", value]
        return args

    def start(self, timeout: float = 30) -> RedisServer:
        """Start it (again, on the same address, if it ran before) and wait until it answers."""
        fresh = not self.port
        for attempt in range(BIND_ATTEMPTS):
            if self.tcp and fresh:
                self.port = _free_port()
                self.bus_port = _free_port() if self.cluster else 0
            offset = self.log.stat().st_size if self.log.exists() else 0
            self.proc = subprocess.Popen(
                [redis_server_binary(), *self._arguments()],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready(offset, timeout):
                break
            taken = b"Address already in use" in self._log_since(offset)
            if not (taken and attempt < BIND_ATTEMPTS - 1):
                raise RuntimeError(f"redis-server did not start: {self._log_since(offset)!r}")
            if not fresh:
                time.sleep(0.2)  # its own port, still in use: try the same one again
        if self.replica_of is not None:
            self.wait_linked(timeout)
        return self

    def _log_since(self, offset: int) -> bytes:
        try:
            with self.log.open("rb") as f:
                f.seek(offset)
                return f.read()
        except OSError:
            return b""

    def _wait_ready(self, offset: int, timeout: float) -> bool:
        """Until it accepts connections (True) or exits (False)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if b"ready to accept connections" in self._log_since(offset).lower():
                try:
                    if self.client().ping():
                        return True
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("redis-server did not start in time")

    def wait_linked(self, timeout: float = 30) -> None:
        """Until this replica's link to its master is up and in sync."""
        deadline = time.monotonic() + timeout
        while self.client().info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica did not link up"
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no goodbye, no final flush beyond what appendfsync already did."""
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            self.proc.wait(20)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def files(self) -> list[Path]:
        return [p for p in self.dir.rglob("*") if p.is_file()]

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.socket is not None and self.socket.parent != self.dir:
            shutil.rmtree(self.socket.parent, ignore_errors=True)


def _free_port() -> int:
    """A port free now, for redis-server (which cannot bind port 0 and say which it got): the
    caller retries with another if it was taken before the server bound it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
