"""The directory's commands: `hogo-gateway directory import FILE.csv [--allow-remap]`, and the
remaps held for review: `directory remaps` and `directory confirm ID --note TEXT`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli.common import Command, CommandError, emit, os_actor, print_errors
from gateway.context import Gateway
from gateway.model import HoldReason


async def cmd_directory_import(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.csvfiles import CsvError
    from gateway.directory_import import (
        DirectoryImport,
        DirectoryRefused,
        ImportInterrupted,
        file_rows,
    )
    from gateway.errors import ImportBusy

    try:
        rows, encoding, total = file_rows(Path(args.file))
        result = await DirectoryImport(
            gw.directory, gw.events, show_progress=True if args.progress else None
        ).run(rows, os_actor(), allow_remap=args.allow_remap, encoding=encoding, total=total)
    except DirectoryRefused as exc:
        print_errors(exc.errors)
        raise CommandError(str(exc)) from None
    except (CsvError, OSError, ImportBusy, ImportInterrupted) as exc:
        raise CommandError(str(exc)) from None
    text = (
        f"{result.rows} directory entries imported ({encoding}): {result.new} new, "
        f"{result.unchanged} unchanged, {result.remapped} remapped"
    )
    if result.sealed:
        text += f"\n{result.sealed} unchanged entries given the MAC they lacked (sealed)"
    if result.reviews:
        text += (
            "\nevery query about a remapped subject is held until staff confirm the remap "
            "(console: 保留の確認, or `hogo-gateway directory confirm ID --note TEXT`):"
        )
        text += "".join(f"\n  line {line}: review {rid}" for line, rid in result.reviews)
    emit(args, result.as_json(), text)


async def cmd_directory_remaps(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.quarantine import Quarantines

    service = Quarantines.of(gw)
    reason = HoldReason.SUBJECT_REMAPPED
    reviews = await (service.every_review(reason) if args.all else service.open_reviews(reason))
    lines = [
        f"{r.id}  {r.state:<9}  {r.opened_at}  by {r.opened_by}  import {r.details.get('import')} "
        f"line {r.details.get('line')}  subject {r.key}  {r.details.get('old_person')} "
        f"({r.details.get('old_flag')}) -> {r.details.get('new_person')} "
        f"({r.details.get('new_flag')})"
        + (f"  confirmed {r.confirmed_at} by {r.confirmed_by}" if r.confirmed_by else "")
        for r in reviews
    ]
    emit(
        args,
        [r.as_json() for r in reviews],
        "\n".join(lines) or ("(no remaps)" if args.all else "(no remaps waiting)"),
    )


async def cmd_directory_confirm(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.cli.reviews import confirm

    review = await confirm(args, gw, "remap", "imported", HoldReason.SUBJECT_REMAPPED)
    emit(
        args,
        review.as_json(),
        f"remap {review.id} confirmed: queries about its subject are no longer held for it",
    )


def add_commands(sub: Any, cmd: Command) -> None:
    dr = sub.add_parser("directory", help="atena number <-> subject code").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(
        dr,
        "import",
        cmd_directory_import,
        "import FILE.csv (header atena_number,subject_code), all rows or none",
    )
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument(
        "--allow-remap",
        action="store_true",
        help="apply rows that map a subject code to another person than the directory has; "
        "every query about such a subject is then held until staff confirm the remap",
    )
    p.add_argument("--progress", action="store_true", help="draw progress on stderr")
    p = cmd(dr, "remaps", cmd_directory_remaps, "remapped subjects waiting for confirmation")
    p.add_argument("--all", action="store_true", help="confirmed remaps too")
    p = cmd(dr, "confirm", cmd_directory_confirm, "confirm a remap: its subject is held no more")
    p.add_argument("id", metavar="ID")
    p.add_argument("--note", required=True, help="what was checked, with whom (kept sealed)")
