"""The `hogo-gateway` command: serve, demo, and the operator's admin path on the server.

Exit status 0 on success, 2 on bad arguments, 1 otherwise with a one-line error on stderr.
Every action is recorded with the operating-system user who ran it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.context import Gateway, open_gateway
from gateway.settings import Settings

Handler = Callable[[argparse.Namespace, Gateway], Awaitable[Any]]


class CommandError(Exception):
    """A failure to report in one line (exit 1)."""


def os_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"os:{user}@{socket.gethostname()}"


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        redis_url=getattr(args, "redis_url", None),
        upstream_url=getattr(args, "upstream_url", None),
        **extra,
    )


@contextlib.asynccontextmanager
async def opened(args: argparse.Namespace) -> AsyncIterator[Gateway]:
    """The store for one command: --redis-url, or the data dir's embedded one (started if need be)."""
    from gateway.embedded import EmbeddedRedis

    settings = settings_from(args, store_timeout=10.0)
    embedded = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir, owner="command")
        url = embedded.running_url()
        if url is None:
            url = await asyncio.to_thread(embedded.start)
        else:
            embedded = None
    gw = await open_gateway(settings, url)
    try:
        yield gw
    finally:
        await gw.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def emit(args: argparse.Namespace, data: object, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(text)


# -- requesters -------------------------------------------------------------------------------
async def cmd_requesters_add(args: argparse.Namespace, gw: Gateway) -> None:
    try:
        req = await gw.requesters.add(args.org_code, args.name, os_actor())
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    emit(args, req.as_json(), f"requester {req.org_code} registered ({req.name})")


async def cmd_requesters_list(args: argparse.Namespace, gw: Gateway) -> None:
    reqs = await gw.requesters.all()
    emit(
        args,
        [r.as_json() for r in reqs],
        "\n".join(f"{r.org_code}  {r.name}" for r in reqs) or "(none)",
    )


async def cmd_requesters_remove(args: argparse.Namespace, gw: Gateway) -> None:
    if not await gw.requesters.remove(args.org_code, os_actor()):
        raise CommandError(f"requester {args.org_code} is not registered")
    emit(args, {"removed": args.org_code}, f"requester {args.org_code} removed")


# -- directory --------------------------------------------------------------------------------
async def cmd_directory_import(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.csvfiles import CsvError, read_rows
    from gateway.store.directory import validate_pair

    try:
        rows, encoding = read_rows(Path(args.file), ("atena_number", "subject_code"))
    except (CsvError, OSError) as exc:
        raise CommandError(str(exc)) from None
    errors = [
        f"line {line}: {why}"
        for line, row in rows
        if (why := validate_pair(row["atena_number"], row["subject_code"]))
    ]
    if errors:
        for e in errors[:50]:
            print(e, file=sys.stderr)
        raise CommandError(f"{len(errors)} bad rows; nothing imported")
    count = await gw.directory.put_many(
        ((r["atena_number"], r["subject_code"]) for _, r in rows), os_actor()
    )
    emit(
        args,
        {"imported": count, "encoding": encoding},
        f"{count} directory entries imported ({encoding})",
    )


# -- flags ------------------------------------------------------------------------------------
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
        )
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
        f"  department: {r.department}  business: {r.business}  basis: {r.basis}",
        f"  until: {r.until or '-'}  updated {r.updated_at} by {r.updated_by} (version {r.version})",
    ]
    for h in r.history:
        lines.append(
            f"    {h.get('at')}  {h.get('action')}  ard={h.get('ard')} nd={h.get('nd')}  "
            f"basis={h.get('basis', '')}  by {h.get('actor')}"
        )
    return "\n".join(lines)


# -- held queries -----------------------------------------------------------------------------
async def cmd_held_list(args: argparse.Namespace, gw: Gateway) -> None:
    held = await gw.queries.list_held(only_waiting=args.waiting)
    rows = [h.as_json() for h in held]
    text = "\n".join(
        f"{h.id}  {h.state.value:<8}  held {h.held_at}  {h.requester_org_code}  pn={h.processing_number}  "
        f"{h.affair_code} {h.procedure_code} {h.item_code}  reason={h.reason}"
        for h in held
    )
    emit(args, rows, text or "(no held queries)")


async def cmd_held_show(args: argparse.Namespace, gw: Gateway) -> None:
    held = await gw.queries.get(args.id)
    if held is None:
        raise CommandError(f"no query {args.id}")
    emit(args, held.as_json(), "\n".join(f"{k}: {v}" for k, v in held.as_json().items()))


