"""`hogo-gateway keys ...`: this host's keys under DATA_DIR/keys, their check values against the
store's, and a new version of the AES or signing key (deploy/KEYS.md)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import Command, CommandError, emit, settings_from
from gateway.context import Gateway


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


def add_commands(sub: Any, cmd: Command) -> None:
    ks = sub.add_parser("keys", help="the keys under DATA_DIR/keys").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    cmd(ks, "show", cmd_keys_show, "this host's keys' check values, against the store's")
    p = cmd(ks, "rotate", cmd_keys_rotate, "add a new AES or signing key version (not HMAC)")
    p.add_argument("kind", choices=["aes", "signing"])
    p.set_defaults(standalone=True)
