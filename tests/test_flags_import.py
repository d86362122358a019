"""`flags import` (all or nothing, CP932 or UTF-8) and `flags reconcile` (changes nothing)."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import redis

from gateway.clock import SYSTEM_CLOCK
from gateway.flag_import import Progress
from tests.flag_support import cli_runner, one_line_error

HEADER_JA = "団体内統合宛名番号,氏名,保有課,登録業務,根拠,支援措置終了日,フラグ\r\n"


def _flag_keys(redis_url: str) -> list[str]:
    return list(redis.Redis.from_url(redis_url, decode_responses=True).keys("*flag:*"))


def test_import_of_a_cp932_export_with_japanese_headers(tmp_path: Path, redis_url: str) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    csv = tmp_path / "flags.csv"
    csv.write_bytes(
        (
            HEADER_JA
            + "900000000000301,試験　花子,子ども家庭課,児童手当業務,申出,2027/03/31,両方\r\n"
            + "900000000000302,見本 太郎,税務課,,職権,,自動応答不可\r\n"
            + "900000000000303,髙橋 﨑子,生活福祉課 保護担当課,生活保護受給世帯に対する法内援護,application,2027-01-15,non_disclosure\r\n"
        ).encode("cp932")
    )
    res = hogo("flags", "import", str(csv), "--progress", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"imported": 3, "new": 3, "updated": 0, "encoding": "cp932"}
    assert "100%" in res.stderr and "writing" in res.stderr  # the progress bar, on stderr

    shown = json.loads(hogo("flags", "show", "900000000000301", "--json").stdout)
    assert shown["name"] == "試験　花子" and shown["holds"][0]["until"] == "2027-03-31"
    assert shown["auto_response_disabled"] is True and shown["non_disclosure"] is True
    assert shown["holds"][0]["basis"] == "application" and shown["history"][0]["via"] == "import"
    shown = json.loads(hogo("flags", "show", "900000000000302", "--json").stdout)
    assert (shown["holds"][0]["business"], shown["holds"][0]["basis"]) == (
        "特別区民税・都民税",
        "ex-officio",
    )
    assert shown["auto_response_disabled"] is True and shown["non_disclosure"] is False
    shown = json.loads(hogo("flags", "show", "900000000000303", "--json").stdout)
    assert shown["name"] == "髙橋 﨑子"  # CP932's extensions (NEC/IBM) survive
    assert shown["auto_response_disabled"] is False and shown["non_disclosure"] is True

    # again, with a renewal: the same people are updated, and counted so
    csv.write_bytes(
        (
            HEADER_JA + "900000000000301,試験　花子,子ども家庭課,児童手当業務,申出,2028/03/31,\r\n"
        ).encode("cp932")
    )
    again = json.loads(hogo("flags", "import", str(csv), "--json").stdout)
    assert (again["new"], again["updated"]) == (0, 1)
    shown = json.loads(hogo("flags", "show", "900000000000301", "--json").stdout)
    assert shown["holds"][0]["until"] == "2028-03-31" and len(shown["history"]) == 2


def test_a_bad_row_imports_nothing_and_every_bad_line_is_named(
    tmp_path: Path, redis_url: str
) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    csv = tmp_path / "flags.csv"
    csv.write_text(
        "atena_number,name,department,business,basis,until,flags\n"
        "900000000000401,試験 一,税務課,,application,,\n"  # fine
        "90000000000040,試験 二,税務課,,application,,\n"  # line 3: 14 digits
        "900000000000403,試験 三,戸籍住民課,住民基本台帳,application,,\n"  # line 4: annex 2 only
        "900000000000404,試験 四,子ども家庭課,,application,,\n"  # line 5: which business?
        "900000000000405,試験 五,税務課,,whenever,,\n"  # line 6: basis
        "900000000000406,試験 六,税務課,,application,2027-02-30,\n"  # line 7: no such day
        "900000000000407,試験 七,税務課,,application,,everything\n"  # line 8: flags
        "900000000000401,試験 一,税務課,,application,,\n"  # line 9: twice
        "900000000000409,,税務課,,application,,\n",  # line 10: no name
        encoding="utf-8",
    )
    res = hogo("flags", "import", str(csv))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-1] == "hogo-gateway: error: 8 bad rows; nothing imported"
    assert [ln.split(":")[0] for ln in lines[:-1]] == [f"line {n}" for n in range(3, 11)]
    assert "15 digits" in lines[0] and "annex 1" in lines[1] and "児童扶養手当業務" in lines[2]
    assert "basis" in lines[3] and "date" in lines[4] and "flags" in lines[5]
    assert "already on line 2" in lines[6] and "name" in lines[7]
    assert _flag_keys(redis_url) == []


def test_import_header_errors_are_one_line(tmp_path: Path, redis_url: str) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    csv = tmp_path / "flags.csv"
    csv.write_text("atena_number,name\n900000000000501,x\n", encoding="utf-8")
    assert "department" in one_line_error(hogo("flags", "import", str(csv)))
    assert "basis" in one_line_error(hogo("flags", "import", str(csv)))
    csv.write_bytes(b"atena_number\n\x82\xff\n")  # neither UTF-8 nor CP932
    assert "UTF-8 nor CP932" in one_line_error(hogo("flags", "import", str(csv)))


def test_the_progress_bar_draws_only_where_asked() -> None:
    out = io.StringIO()
    bar = Progress(4, "checking", out, show=True)
    for n in range(1, 5):
        bar.update(n)
    bar.done("4 rows fine")
    assert "[" in out.getvalue() and " 50% 2/4" in out.getvalue() and "100% 4/4" in out.getvalue()
    quiet = io.StringIO()
    Progress(4, "checking", quiet).update(2)  # a StringIO is no terminal
    assert quiet.getvalue() == ""


def _set(hogo, atena: str, until: str | None, only: str | None = None) -> None:
    args = ["flags", "set", atena, "--name", f"名 {atena[-3:]}", "--department", "税務課"]
    args += ["--basis", "application"]
    if until:
        args += ["--until", until]
    if only:
        args += ["--only", only]
    res = hogo(*args)
    assert res.returncode == 0, res.stderr


def test_reconcile_names_both_directions_and_changes_nothing(
    tmp_path: Path, redis_url: str
) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    today = SYSTEM_CLOCK.today()  # (the command's own clock)
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    _set(hogo, "900000000000601", day(100))  # in agreement
    _set(hogo, "900000000000602", day(100))  # the export has another end date
    _set(hogo, "900000000000603", day(100), only="auto_response_disabled")  # half flagged
    _set(hogo, "900000000000604", None)  # flagged here only
    _set(hogo, "900000000000605", day(-5))  # ended there, still on here
    export = tmp_path / "support.csv"
    export.write_bytes(
        (
            "団体内統合宛名番号,氏名,支援措置終了日\r\n"
            f"900000000000601,名 601,{day(100)}\r\n"
            f"900000000000602,名 602,{day(200)}\r\n"
            f"900000000000603,名 603,{day(100)}\r\n"
            f"900000000000605,名 605,{day(-5)}\r\n"
            f"900000000000606,見本 未設定,{day(50)}\r\n"  # protected there, not flagged here
            f"900000000000607,見本 終了,{day(-1)}\r\n"  # ended there, not here: agreement
            "900000000000608,見本 無期限,\r\n"  # no end known there: in force
        ).encode("cp932")
    )
    versions_before = [
        json.loads(hogo("flags", "show", f"90000000000060{i}", "--json").stdout)["version"]
        for i in range(1, 6)
    ]
    res = hogo("flags", "reconcile", str(export), "--json")
    assert res.returncode == 3, res.stderr  # someone protected there is not flagged here
    report = json.loads(res.stdout)
    pick = lambda kind: [d["atena_number"] for d in report[kind]]  # noqa: E731
    assert pick("protected_not_flagged") == ["900000000000606", "900000000000608"]
    assert pick("protected_partly_flagged") == ["900000000000603"]
    assert pick("flagged_not_in_export") == ["900000000000604"]
    assert pick("ended_there_flagged_here") == ["900000000000605"]
    assert pick("until_differs") == ["900000000000602"]
    assert report["until_differs"][0]["until_there"] == day(200)
    assert report["until_differs"][0]["until_here"] == day(100)
    assert report["protected_not_flagged"][0]["name"] == "見本 未設定"
    assert report["flagged_not_in_export"][0]["name"] == "名 604"  # unsealed from the record
    assert (report["export_persons"], report["flagged_here"], report["urgent"]) == (7, 5, True)
    # nothing changed: no new person flagged, nobody's record touched
    assert json.loads(hogo("flags", "show", "900000000000606", "--json").stdout)["history"] == []
    assert [
        json.loads(hogo("flags", "show", f"90000000000060{i}", "--json").stdout)["version"]
        for i in range(1, 6)
    ] == versions_before
    text = hogo("flags", "reconcile", str(export))
    assert text.returncode == 3 and "protected there, NOT flagged here (2):" in text.stdout

    # once the differences that leave someone unprotected are settled, the exit status is 0
    _set(hogo, "900000000000606", day(50))
    _set(hogo, "900000000000608", None)
    _set(hogo, "900000000000603", day(100), only="non_disclosure")
    settled = hogo("flags", "reconcile", str(export), "--json")
    assert settled.returncode == 0, settled.stderr
    assert json.loads(settled.stdout)["counts"] == {
        "protected_not_flagged": 0,
        "protected_partly_flagged": 0,
        "flagged_not_in_export": 1,
        "ended_there_flagged_here": 1,
        "until_differs": 1,  # 602
    }


def test_reconcile_bad_rows_compare_nothing(tmp_path: Path, redis_url: str) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    export = tmp_path / "support.csv"
    export.write_text(
        "atena_number,until\n900000000000701,2027-01-01\n12345,\n900000000000703,tomorrow\n"
    )
    res = hogo("flags", "reconcile", str(export))
    assert res.returncode == 1
    assert res.stderr.splitlines()[:2] == [
        "line 3: atena_number must be 15 digits",
        "line 4: until must be a date YYYY-MM-DD, not 'tomorrow'",
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_import_reads_both_encodings_with_english_headers(
    tmp_path: Path, redis_url: str, encoding: str
) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)
    csv = tmp_path / "flags.csv"
    csv.write_bytes(
        (
            "atena_number,name,department,business,basis,until\n"
            f"900000000000801,試験 花子,障害者福祉課,障害福祉サービス,application,{date(2027, 5, 1)}\n"
        ).encode(encoding)
    )
    res = hogo("flags", "import", str(csv), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["encoding"] == ("utf-8" if encoding == "utf-8-sig" else "cp932")
    shown = json.loads(hogo("flags", "show", "900000000000801", "--json").stdout)
    assert shown["name"] == "試験 花子" and shown["departments"] == ["障害者福祉課"]
