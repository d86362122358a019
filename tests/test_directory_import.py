"""`directory import`: all rows or none, and a subject code never moved to another person silently.

A remap (a subject code the directory maps to another person) or a subject code twice in one file
refuses the whole file, with every line named; `--allow-remap` applies remaps and holds their
subjects for review (tests/test_quarantine.py). Two imports at once cannot both check and write.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
import redis

from gateway.directory_import import DirectoryImport, ImportInterrupted, pairs_rows
from gateway.store.directory import ImportBusy, split_value
from tests.conftest import Running
from tests.flag_support import events_of, flag
from tests.support import Cli, Query, cli_runner, hogo_process, one_line_error

HEADER = "atena_number,subject_code\n"
OPERATOR = "os:operator@ward-host"


@pytest.fixture
def hogo(running: Running, tmp_path: Path, redis_url: str) -> Cli:
    """The command line against the running gateway's store and keys."""
    return cli_runner(running.gw.settings.data_dir, redis_url)


def _csv(tmp_path: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{a},{s}\n" for a, s in rows), encoding="utf-8")
    return path


async def _person_of(running: Running, subject_code: str) -> str | None:
    keys = running.gw.redis.keys
    value = await running.gw.redis.client.get(
        keys.directory(running.gw.keyring.person_key("subject", subject_code))
    )
    return None if value is None else split_value(value)[0]


def _atena_key(running: Running, atena: str) -> str:
    return running.gw.keyring.person_key("atena", atena)


async def test_a_remap_of_a_flagged_persons_code_is_refused_whole(
    running: Running, hogo: Cli, tmp_path: Path
) -> None:
    """Import A -> s1, flag A, import B -> s1: refused whole with the line number; s1 stays A's,
    so a query on it is still held; no other row of that file is written either."""
    a, b = running.residents[0], running.residents[1]
    s1 = a.subject_code
    await flag(running.gw, a)
    bad = _csv(
        tmp_path,
        "moves.csv",
        [("910000000000001", "NEWCODE000001"), (b.atena_number, s1), ("910000000000002", "NEW2")],
    )
    res = hogo("directory", "import", str(bad))
    assert res.returncode == 1, res.stdout
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("line 3: subject_code is mapped to another person")
    assert "--allow-remap" in lines[0]
    assert lines[-1] == (
        "hogo-gateway: error: 1 rows refused (0 bad, 0 twice in the file, 1 remaps); "
        "nothing imported"
    )
    assert len(lines) == 2
    # nothing of the file was written: s1 is still A's, the new codes are unknown
    assert await _person_of(running, s1) == _atena_key(running, a.atena_number)
    assert await _person_of(running, "NEWCODE000001") is None
    assert await _person_of(running, "NEW2") is None
    ans = await running.submit(Query("DI-1", s1))
    assert ans.status == "PENDING"
    [held] = await running.gw.queries.list_held(only_waiting=True)
    assert held.reason == "auto_response_disabled"
    # recorded: the refusal, and (A is flagged) a security event
    [refused] = await events_of(running.gw, "directory.import_refused")
    assert (refused["remaps"], refused["protected"], refused["rows"]) == ("1", "1", "3")
    [attack] = await events_of(running.gw, "security.protected_subject_remap")
    assert (attack["outcome"], attack["remaps"], attack["import"]) == (
        "refused",
        "1",
        refused["import"],
    )
    assert "directory.remapped" not in {e.kind for e in await running.gw.events.read(count=5000)}


async def test_a_remap_of_unflagged_persons_is_refused_too(
    running: Running, hogo: Cli, tmp_path: Path
) -> None:
    """A subject code belongs to one person: any move is refused by default, flagged or not
    (a flag may be set on either person tomorrow). No security event: nobody protected."""
    a, b = running.residents[5], running.residents[6]
    res = hogo(
        "directory", "import", str(_csv(tmp_path, "m.csv", [(b.atena_number, a.subject_code)]))
    )
    assert res.returncode == 1
    assert res.stderr.startswith("line 2: subject_code is mapped to another person")
    assert await _person_of(running, a.subject_code) == _atena_key(running, a.atena_number)
    assert await events_of(running.gw, "security.protected_subject_remap") == []


async def test_a_subject_twice_in_one_file_is_refused_with_both_lines(
    running: Running, hogo: Cli, tmp_path: Path
) -> None:
    rows = [
        ("920000000000001", "DUPA"),  # line 2
        ("920000000000002", "DUPB"),  # line 3
        ("920000000000003", "DUPA"),  # line 4: DUPA to another person
        ("920000000000002", "DUPB"),  # line 5: DUPB again, to the same person
        ("92000000000000X", "BAD"),  # line 6: not 15 digits
        ("920000000000006", "FINE"),
    ]
    res = hogo("directory", "import", str(_csv(tmp_path, "dups.csv", rows)))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1
    assert lines[:3] == [
        "line 4: subject_code is already on line 2",
        "line 5: subject_code is already on line 3",
        "line 6: atena_number must be 15 digits",
    ]
    assert lines[3] == (
        "hogo-gateway: error: 3 rows refused (1 bad, 2 twice in the file); nothing imported"
    )
    for code in ("DUPA", "DUPB", "FINE"):
        assert await _person_of(running, code) is None


async def test_one_person_with_several_codes_is_imported_and_a_rerun_changes_nothing(
    running: Running, hogo: Cli, tmp_path: Path
) -> None:
    """Allowed: each code still resolves to that person, whose flags apply to every one."""
    atena = "930000000000001"
    path = _csv(tmp_path, "two.csv", [(atena, "TWOCODES1"), (atena, "TWOCODES2")])
    res = hogo("directory", "import", str(path), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["imported"], out["new"], out["unchanged"], out["remapped"]) == (2, 2, 0, 0)
    again = json.loads(hogo("directory", "import", str(path), "--json").stdout)
    assert (again["new"], again["unchanged"], again["remapped"]) == (0, 2, 0)
    key = _atena_key(running, atena)
    assert await _person_of(running, "TWOCODES1") == key == await _person_of(running, "TWOCODES2")
    imported = await events_of(running.gw, "directory.imported")
    assert (imported[-1]["count"], imported[-1]["unchanged"], imported[-1]["new"]) == (
        "2",
        "2",
        "0",
    )
    assert imported[-1]["remapped"] == "0" and imported[-1]["import"] == again["import"]


async def test_the_header_may_be_japanese_and_the_file_cp932(
    running: Running, hogo: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "ja.csv"
    path.write_bytes("団体内統合宛名番号,機関別符号\r\n940000000000001,JACODE1\r\n".encode("cp932"))
    res = hogo("directory", "import", str(path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("1 directory entries imported (cp932): 1 new")
    assert await _person_of(running, "JACODE1") == _atena_key(running, "940000000000001")
    bad = tmp_path / "bad.csv"
    bad.write_text("atena_number,code\n1,2\n", encoding="utf-8")
    assert "subject_code" in one_line_error(hogo("directory", "import", str(bad)))


async def test_an_import_while_another_holds_the_lock_is_refused(
    running: Running, hogo: Cli, tmp_path: Path
) -> None:
    token = await running.gw.directory.lock("feedc0de", OPERATOR, 10)
    res = hogo("directory", "import", str(_csv(tmp_path, "x.csv", [("950000000000001", "LK1")])))
    assert "another directory import (feedc0de, by os:operator@ward-host" in one_line_error(res)
    assert await _person_of(running, "LK1") is None
    await running.gw.directory.unlock(token)
    assert hogo("directory", "import", str(tmp_path / "x.csv")).returncode == 0


async def test_the_write_pass_writes_nothing_of_a_batch_the_store_changed_under(
    running: Running, redis_url: str
) -> None:
    """Past the check, each batch is written only if the store is still as the check found it;
    if not (the lock lapsed and someone else wrote), the import stops there and says exactly
    which lines were written."""
    gw = running.gw
    pairs = [(f"96000000000000{i}", f"WB{i}") for i in range(1, 7)]  # lines 2..7
    sync = redis.Redis.from_url(redis_url, decode_responses=True)
    passes = 0

    def rows():  # type: ignore[no-untyped-def]
        nonlocal passes
        passes += 1
        for n, (line, atena, subject) in enumerate(pairs_rows(pairs)()):
            if passes == 2 and n == 3:  # the second pass, past its first batch: someone writes
                sync.set(gw.redis.keys.directory(gw.keyring.person_key("subject", "WB5")), "x")
            yield line, atena, subject

    with pytest.raises(ImportInterrupted) as err:
        await DirectoryImport(gw.directory, gw.events, batch=3).run(rows, OPERATOR)
    message = str(err.value)
    assert "lines up to 4 written (3 rows: 3 new, 0 unchanged, 0 remapped" in message
    assert "lines 5-7 and the rest were not written" in message
    assert "line 6: the directory changed since the check" in message
    assert [await _person_of(running, f"WB{i}") is not None for i in range(1, 7)] == [
        True,
        True,
        True,
        False,
        True,
        False,
    ]  # fmt: skip  (WB5 is the other writer's)
    [event] = await events_of(gw, "security.directory_import_interrupted")
    assert (event["written"], event["through_line"], event["why"]) == ("3", "4", "BatchChanged")
    # the lock was given back: the same file again completes what is consistent
    assert (await gw.directory.lock("again", OPERATOR, 1)) != ""


async def test_concurrent_imports_cannot_both_write(running: Running) -> None:
    """Two imports of conflicting files at once, as tasks: one wins whole, the other is refused
    (the lock is taken, or its rows have become remaps); never a mix, never a silent remap."""
    gw = running.gw
    subjects = [f"RACE{i:04d}" for i in range(40)]
    first = [(f"97000000000{i:04d}", s) for i, s in enumerate(subjects)]
    second = [(f"98000000000{i:04d}", s) for i, s in enumerate(subjects)]
    outcomes = await asyncio.gather(
        DirectoryImport(gw.directory, gw.events, batch=7).run(pairs_rows(first), "os:one@h"),
        DirectoryImport(gw.directory, gw.events, batch=7).run(pairs_rows(second), "os:two@h"),
        return_exceptions=True,
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], ImportBusy | ValueError), lost
    winner = first if outcomes[0] is won[0] else second
    got = [await _person_of(running, s) for s in subjects]
    assert got == [_atena_key(running, a) for a, _ in winner]
    assert await gw.redis.client.zcard(gw.redis.keys.quarantine_all) == 0


def test_concurrent_import_processes_cannot_both_write(
    running: Running, tmp_path: Path, redis_url: str
) -> None:
    """The same with two real `hogo-gateway directory import` processes started together."""
    data_dir = running.gw.settings.data_dir
    subjects = [f"PROC{i:05d}" for i in range(3000)]
    files = []
    for n, prefix in enumerate(("97100000", "97200000")):
        files.append(
            _csv(tmp_path, f"p{n}.csv", [(f"{prefix}{i:07d}", s) for i, s in enumerate(subjects)])
        )
    procs = [
        hogo_process(
            "directory", "import", f, data_dir=data_dir, redis_url=redis_url,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for f in files
    ]  # fmt: skip
    outputs = [p.communicate(timeout=120) for p in procs]  # (read as they run: 3,000 lines)
    results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert "another directory import" in loser or "nothing imported" in loser, loser
    winner = next(n for n, (code, _, _) in enumerate(results) if code == 0)
    prefix = ("97100000", "97200000")[winner]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keyring, keys = running.gw.keyring, running.gw.redis.keys
    got = client.mget([keys.directory(keyring.person_key("subject", s)) for s in subjects])
    assert [split_value(v)[0] for v in got] == [
        keyring.person_key("atena", f"{prefix}{i:07d}") for i in range(len(subjects))
    ]


async def test_the_lock_lapses_for_an_import_that_stalled(running: Running) -> None:
    """A stalled import (kill -9 between batches) leaves no lock for ever: it lapses after its
    lease. Here the lease is cut short by hand to show the next import then runs."""
    gw = running.gw
    await gw.directory.lock("stalled", OPERATOR, 1)
    with pytest.raises(ImportBusy):
        await DirectoryImport(gw.directory, gw.events).run(pairs_rows([]), OPERATOR)
    await gw.redis.client.pexpire(gw.redis.keys.directory_import, 1)
    await asyncio.sleep(0.05)
    result = await DirectoryImport(gw.directory, gw.events).run(
        pairs_rows([("990000000000001", "AFTERSTALL")]), OPERATOR
    )
    assert (result.rows, result.new) == (1, 1)
