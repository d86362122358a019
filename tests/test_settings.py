"""Settings are declared once (variable, type, default, help) and read one way: what the operator
writes in the environment is what the gateway runs with, or it says so at start."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from gateway.settings import (
    FALSE_WORDS,
    TRUE_WORDS,
    Settings,
    SettingsError,
    environment_variables,
    unknown_environment,
)
from tests.support import hogo

ROOT = Path(__file__).resolve().parents[1]
DECLARED = {f.name: f for f in fields(Settings) if "env" in f.metadata}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("HOGO_"):
            monkeypatch.delenv(name)
    return monkeypatch


def _other_value(kind: type, default: object) -> tuple[str, object]:
    """A value different from the default, as the environment would give it, and as parsed."""
    if kind is bool:
        return ("0", False) if default else ("1", True)
    if kind is int:
        return ("7", 7)
    if kind is float:
        return ("3.5", 3.5)
    if kind is Path:
        return ("/srv/hogo-test", Path("/srv/hogo-test"))
    return ("rediss://example.invalid:6380/0", "rediss://example.invalid:6380/0")


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_every_declared_variable_is_what_the_gateway_runs_with(
    clean_env: pytest.MonkeyPatch, name: str
) -> None:
    f = DECLARED[name]
    raw, expected = _other_value(f.metadata["kind"], f.default)
    clean_env.setenv(f.metadata["env"], raw)
    if name.startswith("redis_tls_"):
        # TLS files go with a rediss:// store, and a client certificate with its key
        clean_env.setenv("HOGO_REDIS_URL", "rediss://127.0.0.1:6380/0")
        for other in ("HOGO_REDIS_TLS_CERT", "HOGO_REDIS_TLS_KEY"):
            if name in ("redis_tls_cert", "redis_tls_key") and other != f.metadata["env"]:
                clean_env.setenv(other, "/srv/other.pem")
    assert getattr(Settings.from_env(), name) == expected


def test_a_data_dir_from_the_environment_is_a_path(clean_env: pytest.MonkeyPatch) -> None:
    """HOGO_DATA_DIR was read as text (the default's type is PosixPath, not Path), and every
    command given it failed with a TypeError where it joined the keys' directory."""
    clean_env.setenv("HOGO_DATA_DIR", "/srv/hogo-test")
    settings = Settings.from_env()
    assert settings.data_dir == Path("/srv/hogo-test")
    assert settings.keys_dir == Path("/srv/hogo-test/keys")


BOOLS = sorted(n for n, f in DECLARED.items() if f.metadata["kind"] is bool)


@pytest.mark.parametrize("name", BOOLS)
@pytest.mark.parametrize("word", sorted(TRUE_WORDS | FALSE_WORDS | {"ON", "Yes", " true "}))
def test_every_yes_no_setting_reads_the_same_words(
    clean_env: pytest.MonkeyPatch, name: str, word: str
) -> None:
    # HOGO_STAFF_FOUR_EYES_RELEASE=on used to leave four-eyes release off without a word
    clean_env.setenv(DECLARED[name].metadata["env"], word)
    assert getattr(Settings.from_env(), name) is (word.strip().lower() in TRUE_WORDS)


@pytest.mark.parametrize("name", BOOLS)
def test_a_yes_no_setting_that_is_neither_is_refused(
    clean_env: pytest.MonkeyPatch, name: str
) -> None:
    env = DECLARED[name].metadata["env"]
    clean_env.setenv(env, "maybe")
    with pytest.raises(SettingsError, match=env):
        Settings.from_env()


def test_a_number_that_is_not_one_is_refused_naming_its_variable(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("HOGO_STORE_TIMEOUT", "half a second")
    with pytest.raises(SettingsError, match="HOGO_STORE_TIMEOUT"):
        Settings.from_env()


def test_unknown_hogo_variables_are_found() -> None:
    env = {"HOGO_STAFF_FOUR_EYE_RELEASE": "1", "HOGO_PORT": "9", "PATH": "/bin"}
    assert unknown_environment(env) == ["HOGO_STAFF_FOUR_EYE_RELEASE"]


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`hogo-gateway ARGS` with none of the caller's HOGO_* settings, only `env`."""
    return hogo(*args, env=env, timeout=60)


def test_a_misspelt_variable_is_a_warning_at_start() -> None:
    res = _cli("settings", HOGO_STAFF_FOUR_EYE_RELEASE="1")
    assert res.returncode == 0
    assert "HOGO_STAFF_FOUR_EYE_RELEASE is not a setting" in res.stderr
    quiet = _cli("settings", HOGO_STAFF_FOUR_EYES_RELEASE="1")
    assert "warning" not in quiet.stderr


def test_the_settings_command_lists_every_variable_once() -> None:
    res = _cli("settings", "--json")
    assert res.returncode == 0, res.stderr
    listed = [row["variable"] for row in json.loads(res.stdout)]
    assert len(listed) == len(set(listed))
    assert set(listed) == Settings.known_env()
    assert {v.name for v in environment_variables()} == set(listed)
    declared = {row["variable"]: row for row in json.loads(res.stdout) if row["setting"]}
    assert declared["HOGO_STORE_TIMEOUT"]["default"] == "0.5"
    assert all(row["help"] for row in json.loads(res.stdout))


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    text = (ROOT / "deploy" / "gateway.env").read_text(encoding="utf-8")
    named = set(re.findall(r"^#?\s*(HOGO_[A-Z0-9_]+)=", text, re.MULTILINE))
    assert named, "deploy/gateway.env names no variable"
    assert named <= Settings.known_env(), named - Settings.known_env()
