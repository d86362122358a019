"""Reading and flow control: bytes from the socket go to the parser a slice at a time; a client
ahead of its answers by too many requests or bytes, or one that does not read its answers (the
socket's write buffer full), is not read from until the answers catch up, so that a pipelined
flood waits in the kernel, not in the gateway's memory."""

from __future__ import annotations

import httptools

from gateway.lean.connection.state import AHEAD_SLICE, INF, SLICE, ConnectionState


class Flow(ConnectionState):
    # -- asyncio.Protocol ---------------------------------------------------------------------
    def pause_writing(self) -> None:
        self._write_paused = True
        self.send_deadline = self.loop.time() + self.limits.send_timeout
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self.send_deadline = INF
        self._next()
        self._pump()

    def data_received(self, data: bytes) -> None:
        if self._input_closed:
            return  # lingering, or after the last request: read and dropped
        if self._stash:
            self._stash = bytes(self._stash) + data
        else:
            self._stash = data
        self._pump()

    # -- feeding the parser ------------------------------------------------------------------
    def _held(self) -> bool:
        """Whether to stop reading: the client is ahead of its answers by too much."""
        if self._write_paused:
            return True
        return self._busy and (
            len(self._pending) >= self.limits.max_pipelined
            or self._pending_bytes + self._body_size > self.limits.max_pipelined_bytes
        )

    def _pump(self) -> None:
        if self._pumping or self._closed:
            return
        self._pumping = True
        try:
            while self._stash and not self._input_closed:
                if self._held():
                    self._pause_reading()
                    if self.read_deadline_kind in ("head", "body"):
                        self.read_deadline = INF  # our doing, not the client's
                    return
                handing = self.server.handoff is not None and not self._in_message
                if handing and not self._ours():
                    return  # handed over, or waiting for more of the request line
                data = self._stash
                size = AHEAD_SLICE if self._busy or self._pending else SLICE
                if len(data) > size:
                    view = memoryview(data)
                    chunk, self._stash = view[:size], view[size:]
                else:
                    chunk, self._stash = data, b""
                self._feed(chunk)
                self._next()
            if not self._input_closed:
                if self._read_paused:
                    self._resume_reading()
                if self._in_message and self.read_deadline == INF:
                    self._deadline(
                        "head" if self._in_head else "body",
                        self.limits.head_timeout if self._in_head else self.limits.body_timeout,
                    )
        finally:
            self._pumping = False

    def _feed(self, chunk: bytes | memoryview) -> None:
        try:
            self.parser.feed_data(chunk)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "upgrade", "Upgrade and CONNECT are not served")
            return
        except httptools.HttpParserError as exc:
            if self._refusal is None:
                if self._input_closed:
                    return  # bytes after a request that closes the connection: dropped
                self._refusal = (400, "malformed", str(exc)[:200], None)
            self._stop()
            return
        n = len(chunk)
        if self._in_head:
            self._head_fed += n
            if self._head_fed > self.limits.max_head + SLICE:
                self._refuse(431, "head_too_large", "request head over the limit")
        elif self._in_message:
            # No body progress (trailers, chunk extensions) for this long: refused.
            self._since_progress += n
            if self._since_progress > self.limits.max_head + SLICE:
                self._refuse(431, "trailers_too_large", "chunk framing or trailers over the limit")

    def _pause_reading(self) -> None:
        if not self._read_paused and self.transport is not None and not self._closed:
            self._read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        ready = self._lingering or not self._held()
        if self._read_paused and self.transport is not None and not self._closed and ready:
            self._read_paused = False
            self.transport.resume_reading()
