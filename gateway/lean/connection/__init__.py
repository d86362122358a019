"""One client connection of the lean listener: parse, check, queue, answer in order.

Bytes go through llhttp, strict mode (no leniencies), and through the checks llhttp leaves to
us (limits, Transfer-Encoding, Host, version, target form); a complete request goes to its
route's handler, one at a time per connection, so that answers leave in the order the requests
came (pipelining) and a slow first answer holds back the second. Anything refused is answered
with a status, reported through the server's `on_refused`, and closes the connection: a parser
that has seen bytes it does not trust is never fed again. Deadlines are timestamps that the
server's ticker checks, not a timer per request.

A connection is one object, one concern a module: state.py (its fields, what it uses of the
server), flow.py (reading, slices, flow control), parsing.py (the parser's callbacks, the
checks), refusals.py (refusing, the deadlines), handoff.py (another service on the port),
answering.py (in order, closing); the asyncio.Protocol's start and end are here.
"""

from __future__ import annotations

import asyncio

from gateway.lean.connection.answering import Answering
from gateway.lean.connection.flow import Flow
from gateway.lean.connection.handoff import HandOver
from gateway.lean.connection.parsing import Parsing
from gateway.lean.connection.refusals import Refusals
from gateway.lean.connection.state import AHEAD_SLICE, INF, SLICE, Host, Routes
from gateway.lean.http import Peer
from gateway.tls import org_of_certificate

__all__ = ["AHEAD_SLICE", "SLICE", "Connection", "Host", "Routes"]


class Connection(Flow, Parsing, Refusals, HandOver, Answering):
    """One client connection: parse, check, queue, answer in order, enforce the deadlines."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        is_tls = transport.get_extra_info("sslcontext") is not None
        peercert = transport.get_extra_info("peercert") if is_tls else None
        self.peer = Peer(
            transport.get_extra_info("peername"),
            is_tls,
            peercert,
            org_of_certificate(peercert) if is_tls else None,
        )
        self.server.connections.add(self)
        self._deadline("head", self.limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._stash = b""
        self._pending.clear()
        self.read_deadline = self.send_deadline = INF
        self.server.connections.discard(self)
        self.server.closed_one()

    def eof_received(self) -> bool | None:
        if self._lingering or self._idle():
            return None  # close
        # Answer what was asked; a request cut off by the EOF is not one.
        self._input_closed = True
        self._in_message = False
        self.read_deadline = INF
        if not self._busy and not self._pending:
            return None
        return True  # keep the transport open for writing (ignored by TLS transports)
