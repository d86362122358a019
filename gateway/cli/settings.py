"""`hogo-gateway settings`: every environment variable the gateway reads, with its default."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import Command, emit
from gateway.settings import environment_variables


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


def add_commands(sub: Any, cmd: Command) -> None:
    p = cmd(sub, "settings", cmd_settings, "every environment variable the gateway reads")
    p.set_defaults(standalone=True)
