"""Refusing and the deadlines: a refused request is answered with its status after the answers
before it, reported through the server's `on_refused`, and ends the connection (a parser that
has seen bytes it does not trust is never fed again); a deadline is a timestamp the server's
ticker checks (`check_deadlines`), not a timer per request."""

from __future__ import annotations

from gateway.lean.connection.state import INF, ConnectionState, Refusal, log
from gateway.lean.http import Handler, Request, Response, plain


class Refusals(ConnectionState):
    def _fail(
        self,
        status: int,
        reason: str,
        detail: str,
        *,
        answer: Response | Handler | None = None,
        report: bool = True,
    ) -> None:
        """From a parser callback: answer `status` (after the answers before it) and close."""
        self._refusal = (status, reason if report else "", detail, answer)
        raise Refusal(reason)

    def _too_large(self) -> None:
        # The hook may give a handler instead of a Response: it is run (with the head) like a
        # request's, so that what it records is recorded before the 413 goes out.
        try:
            answer = self.server.too_large(self._head_request())
        except Exception:
            log.exception("the 413 hook failed")
            answer = plain(413)
        self._fail(413, "body_too_large", "body over the limit", answer=answer)

    def _head_request(self) -> Request:
        return Request(
            self._method,
            self._url,
            self._path,
            self._headers,
            b"",
            self.peer,  # type: ignore[arg-type]
            self._version,
            keep_alive=False,
        )

    def _refuse(self, status: int, reason: str, detail: str) -> None:
        """Outside the parser: the same as `_fail`."""
        self._refusal = (status, reason, detail, None)
        self._stop()

    def _stop(self) -> None:
        assert self._refusal is not None
        status, reason, detail, answer = self._refusal
        self._input_closed = True
        self._in_message = False
        self._stash = b""
        self._deadline("", INF)
        self._pause_reading()
        if reason and self.server.on_refused is not None and self.peer is not None:
            try:
                self.server.on_refused(reason, detail, self.peer)
            except Exception:
                log.exception("reporting a refused request failed")
        response = answer if answer is not None else plain(status)
        self._pending.append((response, self._head_request() if self._method else None, True))
        self._linger_after = True

    # -- deadlines ----------------------------------------------------------------------------
    def _deadline(self, kind: str, seconds: float) -> None:
        # From the server's clock, which the ticker advances: a deadline may start up to one
        # tick early, never late, and no clock is read per request.
        self.read_deadline_kind = kind
        self.read_deadline = self.server.clock + seconds

    def check_deadlines(self, now: float) -> None:
        if now >= self.send_deadline:
            self._abort("send_timeout", "the client does not read its answers")
        elif now >= self.read_deadline:
            kind = self.read_deadline_kind
            if kind in ("idle", "linger"):
                self.read_deadline = INF
                if self.transport is not None:
                    self.transport.close()
            elif not self._in_message:
                # nothing of a request came since the connection opened: nothing to answer
                self.read_deadline = INF
                if self.transport is not None:
                    self.transport.close()
            else:
                # a slowloris: 408 after any earlier answers, then close
                self._refuse(408, f"{kind}_timeout", f"the request's {kind} came too slowly")
                self._next()

    def _abort(self, reason: str, detail: str) -> None:
        self.send_deadline = self.read_deadline = INF
        if self.server.on_refused is not None and self.peer is not None:
            try:
                self.server.on_refused(reason, detail, self.peer)
            except Exception:
                log.exception("reporting a refused request failed")
        if self.transport is not None:
            self.transport.abort()
