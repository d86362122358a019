"""The `hogo-gateway` command: serve, demo, and the operator's admin path on the server.

Exit status 0 on success, 2 on bad arguments, 1 otherwise with a one-line error on stderr.
Every action is recorded with the operating-system user who ran it.

A module per command group (gateway/cli/*.py, each with `add_commands`); what they share is in
gateway/cli/common.py. This module only assembles the parser and runs a command.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from gateway.cli import (
    audit,
    demo,
    departments,
    directory,
    flags,
    held,
    keys,
    report,
    requesters,
    reviews,
    serve,
    settings,
    users,
)
from gateway.cli.common import CommandError, opened, store_options
from gateway.settings import SettingsError, unknown_environment

# in the order `hogo-gateway --help` lists them
GROUPS = (
    serve,
    settings,
    demo,
    requesters,
    directory,
    flags,
    departments,
    report,
    reviews,
    held,
    users,
    keys,
    audit,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hogo-gateway", description=__doc__.splitlines()[0])
    store_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(parent: Any, name: str, func: Any, help: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help, description=help)
        store_options(p, top=False)
        p.set_defaults(func=func)
        return p

    for group in GROUPS:
        group.add_commands(sub, cmd)
    return parser


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
        from gateway.errors import StoreUnavailable

        if isinstance(exc, StoreUnavailable):
            print(f"hogo-gateway: error: {exc}", file=sys.stderr)
        else:
            print(f"hogo-gateway: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
