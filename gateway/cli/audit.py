"""`hogo-gateway audit ...`: the signed trail verified (live, or exports and archive files offline
with the public keys alone), exported, and its public keys written for the auditors."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import (
    Command,
    CommandError,
    emit,
    one_line,
    opened,
    os_actor,
    settings_from,
)
from gateway.context import Gateway

SETTLE_SECONDS = 5.0  # how long export/verify wait for events appended just before to be sealed


def _public_keys(args: argparse.Namespace) -> dict[int, Any]:
    from gateway.audit import pubkeys

    with one_line(pubkeys.PubkeyError):
        if args.pubkeys:
            return pubkeys.load(Path(args.pubkeys))
        return pubkeys.from_keys_dir(settings_from(args).keys_dir)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Files (exports, archive files) offline with the public keys alone; else the live trail."""
    from gateway.audit.files import verify_files

    keys = _public_keys(args)
    if args.files:
        paths = [Path(f) for f in args.files]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        report = verify_files(paths, keys)
    else:
        report = asyncio.run(_verify_live(args, keys))
    emit(args, report.as_json(), report.text())
    if report.problem is not None:
        p = report.problem
        print(f"hogo-gateway: error: audit trail broken at seq {p.seq}: {p.what}", file=sys.stderr)
        return 1
    return 0


async def _verify_live(args: argparse.Namespace, keys: dict[int, Any]) -> Any:
    from gateway.audit.archive import Archive
    from gateway.audit.live import verify_live
    from gateway.audit.sealer import Sealer

    async with opened(args) as gw:
        await Sealer(gw.trail, gw.keyring, gw.settings).settle(SETTLE_SECONDS)
        return await verify_live(Archive(gw.settings.audit_dir), gw.trail, keys)


async def cmd_audit_export(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.audit.archive import Archive
    from gateway.audit.live import ExportRefused, export, parse_time
    from gateway.audit.sealer import Sealer

    with one_line(ValueError):
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    await Sealer(gw.trail, gw.keyring, gw.settings).settle(SETTLE_SECONDS)
    try:
        done = await export(
            Archive(gw.settings.audit_dir),
            gw.trail,
            gw.keyring.signing_key,
            Path(args.file),
            pubkeys={v: k.public for v, k in gw.keyring.signing_keys().items()},
            since=since,
            until=until,
            exported_by=os_actor(),
        )
    except OSError as exc:
        raise CommandError(f"{args.file}: {exc.strerror or exc}") from None
    except ExportRefused as exc:
        p = exc.problem
        raise CommandError(
            f"audit trail broken at seq {p.seq}: {p.what} ({p.where}: {p.detail}); nothing "
            "exported, since an export signs what it holds (`audit verify` shows the trail)"
        ) from None
    span = f"seq {done.first_seq}..{done.last_seq}" if done.count else "no events in range"
    emit(
        args,
        {
            "exported": done.count,
            "file": args.file,
            "first_seq": done.first_seq,
            "last_seq": done.last_seq,
            "head_seq": done.head_seq,
        },
        f"{done.count} events ({span}) written to {args.file}",
    )


def cmd_audit_pubkey(args: argparse.Namespace) -> int:
    """The public keys of every signing key version, for the auditors."""
    from gateway.audit import pubkeys

    keys = _public_keys(argparse.Namespace(**{**vars(args), "pubkeys": None}))
    doc = pubkeys.document(keys)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if not args.out:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{args.out}: {exc.strerror or exc}") from None
    summary = ", ".join(f"{k['version']} ({k['sha256'][:16]}…)" for k in doc["keys"])  # type: ignore[index,union-attr]
    emit(args, doc, f"public keys {summary} written to {args.out}")
    return 0


def add_commands(sub: Any, cmd: Command) -> None:
    au = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(
        au,
        "verify",
        cmd_audit_verify,
        "verify the live trail, or exports / archive files offline: signatures, chain, sequence",
    )
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument(
        "--pubkeys", metavar="FILE", help="public keys file (default: the data dir's keys)"
    )
    p.set_defaults(standalone=True)
    p = cmd(au, "export", cmd_audit_export, "export the trail as signed JSON Lines")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--since", metavar="TIME", help="ISO 8601; from this moment on (inclusive)")
    p.add_argument("--until", metavar="TIME", help="ISO 8601; before this moment (exclusive)")
    p = cmd(au, "pubkey", cmd_audit_pubkey, "write the public keys of every signing key version")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(standalone=True)
