"""What one client connection holds: the request being parsed, the answers queued, the flow
and the deadlines, set up once; and what it uses of the server that accepted it.

The connection is one object (gateway.lean.connection.Connection) put together from one mixin
per concern (parsing.py, refusals.py, flow.py, handoff.py, answering.py), each a subclass of
`ConnectionState`: a method found through the class costs what it cost in one class, and every
field is read straight off the instance, as before, on the per-byte and per-request paths.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

import httptools

from gateway.lean.http import DateCache, Handler, Limits, Peer, Request, Response


class Routes(Protocol):
    def resolve(self, method: str, path: str) -> Handler | Response: ...


class Host(Protocol):
    """What a connection uses of the server that accepted it (gateway.lean.server.LeanServer),
    said here so that the connection needs no import of the server, which imports it."""

    limits: Limits
    loop: asyncio.AbstractEventLoop
    routes: Routes
    connections: set[ConnectionState]
    tasks: set[asyncio.Task[None]]
    dates: DateCache
    clock: float
    on_refused: Callable[[str, str, Peer], None] | None
    too_large: Callable[[Request], Response]

    def closed_one(self) -> None: ...


log = logging.getLogger("hogo.lean")

# Bytes fed to the parser at a time. llhttp cannot be paused inside a feed, so a slice that
# holds many small pipelined requests parses them all: a connection can be ahead of its answers
# by max_pipelined requests plus one slice's worth. While it is ahead, slices are small.
SLICE = 4096
AHEAD_SLICE = 512
INF = float("inf")


class Refusal(Exception):
    """Raised from a parser callback to stop parsing; the answer is already decided."""


class ConnectionState(asyncio.Protocol):
    """The fields every part of a connection reads and writes."""

    def __init__(self, server: Host) -> None:
        self.server = server
        limits = self.limits = server.limits
        # read on every request: kept here rather than looked up through `limits` each time
        self._max_body = limits.max_body
        self._max_field = limits.max_field
        self._max_fields = limits.max_fields
        self._max_head = limits.max_head
        self._max_line = limits.max_request_line
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None
        self.parser = httptools.HttpRequestParser(self)
        # the request being parsed
        self._in_message = False
        self._in_head = False
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._fields = 0
        self._head_fed = 0
        self._since_progress = 0
        self._content_length: bytes | None = None
        self._transfer_encoding: bytes | None = None
        self._hosts = 0
        self._expect: bytes | None = None
        self._target: Handler | Response | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._keep_alive = True
        self._version = "1.1"
        self._method = ""
        self._path = ""
        self._continue_due = False
        # status, reason, detail, and the answer: a Response, or a handler (the 413 hook's)
        self._refusal: tuple[int, str, str, Response | Handler | None] | None = None
        # answers
        self._pending: deque[tuple[Handler | Response, Request | None, bool]] = deque()
        self._pending_bytes = 0
        self._busy = False
        self._input_closed = False  # no further request will be read
        self._linger_after = False  # close with lingering when the last answer is out
        self._lingering = False
        self._stash: bytes | memoryview = b""
        self._pumping = False
        self._read_paused = False
        self._write_paused = False
        self._closed = False
        # deadlines (loop time); checked by the server's ticker
        self.read_deadline = INF
        self.read_deadline_kind = ""
        self.send_deadline = INF
