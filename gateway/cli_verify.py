"""The check's commands: `flags verify` (the same check the gateway runs every minute, once now),
`flags repair` (the aggregate made again from the holds), and the reviews of every reason
(`reviews list`, `reviews confirm`): remaps, and what the check found."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.cli import CommandError, emit, os_actor
from gateway.context import Gateway
from gateway.model import HoldReason

SETTLE_SECONDS = 5.0  # seal what waits first, so that the check compares with a sealed trail


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

    try:
        before, after = await repair_aggregate(gw, atena_number=args.atena_number, actor=os_actor())
    except FlagRuleError as exc:
        raise CommandError(str(exc)) from None

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


async def cmd_reviews_list(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.quarantine import Quarantines

    service = Quarantines.of(gw)
    reason = HoldReason(args.reason) if args.reason else None
    reviews = await (service.every_review(reason) if args.all else service.open_reviews(reason))
    lines = [
        f"{r.id}  {r.state:<9}  {r.opened_at}  {r.reason}  {r.scope} {r.key}  by {r.opened_by}"
        + (f"  found {r.details['found']}" if r.details.get("found") else "")
        + (f"  confirmed {r.confirmed_at} by {r.confirmed_by}" if r.confirmed_by else "")
        for r in reviews
    ]
    emit(args, [r.as_json() for r in reviews], "\n".join(lines) or "(none)")


async def cmd_reviews_confirm(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.quarantine import Quarantines, ReviewRefused

    try:
        review = await Quarantines.of(gw).confirm(args.id, os_actor(), args.note)
    except ReviewRefused as exc:
        if exc.code == "still_differs":
            print(f"still differs: {exc.state}", file=sys.stderr)
        raise CommandError(
            {
                "unknown": f"no review {args.id}",
                "not_open": f"review {args.id} is {exc.state} already",
                "same_person": f"review {args.id} was opened by you ({os_actor()}): someone "
                "else confirms it",
                "still_differs": f"review {args.id}: the state still differs from the trail; "
                "put it right through the flag commands (or a directory import) first",
            }[exc.code]
        ) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    emit(args, review.as_json(), f"review {review.id} confirmed: it holds no query any more")


def add_flag_commands(fl: Any, cmd: Any) -> None:
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


def add_commands(sub: Any, cmd: Any) -> None:
    rv = sub.add_parser(
        "reviews", help="subjects and persons held for review, of every reason"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    p = cmd(rv, "list", cmd_reviews_list, "reviews waiting for confirmation")
    p.add_argument("--all", action="store_true", help="confirmed ones too")
    p.add_argument("--reason", choices=[r.value for r in HoldReason], help="of this reason only")
    p = cmd(rv, "confirm", cmd_reviews_confirm, "confirm a review: what it held, it holds no more")
    p.add_argument("id", metavar="ID")
    p.add_argument("--note", required=True, help="what was checked, with whom (kept sealed)")
