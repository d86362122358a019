"""`hogo-gateway flags ...`: the operator's commands for the flags (set, release, show, upgrade,
due, import, reconcile) and the flag state check (verify, repair).

Exit status as everywhere: 0 success, 2 bad arguments, 1 failure with one line on stderr; and
`flags reconcile` exits 3 when someone protected at the source is not (fully) flagged here.
The operator is the admin path: `flags show` and `flags set` show every department's hold.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from gateway.cli.common import Command, CommandError, emit, one_line, os_actor, print_errors
from gateway.context import Gateway
from gateway.orders import FlagOrder, ReleaseOrder

RECONCILE_URGENT_EXIT = 3
USAGE_EXIT = 2
SETTLE_SECONDS = 5.0  # seal what waits first, so that the check compares with a sealed trail


# -- flags ----------------------------------------------------------------------------------------
def _only(args: argparse.Namespace) -> tuple[bool, bool]:
    only = getattr(args, "only", None)
    return (only in (None, "auto_response_disabled"), only in (None, "non_disclosure"))


async def cmd_flags_set(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import flags

    ard, nd = _only(args)
    order = FlagOrder(
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
    await _change(args, flags.set_flags(gw, order))


async def cmd_flags_release(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import flags

    ard, nd = _only(args)
    order = ReleaseOrder(
        atena_number=args.atena_number,
        basis=args.basis,
        note=args.note,
        auto_response_disabled=ard,
        non_disclosure=nd,
        actor=os_actor(),
        department=args.department,
    )
    await _change(args, flags.release_flags(gw, order))


async def _change(args: argparse.Namespace, change: Awaitable[Any]) -> None:
    """A set or a release carried out: its refusal as the command's one-line error (a missing
    --department where several departments hold the person as a usage error), or the record."""
    from gateway import flags

    try:
        record = await change
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

    with one_line(ValueError):
        flags.check_atena_number(args.atena_number)
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

    with one_line(ValueError):
        items = await flags.read_due(
            gw, actor=os_actor(), within_days=args.within, department=args.department
        )
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


# -- the check (the same the serving gateway runs every minute) ---------------------------------
async def cmd_flags_verify(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.audit.sealer import Sealer
    from gateway.verify.check import Verifier

    if not gw.settings.audit_enabled:
        raise CommandError(
            "the audit trail is off (HOGO_AUDIT_ENABLED=0): nothing to check against"
        )
    await Sealer(gw.trail, gw.keyring, gw.settings).settle(SETTLE_SECONDS)
    report = await Verifier(gw).run(whole_sweep=True)
    lines = [f"person {pk}: {', '.join(d.all())}" for pk, d in sorted(report.persons.items())]
    lines += [f"subject {sk}: {', '.join(c)}" for sk, c in sorted(report.subjects.items())]
    lines += [f"problem: {p}" for p in report.problems]
    summary = (
        f"{report.checked_persons} persons and {report.checked_subjects} remapped or flagged "
        f"persons' subjects compared with the trail up to seq {report.folded_to}; "
        f"{report.swept} directory entries swept"
    )
    if report.unsealed:
        summary += f" ({report.unsealed} without a MAC: import the whole directory once)"
    if report.missing_subjects:
        summary += (
            f"; {len(report.missing_subjects)} known subjects have no directory entry (held as "
            "unknown)"
        )
    if report.opened:
        summary += f"; reviews opened: {', '.join(report.opened)}"
    emit(args, report.as_json(), "\n".join([*lines, summary]))
    if not report.ok:
        raise CommandError(
            f"{len(report.persons)} persons and {len(report.subjects)} subjects differ from the "
            f"trail, {len(report.problems)} problems: every query about them is held until staff "
            "confirm (hogo-gateway reviews list)"
        )


async def cmd_flags_repair(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.flags import FlagRuleError, repair_aggregate

    with one_line(FlagRuleError):
        before, after = await repair_aggregate(gw, atena_number=args.atena_number, actor=os_actor())

    def text(s: Any) -> str:
        return f"自動応答不可={int(s.auto_response_disabled)} 不開示該当={int(s.non_disclosure)}"

    emit(
        args,
        {
            "before": {
                "auto_response_disabled": before.auto_response_disabled,
                "non_disclosure": before.non_disclosure,
            },
            "after": {
                "auto_response_disabled": after.auto_response_disabled,
                "non_disclosure": after.non_disclosure,
            },
        },
        f"the flags every decision reads, made again from the holds: {text(before)} -> "
        f"{text(after)}",
    )


# -- the parser -----------------------------------------------------------------------------------
def add_commands(sub: Any, cmd: Command) -> None:
    """`flags ...` under the top-level subparsers `sub`."""
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
    add_check_commands(fl, cmd)  # flags verify | repair


def add_check_commands(fl: Any, cmd: Command) -> None:
    """`flags verify` and `flags repair`, under the `flags` subparsers."""
    cmd(
        fl,
        "verify",
        cmd_flags_verify,
        "compare every person's flag state and the directory with the signed trail and the "
        "flag history now (exit 1 and a line per person or subject key that differs)",
    )
    p = cmd(
        fl,
        "repair",
        cmd_flags_repair,
        "make the flags every decision reads again from the department holds (after the check "
        "found them, or their counts, changed by hand)",
    )
    p.add_argument("atena_number", metavar="ATENA_NUMBER")
