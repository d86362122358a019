"""deploy/ agrees with the code: the alert rules name metrics the gateway exports and runbook
sections that exist, the example gateway.env is a valid configuration, and operator commands run
through sudo (deploy/hogo) record the operator. (deploy/redis.conf and sentinel.conf are run for
real by tests/test_failover.py.)"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from gateway import metrics
from gateway.settings import Settings
from tests.support import cli_runner

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_alert_rules_name_real_metrics_and_runbook_sections() -> None:
    text = (DEPLOY / "alerts.yml").read_text()
    exported = {family.name for family in metrics.REGISTRY.collect()}
    used = set(re.findall(r"\b(hogo_[a-z_]+)", text))
    assert used
    for name in used:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert base in exported, f"alerts.yml uses {name}, which the gateway does not export"
    runbook = (DEPLOY / "RUNBOOK.md").read_text()
    headings = {h.strip().lower() for h in re.findall(r"(?m)^### (.+)$", runbook)}
    alerts = re.findall(r"(?m)^\s+- alert: (\w+)$", text)
    anchors = re.findall(r'runbook: "RUNBOOK\.md#(\w+)"', text)
    assert len(alerts) == len(anchors) > 10
    for alert, anchor in zip(alerts, anchors, strict=True):
        assert anchor == alert.lower(), alert
        assert anchor in headings, f"RUNBOOK.md has no section for {alert}"


def _env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            assert " #" not in value, f"systemd would keep a trailing comment: {line}"
            env[key.strip()] = value.strip()
    return env


def test_the_example_gateway_env_is_a_valid_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _env_file(DEPLOY / "gateway.env")
    for key in [k for k in os.environ if k.startswith("HOGO_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    assert settings.redis_url == (
        "redis+sentinel://10.0.0.11:26379,10.0.0.12:26379,10.0.0.13:26379/hogo"
    )
    assert settings.replicas_to_wait_for == 1 and settings.redis_password
    # the store over TLS with a client certificate
    assert settings.redis_tls_ca and settings.redis_tls_cert and settings.redis_tls_key
    by_name = {listener.name: listener for listener in settings.listeners()}
    assert by_name["main"].services == ("provision",)
    assert by_name["main"].tls and by_name["main"].tls.client_ca  # requesters: mutual TLS
    assert by_name["portal"].tls and by_name["portal"].tls.client_ca
    assert by_name["staff"].tls and by_name["ops"].tls
    assert all(listener.tls for listener in by_name.values())  # no --insecure-http needed


def test_commands_run_through_sudo_record_the_operator(tmp_path: Path, redis_url: str) -> None:
    res = cli_runner(tmp_path, redis_url)(
        "flags", "set", "900000000000321", "--name", "試験 花子", "--department", "子ども家庭課",
        "--business", "児童手当業務", "--basis", "ex-officio", "--json",
        env={"SUDO_USER": "operator7"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    actor = json.loads(res.stdout)["history"][0]["actor"]
    assert actor.startswith("os:operator7@") and "(sudo as " in actor


def test_the_store_is_named_one_way_whichever_way_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.settings import SettingsError

    for key in [k for k in os.environ if k.startswith("HOGO_")]:
        monkeypatch.delenv(key)
    sentinel = Settings.from_env(
        redis_sentinel="10.0.0.1:26379, 10.0.0.2:26379", redis_service="hogo"
    )
    assert sentinel.redis_url == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/hogo"
    assert sentinel.replicas_to_wait_for == 1
    cluster = Settings.from_env(redis_cluster="[::1]:7000,10.0.0.3:7001")
    assert cluster.redis_url == "redis+cluster://::1:7000,10.0.0.3:7001"
    assert Settings.from_env(redis_url="redis://h:6379/0").replicas_to_wait_for == 0
    assert Settings.from_env().redis_url is None  # the embedded store
    # the command line replaces the environment's store
    monkeypatch.setenv("HOGO_REDIS_URL", "redis://elsewhere:6379/0")
    monkeypatch.setenv("HOGO_REDIS_SERVICE", "hogo")
    assert Settings.from_env(redis_sentinel="10.0.0.1:26379").redis_url.startswith(
        "redis+sentinel://10.0.0.1:26379/"
    )
    monkeypatch.setenv("HOGO_REDIS_SENTINEL", "10.0.0.1:26379")
    with pytest.raises(SettingsError, match="one of"):
        Settings.from_env()  # two stores in the environment
    monkeypatch.delenv("HOGO_REDIS_URL")
    monkeypatch.delenv("HOGO_REDIS_SERVICE")
    with pytest.raises(SettingsError, match="--redis-service"):
        Settings.from_env()
    with pytest.raises(SettingsError, match="shorter than the store timeout"):
        Settings.from_env(redis_cluster="h:7000", wait_timeout=0.6)
    monkeypatch.delenv("HOGO_REDIS_SENTINEL")
    with pytest.raises(SettingsError, match="no replicas"):
        Settings.from_env(wait_replicas=1)  # the embedded store
