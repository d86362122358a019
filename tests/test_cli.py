"""The hogo-gateway command line: exit status 0 / 1 / 2, one-line errors, --json output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import REQUESTER, Cli, cli_runner, one_line_error


@pytest.fixture
def hogo(tmp_path: Path, redis_url: str) -> Cli:
    return cli_runner(tmp_path / "data", redis_url)


def test_requesters_add_and_list(hogo) -> None:
    assert hogo("requesters", "add", REQUESTER, "--name", "見本市 税務課").returncode == 0
    listed = json.loads(hogo("requesters", "list", "--json").stdout)
    assert [(r["org_code"], r["name"]) for r in listed] == [(REQUESTER, "見本市 税務課")]
    assert "org code is 16 digits" in one_line_error(
        hogo("requesters", "add", "123", "--name", "x")
    )


def test_bad_arguments_exit_2(hogo) -> None:
    assert hogo("flags", "set", "900000000000001").returncode == 2
    assert (
        hogo(
            "flags",
            "set",
            "900000000000001",
            "--name",
            "x",
            "--department",
            "税務課",
            "--basis",
            "whenever",
        ).returncode
        == 2
    )
    assert hogo("no-such-command").returncode == 2


def test_flags_set_show_release_with_history(hogo) -> None:
    res = hogo(
        "flags",
        "set",
        "900000000000001",
        "--name",
        "試験 花子",
        "--department",
        "子ども家庭課",
        "--business",
        "児童手当業務",
        "--basis",
        "application",
        "--until",
        "2027-03-31",
    )
    assert res.returncode == 0, res.stderr
    shown = json.loads(hogo("flags", "show", "900000000000001", "--json").stdout)
    assert shown["atena_number"] == "900000000000001"
    assert shown["auto_response_disabled"] is True and shown["non_disclosure"] is True
    [hold] = shown["holds"]
    assert hold["until"] == "2027-03-31" and hold["basis"] == "application"
    assert (
        hogo(
            "flags",
            "release",
            "900000000000001",
            "--basis",
            "application",
            "--note",
            "本人申出",
            "--only",
            "non_disclosure",
        ).returncode
        == 0
    )
    shown = json.loads(hogo("flags", "show", "900000000000001", "--json").stdout)
    assert shown["auto_response_disabled"] is True and shown["non_disclosure"] is False
    assert [h["action"] for h in shown["history"]] == ["set", "release"]
    assert shown["history"][0]["actor"].startswith("os:")
    # releasing on any basis but the person's application is not possible
    assert (
        hogo(
            "flags", "release", "900000000000001", "--basis", "ex-officio", "--note", "x"
        ).returncode
        == 2
    )


def test_flags_show_of_a_never_flagged_person(hogo) -> None:
    shown = json.loads(hogo("flags", "show", "900000000000002", "--json").stdout)
    assert shown == {
        "atena_number": "900000000000002",
        "auto_response_disabled": False,
        "non_disclosure": False,
        "departments": [],
        "holds": [],
        "history": [],
    }
    assert "15 digits" in one_line_error(hogo("flags", "show", "12345"))


def test_flags_release_of_an_unflagged_person_fails(hogo) -> None:
    assert "no flag set" in one_line_error(
        hogo("flags", "release", "900000000000003", "--basis", "application", "--note", "x")
    )


def test_flags_set_bad_date_is_a_one_line_error(hogo) -> None:
    one_line_error(
        hogo(
            "flags",
            "set",
            "900000000000004",
            "--name",
            "x",
            "--department",
            "税務課",
            "--basis",
            "application",
            "--until",
            "2027-02-30",
        )
    )


def test_directory_import_is_all_or_nothing_with_line_numbers(
    hogo, tmp_path: Path, redis_url: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "atena_number,subject_code\n900000000000001,SUBJ1\n12345,SUBJ2\n900000000000003,BAD-CODE\n"
    )
    res = hogo("directory", "import", str(bad))
    assert res.returncode == 1
    assert "line 3: atena_number must be 15 digits" in res.stderr
    assert "line 4: subject_code" in res.stderr
    import redis

    assert not [k for k in redis.Redis.from_url(redis_url).keys("*dir:*")]
    good = tmp_path / "good.csv"
    good.write_bytes(
        "atena_number,subject_code\r\n900000000000001,SUBJ1\r\n900000000000002,SUBJ2\r\n".encode(
            "cp932"
        )
    )
    res = hogo("directory", "import", str(good), "--json")
    assert json.loads(res.stdout)["imported"] == 2


def test_held_commands_on_unknown_ids_fail_cleanly(hogo) -> None:
    assert json.loads(hogo("held", "list", "--json").stdout) == []
    one_line_error(hogo("held", "refuse", "nope", "--reason", "x"))
    one_line_error(
        hogo("held", "release", "nope", "--notice", "x", "--upstream-url", "http://127.0.0.1:9/")
    )


def test_store_unreachable_is_a_one_line_error(tmp_path: Path) -> None:
    one_line_error(cli_runner(tmp_path, "redis://127.0.0.1:9/0")("requesters", "list"))
