"""The usage report as the council reads it: a printable A4 document in Japanese (HTML, with the
attempts per month drawn inline as SVG), or CSV for spreadsheets. Counts only, as
gateway.reports made them: no name, number or person key can be in it, since none is in the
report it renders.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import jinja2

from gateway.attempts import AttemptKind
from gateway.charts import BarChart, Series, bars
from gateway.reports import UsageReport
from gateway.wareki import JST, ward_date, wareki_year

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["ward_date"] = ward_date  # the console's filter: dates as the ward writes them

BASES = {"application": "申出", "ex-officio": "職権"}
ATTEMPTS = {
    AttemptKind.QUERY_HELD: "照会の保留（フラグ）",
    AttemptKind.PORTAL_BLOCKED: "ポータル表示のブロック・非表示",
    AttemptKind.ANSWER_WITHHELD: "保存済み回答の提供停止",
    AttemptKind.REMAP_REFUSED: "保護対象者の宛名付け替え（拒否・確認待ち）",
    AttemptKind.READ_REFUSED: "フラグ照会の拒否",
}
QUERIES = {
    "provided": "自動提供",
    "held": "保留（職員による判断へ）",
    "released": "職員が提供（取扱注意を付して）",
    "refused": "職員が提供を拒否",
}
PORTAL = {"blocked": "自己情報表示のブロック", "filtered": "情報提供等記録の非表示"}


def title(report: UsageReport) -> str:
    """令和8年度 … 利用状況報告 (a fiscal year), 令和8年 … (a calendar year)."""
    kind = "年度" if report.fiscal else "年"
    return f"{wareki_year(report.start.year)}{kind} 情報提供ゲートウェイ（保護）利用状況報告"


def attempts_chart(report: UsageReport) -> BarChart:
    rows = report.attempts_by_month()
    total = sum(int(r["total"]) for r in rows)  # type: ignore[call-overload]
    return BarChart(
        name="report-attempts",
        title="月別の試行件数",
        desc=(
            f"{report.start.isoformat()} から {report.end.isoformat()} までの試行は計 {total} 件。"
            + "、".join(f"{r['month']}: {r['total']} 件" for r in rows)
        ),
        categories=[str(r["month"]) for r in rows],
        labels=[f"{int(str(r['month'])[5:])}月" for r in rows],
        series=[
            Series(k.value, ATTEMPTS[k], [int(r[k.value]) for r in rows])  # type: ignore[call-overload]
            for k in AttemptKind
        ],
        unit="件",
    )


def html(report: UsageReport, made_at: datetime) -> str:
    data = report.as_json()
    return _env.get_template("usage_report.html").render(
        r=report,
        j=data,
        title=title(report),
        made_at=made_at.astimezone(JST),
        bases=BASES,
        attempt_names=ATTEMPTS,
        query_names=QUERIES,
        portal_names=PORTAL,
        kinds=list(AttemptKind),
        chart=bars(attempts_chart(report), width=680, height=250),
    )


def csv_text(report: UsageReport) -> str:
    """One row per number: section, item, detail, count; UTF-8 with BOM (spreadsheet software
    reads Japanese right only with it). Cells are the gateway's own names and counts."""
    j = report.as_json()
    buf = io.StringIO()
    out = _SafeWriter(csv.writer(buf, lineterminator="\r\n"))
    out.writerow(["区分", "項目", "内訳", "件数"])
    out.writerow(["期間", report.start.isoformat(), report.end.isoformat(), ""])
    out.writerow(["期間の種別", "年度" if report.fiscal else "暦年", "Asia/Tokyo", ""])
    for section, key in (("フラグ設定", "flags_set"), ("フラグ解除", "flags_released")):
        part = j[key]
        assert isinstance(part, dict)
        for row in part["by_department_and_basis"]:
            out.writerow(
                [section, row["department"], BASES.get(row["basis"], row["basis"]), row["count"]]
            )
        out.writerow([section, "合計", "", part["total"]])
    released = j["flags_released"]
    assert isinstance(released, dict)
    out.writerow(["フラグ解除", "二人の職員による解除", "", released["two_person"]])
    out.writerow(["フラグ解除", "運用者の管理経路", "", released["admin_path"]])
    reads = j["reads"]
    assert isinstance(reads, dict)
    for row in reads["by_department_and_business"]:
        out.writerow(["利用課の照会", row["department"], row["business"], row["count"]])
    out.writerow(["利用課の照会", "合計", "", reads["total"]])
    out.writerow(["利用課の照会", "拒否", "", reads["refused"]])
    out.writerow(["利用課の照会", "更新期限一覧", "", reads["renewal_lists"]])
    for key, name in QUERIES.items():
        out.writerow(["照会の処理", name, key, report.queries[key]])
    for key, name in PORTAL.items():
        out.writerow(["マイナポータル", name, key, report.portal[key]])
    for row in report.attempts_by_month():
        for k in AttemptKind:
            out.writerow(["月別の試行", row["month"], ATTEMPTS[k], row[k.value]])
    return "\ufeff" + buf.getvalue()


class _SafeWriter:
    """Spreadsheets run a cell starting with = + - @ as a formula (CSV injection): such a text
    cell (a business name as an operator typed it) is quoted, as the auditors' export does."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def writerow(self, row: list[object]) -> None:
        self.writer.writerow(
            [
                "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
                for v in row
            ]
        )
