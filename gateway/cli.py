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
import os
import pwd
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.context import Gateway, open_gateway
from gateway.settings import Settings, SettingsError, environment_variables, unknown_environment

Handler = Callable[[argparse.Namespace, Gateway], Awaitable[Any]]


class CommandError(Exception):
    """A failure to report in one line (exit 1)."""


def os_actor() -> str:
    """The operating-system user running the command; run through sudo (deploy/hogo), the
    operator who called sudo, with the account it ran as."""
    host = socket.gethostname()
    try:
        effective = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        effective = str(os.geteuid())
    invoker = os.environ.get("SUDO_USER")
    if invoker and invoker != effective:
        return f"os:{invoker}@{host} (sudo as {effective})"
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"os:{user}@{host}"


def store_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The store options given on the command line (see Settings.from_env)."""
    return {
        "redis_url": getattr(args, "redis_url", None),
        "redis_sentinel": getattr(args, "redis_sentinel", None),
        "redis_service": getattr(args, "redis_service", None),
        "redis_cluster": getattr(args, "redis_cluster", None),
        "wait_replicas": getattr(args, "redis_wait_replicas", None),
        "wait_timeout": getattr(args, "redis_wait_timeout", None),
    }


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        upstream_url=getattr(args, "upstream_url", None),
        **store_overrides(args),
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


def print_errors(errors: list[str]) -> None:
    """Every bad row of a refused file, one line each on stderr: the operator fixes them all,
    so none is left out (the one-line error that follows gives the count)."""
    for line in errors:
        print(line, file=sys.stderr)


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
        "\n".join(f"{r.org_code}  {r.name}  ({len(r.rights) or 'no'} rights)" for r in reqs)
        or "(none)",
    )


async def _rights_change(args: argparse.Namespace, gw: Gateway, action: str) -> None:
    from gateway.store.requesters import UnknownRequester

    change = gw.requesters.grant if action == "grant" else gw.requesters.revoke
    try:
        req = await change(args.org_code, args.affair, args.procedure or [], os_actor())
    except (UnknownRequester, ValueError) as exc:
        raise CommandError(str(exc)) from None
    emit(args, req.as_json(), _rights_text(req))


async def cmd_requesters_grant(args: argparse.Namespace, gw: Gateway) -> None:
    await _rights_change(args, gw, "grant")


async def cmd_requesters_revoke(args: argparse.Namespace, gw: Gateway) -> None:
    await _rights_change(args, gw, "revoke")


async def cmd_requesters_rights(args: argparse.Namespace, gw: Gateway) -> None:
    req = await gw.requesters.get(args.org_code)
    if req is None:
        raise CommandError(f"requester {args.org_code} is not registered")
    emit(args, req.as_json(), _rights_text(req))


def _rights_text(req: Any) -> str:
    lines = [f"{req.org_code}  {req.name}: may ask about"]
    lines += [f"  {right}" for right in req.rights] or ["  nothing (deny by default)"]
    return "\n".join(lines)


async def cmd_requesters_remove(args: argparse.Namespace, gw: Gateway) -> None:
    if not await gw.requesters.remove(args.org_code, os_actor()):
        raise CommandError(f"requester {args.org_code} is not registered")
    emit(args, {"removed": args.org_code}, f"requester {args.org_code} removed")


# -- keys -------------------------------------------------------------------------------------
async def cmd_keys_show(args: argparse.Namespace, gw: Gateway) -> None:
    """This host's key versions and check values, compared with those the store records."""
    mine = gw.keyring.check_values()
    try:
        stored = await gw.redis.call(gw.redis.client.hgetall(gw.redis.keys.keyring_check))
    except Exception as exc:  # KeyringMismatch says which key differs
        raise CommandError(str(exc)) from None
    rows = [
        {"key": name, "check_value": value, "in_store": stored.get(name) == value}
        for name, value in sorted(mine.items())
    ]
    emit(
        args,
        {"keys_dir": str(gw.keyring.dir), "keys": rows},
        "\n".join(
            [f"keys in {gw.keyring.dir} (check values; compare them across hosts):"]
            + [
                f"  {r['key']:<12} {r['check_value']}  "
                + ("same as the store" if r["in_store"] else "not yet recorded in the store")
                for r in rows
            ]
        ),
    )


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """A new newest version of the AES or signing key, on this host only (see deploy/KEYS.md)."""
    from gateway.crypto import Keyring

    settings = settings_from(args)
    version = Keyring(settings.keys_dir).rotate(args.kind)
    name = "aes" if args.kind == "aes" else "ed25519"
    suffix = "key" if args.kind == "aes" else "pem"
    print(
        f"created {settings.keys_dir / f'{name}-{version}.{suffix}'}; copy it to every gateway "
        "host's keys directory, then restart every gateway (deploy/KEYS.md)"
    )
    return 0


# -- audit ------------------------------------------------------------------------------------
SETTLE_SECONDS = 5.0  # how long export/verify wait for events appended just before to be sealed


