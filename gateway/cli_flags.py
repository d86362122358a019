"""The operator's commands for flags, departments and the council's report (`hogo-gateway flags
...`, `departments ...`, `report ...`), registered by `gateway.cli`.

Exit status as everywhere: 0 success, 2 bad arguments, 1 failure with one line on stderr; and
`flags reconcile` exits 3 when someone protected at the source is not (fully) flagged here.
The operator is the admin path: `flags show` and `flags set` show every department's hold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli import CommandError, emit, os_actor, print_errors
from gateway.context import Gateway

RECONCILE_URGENT_EXIT = 3
USAGE_EXIT = 2


# -- flags ----------------------------------------------------------------------------------------
def _only(args: argparse.Namespace) -> tuple[bool, bool]:
    only = getattr(args, "only", None)
    return (only in (None, "auto_response_disabled"), only in (None, "non_disclosure"))


async def cmd_flags_set(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import flags

    ard, nd = _only(args)
    try:
        record = await flags.set_flags(
            gw,
            atena_number=args.atena_number,
            name=args.name,
            department=args.department,
            business=args.business,
            basis=args.basis,
            until=args.until,
            auto_response_disabled=ard,
            non_disclosure=nd,
            actor=os_actor(),
            clear_until=args.no_until,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    emit(args, record.as_json(), _flag_text(record))


async def cmd_flags_release(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import flags

    ard, nd = _only(args)
    try:
        record = await flags.release_flags(
            gw,
            atena_number=args.atena_number,
            basis=args.basis,
            note=args.note,
            auto_response_disabled=ard,
            non_disclosure=nd,
            actor=os_actor(),
            department=args.department,
        )
    except flags.FlagRuleError as exc:
        if exc.reason == "several_departments":
            # the command needs one more argument, not another try: a usage error
            print(f"hogo-gateway: error: {exc}", file=sys.stderr)
            raise SystemExit(USAGE_EXIT) from None
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    emit(args, record.as_json(), _flag_text(record))


async def cmd_flags_show(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import flags

    try:
        flags.check_atena_number(args.atena_number)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    record = await gw.flags.get(args.atena_number, unseal=True)
    if record is None:
        data = {
            "atena_number": args.atena_number,
            "auto_response_disabled": False,
            "non_disclosure": False,
            "departments": [],
            "holds": [],
            "history": [],
        }
        emit(args, data, f"{args.atena_number}: no flags have ever been set")
        return
    record.atena_number = args.atena_number
    emit(args, record.as_json(), _flag_text(record))


def _flag_text(r: Any) -> str:
    onoff = {True: "ON", False: "off"}
    lines = [
        f"{r.atena_number}  {r.name or ''}",
        f"  自動応答不可 auto_response_disabled: {onoff[r.state.auto_response_disabled]}",
        f"  不開示該当 non_disclosure:          {onoff[r.state.non_disclosure]}",
        f"  updated {r.updated_at} (version {r.version}); held by: "
        + (", ".join(r.departments) or "no department now"),
    ]
    for h in r.holds:
        which = "+".join(
            f
            for f, on in (
                ("自動応答不可", h.state.auto_response_disabled),
                ("不開示該当", h.state.non_disclosure),
            )
            if on
        )
        lines.append(
            f"  hold of {h.department}: {which or 'released'}  {h.name or ''}  business: "
            f"{h.business}  basis: {h.basis}  until: {h.until or '-'}  set {h.set_at} by "
            f"{h.set_by}  (version {h.version})"
        )
    for h in r.history:
        extra = (
            f"  request {h['request']} asked by {h.get('requested_by')}" if h.get("request") else ""
        )
        hold = f"  hold ard={h['dept_ard']} nd={h['dept_nd']}" if "dept_ard" in h else ""
        lines.append(
            f"    {h.get('at')}  {h.get('action')}  ard={h.get('ard')} nd={h.get('nd')}{hold}  "
            f"basis={h.get('basis', '')}  {h.get('department', '')}  by {h.get('actor')}{extra}"
        )
    return "\n".join(lines)


async def cmd_flags_upgrade(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import flags

    upgraded, orphans = await flags.upgrade_records(gw, actor=os_actor())
    emit(
        args,
        {"upgraded": upgraded, "orphans": orphans},
        f"{upgraded} records turned into department holds (the same state; `flag.upgraded` "
        "events)"
        + (
            f"; {len(orphans)} could not be (no department): {', '.join(orphans)}"
            if orphans
            else ""
        ),
    )
    if orphans:
        raise CommandError(
            f"{len(orphans)} records have a flag on and no department: left as they are, protected"
        )


async def cmd_flags_due(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import flags

    try:
        items = await flags.read_due(
            gw, actor=os_actor(), within_days=args.within, department=args.department
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    text = "\n".join(
        f"{'OVERDUE' if i.overdue else 'due':<7}  {i.until}  "
        f"{i.days_left:>+5d} days  {i.atena_number}  {i.name}  {i.department}  {i.business}"
        for i in items
    )
    emit(
        args,
        [i.as_json() for i in items],
        text or f"(no support measure ends within {args.within} days, none overdue)",
    )


async def cmd_flags_import(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.csvfiles import CsvError
    from gateway.flag_import import ImportRefused, import_flags

    try:
        result = await import_flags(
            gw, Path(args.file), os_actor(), show=True if args.progress else None
        )
    except ImportRefused as exc:
        print_errors(exc.errors)
        raise CommandError(str(exc)) from None
    except (CsvError, OSError) as exc:
        raise CommandError(str(exc)) from None
    emit(
        args,
        result.as_json(),
        f"{result.rows} rows imported ({result.encoding}): {result.new} newly flagged, "
        f"{result.updated} already flagged and updated",
    )


async def cmd_flags_reconcile(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.csvfiles import CsvError
    from gateway.reconcile import ReconcileInputError, reconcile

    try:
        result = await reconcile(gw, Path(args.file), os_actor())
    except ReconcileInputError as exc:
        print_errors(exc.errors)
        raise CommandError(str(exc)) from None
    except (CsvError, OSError) as exc:
        raise CommandError(str(exc)) from None
    emit(args, result.as_json(), result.text())
    if result.urgent:
        raise SystemExit(RECONCILE_URGENT_EXIT)


# -- departments ----------------------------------------------------------------------------------
async def cmd_departments_list(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.departments import registrations

    rows = registrations()
    text = "\n".join(
        f"{'保有' if r.holding else '  '} {'利用' if r.using else '  '}  {r.department}  {r.business}"
        for r in rows
    )
    emit(args, [r.as_json() for r in rows], "保有=holding (annex 1)  利用=using (annex 2)\n" + text)


async def cmd_token_issue(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.departments import issue_token

    try:
        token, record = await issue_token(
            gw,
            department=args.department,
            business=args.business,
            label=args.label or "",
            actor=os_actor(),
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    emit(
        args,
        {**record.as_json(), "token": token},
        f"{token}\n(token {record.id} for {record.department} / {record.business}: "
        "shown this once, only its hash is kept)",
    )


async def cmd_token_list(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.departments import tokens

    found = await tokens(gw).all()
    text = "\n".join(
        f"{t.id}  {'active ' if t.active else 'REVOKED'}  {t.department}  {t.business}  "
        f"{t.label}  issued {t.issued_at} by {t.issued_by}"
        for t in found
    )
    emit(args, [t.as_json() for t in found], text or "(no tokens)")


async def cmd_token_revoke(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.departments import tokens

    record = await tokens(gw).revoke(args.token_id, os_actor())
    if record is None:
        raise CommandError(f"no token {args.token_id}")
    emit(args, record.as_json(), f"token {record.id} revoked ({record.revoked_at})")


# -- report ---------------------------------------------------------------------------------------
async def cmd_report_usage(args: argparse.Namespace, gw: Gateway) -> None:
    """The council's document (HTML for print, the default), CSV or JSON, to --out or stdout."""
    from gateway import report_document
    from gateway.reports import usage

    try:
        report = await usage(gw, args.year, fiscal=not args.calendar)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
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


