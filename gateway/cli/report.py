"""`hogo-gateway report usage`: the yearly usage report for the privacy council, counts only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import Command, CommandError, one_line
from gateway.context import Gateway


async def cmd_report_usage(args: argparse.Namespace, gw: Gateway) -> None:
    """The council's document (HTML for print, the default), CSV or JSON, to --out or stdout."""
    from gateway import report_document
    from gateway.reports import usage

    with one_line(ValueError):
        report = await usage(gw, args.year, fiscal=not args.calendar)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        text = json.dumps(report.as_json(), ensure_ascii=False, indent=2) + "\n"
    elif fmt == "csv":
        text = report_document.csv_text(report)
    else:
        text = report_document.html(report, gw.clock.now())
    if args.out is None:
        sys.stdout.write(text)
        return
    try:
        # newline="": the CSV's CRLF stays as written
        args.out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"{fmt} report {report.start} – {report.end} written to {args.out}", file=sys.stderr)


def add_commands(sub: Any, cmd: Command) -> None:
    rp = sub.add_parser("report", help="reports for the privacy council").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(
        rp,
        "usage",
        cmd_report_usage,
        "the yearly usage report, counts only (no personal data): a printable A4 document in "
        "Japanese by default",
    )
    p.add_argument(
        "--year", type=int, required=True, help="the fiscal year 年度 that begins in April of it"
    )
    period = p.add_mutually_exclusive_group()
    period.add_argument(
        "--calendar", action="store_true", help="the calendar year (January-December) instead"
    )
    period.add_argument(
        "--fiscal", action="store_true", help="the fiscal year 年度 (the default; kept for scripts)"
    )
    p.add_argument(
        "--format",
        choices=["html", "csv", "json"],
        default="html",
        help="html: A4 document for print (default); csv: for spreadsheets; json: for programs "
        "(as --json)",
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
