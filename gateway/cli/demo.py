"""`hogo-gateway demo`: everything on this machine with a simulated upstream and synthetic data
(gateway/demo.py runs it; here is only the command)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import Command, os_actor


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway import demo

    return demo.run(args, actor=os_actor())


def add_commands(sub: Any, cmd: Command) -> None:
    p = cmd(sub, "demo", cmd_demo, "run everything with a simulated upstream and synthetic data")
    p.add_argument("--port", type=int, default=8080, help="the gateway's port (0: any free)")
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(standalone=True)
