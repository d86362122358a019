"""The event loop a gateway process runs on: uvloop when it is installed (the `fast` extra),
else asyncio's own. `HOGO_EVENT_LOOP=asyncio` forces the standard loop (e.g. to compare)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def chosen(loop: str | None = None) -> str:
    """ "uvloop" or "asyncio": what `run` will use."""
    wanted = loop or os.environ.get("HOGO_EVENT_LOOP", "uvloop")
    if wanted == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return "asyncio"
        return "uvloop"
    return "asyncio"


def run(main: Coroutine[Any, Any, T], loop: str | None = None) -> T:
    if chosen(loop) == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
