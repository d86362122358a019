"""`hogo-gateway audit ...`: export, verify (live, and offline with only the public keys), pubkey,
and a signing key rotation between; exit 0 when whole, 1 with a one-line error when not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import REQUESTER, cli_runner


@pytest.fixture
def hogo(tmp_path: Path, redis_url: str):
    data = tmp_path / "data"

    def run(
        *args: str, redis: str = redis_url, data_dir: Path = data
    ) -> subprocess.CompletedProcess[str]:
        return cli_runner(data_dir, redis)(*args)

    return run


def _flag(hogo, atena: str) -> None:
    res = hogo(
        "flags", "set", atena, "--name", "試験 花子", "--department", "子ども家庭課",
        "--business", "児童手当業務", "--basis", "application",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr


def test_export_then_verify_offline_with_only_the_public_keys(hogo, tmp_path: Path) -> None:
    assert hogo("requesters", "add", REQUESTER, "--name", "見本市").returncode == 0
    for i in range(3):
        _flag(hogo, f"90000000000000{i}")
    out = tmp_path / "trail.jsonl"
    res = hogo("audit", "export", str(out), "--json")
    assert res.returncode == 0, res.stderr
    kinds = [json.loads(x)["kind"] for x in out.read_text().splitlines()[1:-1]]
    assert kinds.count("flag.set") == 3 and "requester.added" in kinds
    assert json.loads(res.stdout)["exported"] == len(kinds)
    keys = tmp_path / "pubkeys.json"
    res = hogo("audit", "pubkey", "--out", str(keys))
    assert res.returncode == 0, res.stderr
    doc = json.loads(keys.read_text())
    assert [k["version"] for k in doc["keys"]] == [1] and "PRIVATE" not in keys.read_text()

    # the auditor's machine: no store, no data dir, only the export and the public keys
    offline = {"redis": "redis://127.0.0.1:1/0", "data_dir": tmp_path / "nowhere"}
    res = hogo("audit", "verify", str(out), "--pubkeys", str(keys), "--json", **offline)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] is True and report["events"] == len(kinds) and report["problem"] is None
    assert not (tmp_path / "nowhere").exists()  # nothing was created on the auditor's side

    lines = out.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if "子ども家庭課" in line)
    seq = json.loads(lines[n])["seq"]
    lines[n] = lines[n].replace("子ども家庭課", "税務課")
    out.write_text("\n".join(lines) + "\n")
    res = hogo("audit", "verify", str(out), "--pubkeys", str(keys), **offline)
    assert res.returncode == 1
    assert res.stderr.strip() == f"hogo-gateway: error: audit trail broken at seq {seq}: changed"
    assert f"BROKEN at event seq {seq}" in res.stdout


def test_verify_of_the_live_trail_and_a_key_rotation(hogo) -> None:
    _flag(hogo, "900000000000001")
    assert hogo("audit", "verify").returncode == 0  # seals what waits, with key version 1
    res = hogo("keys", "rotate", "signing")
    assert res.returncode == 0 and "ed25519-2.pem" in res.stdout, res.stderr
    _flag(hogo, "900000000000002")
    res = hogo("audit", "verify", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] and report["keys"] == [1, 2] and report["unsealed"] == 0
    res = hogo("audit", "verify")
    events = report["events"]
    assert res.returncode == 0 and res.stdout.startswith(f"audit trail whole: {events} events")


def test_bad_arguments_are_one_line_errors(hogo, tmp_path: Path) -> None:
    res = hogo("audit", "export", str(tmp_path / "x.jsonl"), "--since", "last tuesday")
    assert res.returncode == 1 and res.stderr.startswith("hogo-gateway: error: not an ISO 8601")
    res = hogo("audit", "verify", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 1 and "no such file" in res.stderr
    res = hogo("audit", "verify", "--pubkeys", str(tmp_path / "missing.json"), "x")
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
    assert hogo("audit", "export").returncode == 2


def test_export_of_a_trail_that_does_not_verify_is_refused_with_a_one_line_error(
    hogo, tmp_path: Path, redis_url: str
) -> None:
    import redis

    from gateway.audit.record import canonical, digest

    for i in range(3):
        _flag(hogo, f"90000000000000{i}")
    assert hogo("audit", "verify").returncode == 0  # sealed: one block, signed on its last event
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entry_id, fields = client.xrange("{hogo}:trail", "-", "+")[1]
    event = json.loads(fields["e"])
    assert "sig" not in event  # in mid-block: only the chain and the block's signature cover it
    event["reason"] = "altered"
    event["hash"] = digest(event)  # re-hashed, as someone with write access to Redis could
    pipe = client.pipeline()
    rows = client.xrange("{hogo}:trail", "-", "+")
    pipe.delete("{hogo}:trail")
    for rid, f in rows:
        pipe.xadd(
            "{hogo}:trail", {"e": canonical(event).decode() if rid == entry_id else f["e"]}, id=rid
        )
    pipe.execute()
    out = tmp_path / "trail.jsonl"
    res = hogo("audit", "export", str(out))
    assert res.returncode == 1 and not out.exists() and not Path(f"{out}.part").exists()
    assert len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith(
        f"hogo-gateway: error: audit trail broken at seq {event['seq']}: changed"
    )
    res = hogo("audit", "verify")
    assert res.returncode == 1
    assert (
        res.stderr.strip()
        == f"hogo-gateway: error: audit trail broken at seq {event['seq']}: changed"
    )