async def cmd_held_release(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.lifecycle import IllegalTransition
    from gateway.soap.faults import SoapFault
    from gateway.store.queries import QueryBusy

    try:
        held = await gw.queue.release(args.id, args.notice, os_actor())
    except IllegalTransition as exc:
        raise CommandError(f"query {args.id} is no longer held ({exc})") from None
    except QueryBusy:
        raise CommandError(f"query {args.id} is being released by someone else") from None
    except SoapFault as exc:
        raise CommandError(f"the upstream could not answer; nothing changed ({exc})") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    emit(args, held.as_json(), f"query {held.id} released with the handling notice")


async def cmd_held_refuse(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway.lifecycle import IllegalTransition
    from gateway.store.queries import QueryBusy

    try:
        held = await gw.queue.refuse(args.id, args.reason, os_actor())
    except IllegalTransition as exc:
        raise CommandError(f"query {args.id} is no longer held ({exc})") from None
    except QueryBusy:
        raise CommandError(f"query {args.id} is being released by someone else") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    emit(args, held.as_json(), f"query {held.id} refused")


# -- audit ------------------------------------------------------------------------------------
async def cmd_audit_verify(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import audit

    report = await audit.verify(gw, Path(args.file) if args.file else None)
    emit(args, report.as_json(), report.text())
    if not report.ok:
        raise SystemExit(1)


async def cmd_audit_export(args: argparse.Namespace, gw: Gateway) -> None:
    from gateway import audit

    count = await audit.export(gw, Path(args.file), since=args.since, until=args.until)
    emit(args, {"exported": count, "file": args.file}, f"{count} events written to {args.file}")


# -- the parser -------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser, top: bool) -> None:
    d = None if top else argparse.SUPPRESS
    p.add_argument(
        "--redis-url", default=d, help="Redis URL (HOGO_REDIS_URL); else the embedded store"
    )
    p.add_argument(
        "--data-dir", default=d, help="keys and embedded store (HOGO_DATA_DIR, default ./var)"
    )
    p.add_argument("--upstream-url", default=d, help="the upstream endpoint (HOGO_UPSTREAM_URL)")
    p.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="machine-readable output",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hogo-gateway", description=__doc__.splitlines()[0])
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(parent: Any, name: str, func: Any, help: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help, description=help)
        _common(p, top=False)
        p.set_defaults(func=func)
        return p

    from gateway import serve

    p = cmd(sub, "serve", serve.cmd_serve, "run the gateway")
    serve.add_serve_arguments(p)
    p.set_defaults(standalone=True)
    p = cmd(
        sub, "demo", serve.cmd_demo, "run everything with a simulated upstream and synthetic data"
    )
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(standalone=True)

    req = sub.add_parser("requesters", help="institutions allowed to query").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(req, "add", cmd_requesters_add, "register a requester")
    p.add_argument("org_code", metavar="ORG_CODE")
    p.add_argument("--name", required=True)
    cmd(req, "list", cmd_requesters_list, "list requesters")
    p = cmd(req, "remove", cmd_requesters_remove, "remove a requester")
    p.add_argument("org_code", metavar="ORG_CODE")

    dr = sub.add_parser("directory", help="atena number <-> subject code").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(
        dr, "import", cmd_directory_import, "import FILE.csv (header atena_number,subject_code)"
    )
    p.add_argument("file", metavar="FILE.csv")

    fl = sub.add_parser("flags", help="自動応答不可 / 不開示該当 flags").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(fl, "set", cmd_flags_set, "set flags for a person")
    p.add_argument("atena_number", metavar="ATENA_NUMBER")
    p.add_argument("--name", required=True)
    p.add_argument("--department", required=True)
    p.add_argument("--business")
    p.add_argument("--basis", required=True, choices=["application", "ex-officio"])
    p.add_argument("--until", metavar="YYYY-MM-DD")
    p.add_argument("--only", choices=["auto_response_disabled", "non_disclosure"])
    p = cmd(fl, "release", cmd_flags_release, "release flags (operator's admin path)")
    p.add_argument("atena_number", metavar="ATENA_NUMBER")
    p.add_argument("--basis", required=True, choices=["application"])
    p.add_argument("--note", required=True)
    p.add_argument("--only", choices=["auto_response_disabled", "non_disclosure"])
    p = cmd(fl, "show", cmd_flags_show, "show a person's flags and their history")
    p.add_argument("atena_number", metavar="ATENA_NUMBER")

    hd = sub.add_parser("held", help="the manual queue").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(hd, "list", cmd_held_list, "every held query, whatever its state")
    p.add_argument("--waiting", action="store_true", help="only those still waiting")
    p = cmd(hd, "show", cmd_held_show, "one held query")
    p.add_argument("id", metavar="ID")
    p = cmd(hd, "release", cmd_held_release, "release a held query with a handling notice")
    p.add_argument("id", metavar="ID")
    p.add_argument("--notice", required=True)
    p = cmd(hd, "refuse", cmd_held_refuse, "refuse a held query")
    p.add_argument("id", metavar="ID")
    p.add_argument("--reason", required=True)

    au = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(au, "verify", cmd_audit_verify, "verify the live trail or an export")
    p.add_argument("file", nargs="?", metavar="FILE")
    p = cmd(au, "export", cmd_audit_export, "export the trail as signed JSON Lines")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--since", metavar="TIME")
    p.add_argument("--until", metavar="TIME")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for `serve --workers` to repeat
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if getattr(args, "standalone", False):
            return int(args.func(args) or 0)

        async def run() -> None:
            async with opened(args) as gw:
                await args.func(args, gw)

        asyncio.run(run())
        return 0
    except CommandError as exc:
        print(f"hogo-gateway: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from gateway.store.redis import StoreUnavailable

        if isinstance(exc, StoreUnavailable):
            print(f"hogo-gateway: error: {exc}", file=sys.stderr)
        else:
            print(f"hogo-gateway: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
