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