# -- the parsers ----------------------------------------------------------------------------------
def add_commands(sub: Any, cmd: Any) -> None:
    """Register `flags`, `departments` and `report` under the top-level subparsers `sub`;
    `cmd(parent, name, func, help)` makes one command with the common options."""
    fl = sub.add_parser("flags", help="自動応答不可 / 不開示該当 flags").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(fl, "set", cmd_flags_set, "set flags for a person (holding departments, annex 1)")
    p.add_argument("atena_number", metavar="ATENA_NUMBER")
    p.add_argument("--name", required=True)
    p.add_argument("--department", required=True, help="a holding department (保有課) of annex 1")
    p.add_argument("--business", help="its registered business; may be left out if it has one")
    p.add_argument("--basis", required=True, choices=["application", "ex-officio"])
    until = p.add_mutually_exclusive_group()
    until.add_argument("--until", metavar="YYYY-MM-DD", help="end of the support measure")
    until.add_argument(
        "--no-until", action="store_true", help="forget the end date (else it is kept)"
    )
    p.add_argument("--only", choices=["auto_response_disabled", "non_disclosure"])
    p = cmd(
        fl,
        "release",
        cmd_flags_release,
        "release a department's flags at once (operator's admin path)",
    )
    p.add_argument("atena_number", metavar="ATENA_NUMBER")
    p.add_argument("--basis", required=True, choices=["application"])
    p.add_argument("--note", required=True)
    p.add_argument("--only", choices=["auto_response_disabled", "non_disclosure"])
    p.add_argument(
        "--department",
        help="the holding department whose hold to release (required where several hold flags)",
    )
    p = cmd(
        fl, "show", cmd_flags_show, "show a person's flags: every department's hold and history"
    )
    p.add_argument("atena_number", metavar="ATENA_NUMBER")
    cmd(
        fl,
        "upgrade",
        cmd_flags_upgrade,
        "turn flag records made before department holds into holds (the same state)",
    )
    p = cmd(fl, "due", cmd_flags_due, "support measures ending within N days, and overdue ones")
    p.add_argument("--within", type=int, default=30, metavar="N", help="days (default 30)")
    p.add_argument("--department", help="only this holding department's holds")
    p = cmd(fl, "import", cmd_flags_import, "set flags from FILE.csv, all rows or none")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument(
        "--progress", action="store_true", help="draw the progress bar even if not on a terminal"
    )
    p = cmd(
        fl,
        "reconcile",
        cmd_flags_reconcile,
        "compare a support-measure export with the flags here (changes nothing; exit 3: "
        "someone protected there is not fully flagged here)",
    )
    p.add_argument("file", metavar="FILE.csv")
    from gateway import cli_verify

    cli_verify.add_flag_commands(fl, cmd)  # flags verify | repair

    dp = sub.add_parser(
        "departments", help="holding and using departments, and their API tokens"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    cmd(dp, "list", cmd_departments_list, "the departments and businesses of annexes 1 and 2")
    tk = dp.add_parser("token", help="API tokens of the departments' business systems")
    tks = tk.add_subparsers(dest="token_action", required=True, metavar="ACTION")
    p = cmd(tks, "issue", cmd_token_issue, "issue a token (printed once)")
    p.add_argument("--department", required=True)
    p.add_argument("--business", help="may be left out where the department has one business")
    p.add_argument("--label", help="which business system holds it")
    cmd(tks, "list", cmd_token_list, "every token issued, active or revoked")
    p = cmd(tks, "revoke", cmd_token_revoke, "revoke a token at once")
    p.add_argument("token_id", metavar="TOKEN_ID")

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