def _public_keys(args: argparse.Namespace) -> dict[int, Any]:
    from gateway.audit import pubkeys

    try:
        if args.pubkeys:
            return pubkeys.load(Path(args.pubkeys))
        return pubkeys.from_keys_dir(settings_from(args).keys_dir)
    except pubkeys.PubkeyError as exc:
        raise CommandError(str(exc)) from None


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

    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
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


# -- the parser -------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser, top: bool) -> None:
    d = None if top else argparse.SUPPRESS
    p.add_argument(
        "--redis-url", default=d, help="Redis URL (HOGO_REDIS_URL); else the embedded store"
    )
    p.add_argument(
        "--data-dir", default=d, help="keys and embedded store (HOGO_DATA_DIR, default ./var)"
    )
    p.add_argument(
        "--redis-sentinel",
        default=d,
        metavar="HOST:PORT,...",
        help="the sentinels of a Sentinel-managed store (HOGO_REDIS_SENTINEL)",
    )
    p.add_argument(
        "--redis-service",
        default=d,
        metavar="NAME",
        help="the master's name at the sentinels (HOGO_REDIS_SERVICE)",
    )
    p.add_argument(
        "--redis-cluster",
        default=d,
        metavar="HOST:PORT,...",
        help="startup nodes of a Redis Cluster (HOGO_REDIS_CLUSTER)",
    )
    p.add_argument(
        "--redis-wait-replicas",
        type=int,
        default=d,
        metavar="N",
        help="replicas an acknowledged write must reach (HOGO_REDIS_WAIT_REPLICAS; "
        "default 1 with Sentinel or Cluster, else 0)",
    )
    p.add_argument(
        "--redis-wait-timeout",
        type=float,
        default=d,
        metavar="SECONDS",
        help="how long to wait for them (HOGO_REDIS_WAIT_TIMEOUT, default 0.25)",
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
    p = cmd(sub, "settings", cmd_settings, "every environment variable the gateway reads")
    p.set_defaults(standalone=True)
    p = cmd(
        sub, "demo", serve.cmd_demo, "run everything with a simulated upstream and synthetic data"
    )
    p.add_argument("--port", type=int, default=8080, help="the gateway's port (0: any free)")
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(standalone=True)

    req = sub.add_parser("requesters", help="institutions allowed to query").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(req, "add", cmd_requesters_add, "register a requester")
    p.add_argument("org_code", metavar="ORG_CODE")
    p.add_argument("--name", required=True)
    cmd(req, "list", cmd_requesters_list, "list requesters")
    for name, func, help_text in (
        ("grant", cmd_requesters_grant, "permit an affair, or some of its procedures"),
        ("revoke", cmd_requesters_revoke, "withdraw an affair, or some of its procedures"),
    ):
        p = cmd(req, name, func, help_text)
        p.add_argument("org_code", metavar="ORG_CODE")
        p.add_argument("--affair", required=True, metavar="JM…", help="事務コード")
        p.add_argument(
            "--procedure",
            action="append",
            metavar="JT…",
            help="事務手続コード (repeatable); without it: every procedure of the affair",
        )
    p = cmd(req, "rights", cmd_requesters_rights, "what a requester may ask about")
    p.add_argument("org_code", metavar="ORG_CODE")
    p = cmd(req, "remove", cmd_requesters_remove, "remove a requester")
    p.add_argument("org_code", metavar="ORG_CODE")

    from gateway import cli_directory, cli_flags

    cli_directory.add_commands(sub, cmd)  # directory import | remaps | confirm
    cli_flags.add_commands(sub, cmd)  # flags (verify and repair: cli_verify), departments, report

    from gateway import cli_verify

    cli_verify.add_commands(sub, cmd)  # reviews list | confirm

    from gateway import cli_held

    cli_held.add_commands(sub, cmd)  # held list | show | release | refuse

    from gateway.staff.cli import add_users_commands

    add_users_commands(sub, cmd)

    ks = sub.add_parser("keys", help="the keys under DATA_DIR/keys").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    cmd(ks, "show", cmd_keys_show, "this host's keys' check values, against the store's")
    p = cmd(ks, "rotate", cmd_keys_rotate, "add a new AES or signing key version (not HMAC)")
    p.add_argument("kind", choices=["aes", "signing"])
    p.set_defaults(standalone=True)

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
    return parser


def cmd_settings(args: argparse.Namespace) -> None:
    rows = environment_variables()
    emit(
        args,
        [
            {"variable": v.name, "setting": v.setting, "default": v.default, "help": v.help}
            for v in rows
        ],
        "\n".join(
            f"{v.name}={v.default}\n    {v.help}" if v.setting else f"{v.name}\n    {v.help}"
            for v in rows
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for `serve --workers` to repeat
    for name in unknown_environment():
        print(
            f"hogo-gateway: warning: {name} is not a setting of the gateway (misspelt?); "
            "`hogo-gateway settings` lists them",
            file=sys.stderr,
        )
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
    except SettingsError as exc:
        print(f"hogo-gateway: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from gateway.store.redis import StoreUnavailable

        if isinstance(exc, StoreUnavailable):
            print(f"hogo-gateway: error: {exc}", file=sys.stderr)
        else:
            print(f"hogo-gateway: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
