"""Another service on the same port: at a request boundary, a request for a path that is not
one of ours hands the connection over (with the bytes read so far) to the aiohttp application
(gateway.lean.listener), once every answer before it is out; it is never taken back."""

from __future__ import annotations

from gateway.lean.connection.state import INF, ConnectionState


class HandOver(ConnectionState):
    def _ours(self) -> bool:
        """At a request boundary (every byte before the stash parsed, no request begun), with
        a `handoff`: whether the next request is for one of our routes. If it is for another
        path, the connection is handed over, with the stash, once every answer before it is
        out; it is never taken back. Each byte is read by one parser only, and the switch is
        at the end of a complete request: nothing can be read one way by us and another way by
        the other server. False while the request line has not come whole."""
        data = self._stash
        if isinstance(data, memoryview):
            data = self._stash = bytes(data)
        start = 0
        while start < len(data) and data[start] in (13, 10):
            start += 1  # empty lines between requests (llhttp skips them too)
        if start == len(data):
            return True
        end = data.find(b"\n", start, start + self._max_line + 2)
        if end < 0:
            # the line is still coming (bounded: beyond the limit our parser answers 414)
            return len(data) - start > self._max_line
        line = data[start:end].split(b" ", 2)
        path = line[1].split(b"?", 1)[0] if len(line) > 1 else b""
        if path in self.server.own_paths:
            return True
        if self._busy or self._pending:
            self._pause_reading()  # resumed by _answer's _pump once the answers are out
            return False
        self._hand_over(data[start:])
        return False

    def _hand_over(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None and self.server.handoff is not None
        self._closed = True  # this protocol is done with the connection
        self._stash = b""
        self.read_deadline = self.send_deadline = INF
        self.transport = None
        self.server.connections.discard(self)
        self.server.closed_one()
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()
        self.server.handoff(transport, data)
