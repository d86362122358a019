"""`hogo-gateway reviews ...`: the reviews of every reason (remaps, and what the flag state check
found), listed and confirmed by someone other than who opened them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.cli.common import Command, CommandError, emit, os_actor
from gateway.context import Gateway
from gateway.model import HoldReason


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
    review = await confirm(args, gw, "review", "opened")
    emit(args, review.as_json(), f"review {review.id} confirmed: it holds no query any more")


async def confirm(
    args: argparse.Namespace,
    gw: Gateway,
    noun: str,
    made: str,
    reason: HoldReason | None = None,
) -> Any:
    """Confirm review `args.id` (of `reason` only, if given) as the operator, its refusal worded
    once for every kind: `noun` names what it is ("review", "remap"), `made` how it came
    ("opened", "imported")."""
    from gateway.quarantine import Quarantines, ReviewRefused

    try:
        return await Quarantines.of(gw).confirm(args.id, os_actor(), args.note, reason)
    except ReviewRefused as exc:
        if exc.code == "still_differs":
            print(f"still differs: {exc.state}", file=sys.stderr)
        raise CommandError(
            {
                "unknown": f"no {noun} {args.id}",
                "not_open": f"{noun} {args.id} is {exc.state} already",
                "same_person": f"{noun} {args.id} was {made} by you ({os_actor()}): someone "
                "else confirms it",
                "still_differs": f"{noun} {args.id}: the state still differs from the trail; "
                "put it right through the flag commands (or a directory import) first",
            }[exc.code]
        ) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def add_commands(sub: Any, cmd: Command) -> None:
    rv = sub.add_parser(
        "reviews", help="subjects and persons held for review, of every reason"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    p = cmd(rv, "list", cmd_reviews_list, "reviews waiting for confirmation")
    p.add_argument("--all", action="store_true", help="confirmed ones too")
    p.add_argument("--reason", choices=[r.value for r in HoldReason], help="of this reason only")
    p = cmd(rv, "confirm", cmd_reviews_confirm, "confirm a review: what it held, it holds no more")
    p.add_argument("id", metavar="ID")
    p.add_argument("--note", required=True, help="what was checked, with whom (kept sealed)")
