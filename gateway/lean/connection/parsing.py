"""The parser's callbacks (httptools, llhttp in strict mode) and the checks llhttp leaves to us:
limits on the request line and the head, one Content-Length or Transfer-Encoding and only
`chunked`, exactly one Host, HTTP/1.0 or 1.1, origin-form targets, Expect; a complete request
queued for its route's handler."""

from __future__ import annotations

from gateway.lean.connection.state import INF, ConnectionState, Refusal
from gateway.lean.http import Request, Response

_METHODS: dict[bytes, str] = {}
_CONTENT_LENGTH, _TRANSFER_ENCODING, _HOST, _EXPECT = range(4)
_SPECIAL = {
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"host": _HOST,
    b"expect": _EXPECT,
}


class Parsing(ConnectionState):
    """The callbacks httptools calls while `feed_data` runs (gateway.lean.connection.flow)."""

    def on_message_begin(self) -> None:
        if self._input_closed:
            raise Refusal("a request after the last one")  # dropped, see Flow._feed
        self._in_message = self._in_head = True
        self._method = ""
        self._url = b""
        self._headers = []
        self._head_size = self._fields = self._head_fed = self._since_progress = 0
        self._content_length = self._transfer_encoding = self._expect = None
        self._hosts = 0
        self._body = []
        self._body_size = 0
        self._target = None
        if self.read_deadline_kind != "head":
            self._deadline("head", self.limits.head_timeout)

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_line:
            self._fail(414, "request_line_too_long", "request line over the limit")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value)
        self._fields += 1
        self._head_size += size
        if size > self._max_field:
            self._fail(431, "field_too_long", "a header field over the limit")
        if self._fields > self._max_fields or self._head_size > self._max_head:
            self._fail(431, "head_too_large", "too many or too large header fields")
        if not self._in_head:
            self._since_progress = 0
            return  # a trailer: checked against the limits, then dropped
        name = name.lower()
        value = value.strip(b" \t")
        special = _SPECIAL.get(name)
        if special is not None:
            self._special(special, value)
        self._headers.append((name, value))

    def _special(self, which: int, value: bytes) -> None:
        if which == _CONTENT_LENGTH:
            if self._content_length is not None:
                self._fail(400, "content_length", "Content-Length given more than once")
            self._content_length = value
        elif which == _TRANSFER_ENCODING:
            if self._transfer_encoding is not None:
                self._fail(400, "transfer_encoding", "Transfer-Encoding given more than once")
            self._transfer_encoding = value
        elif which == _HOST:
            self._hosts += 1
        else:
            self._expect = value

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._since_progress = 0
        parser = self.parser
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method)
        if method is None:
            method = _METHODS.setdefault(raw_method, raw_method.decode("ascii"))
        self._method = method
        version = self._version = parser.get_http_version()
        self._keep_alive = parser.should_keep_alive()
        if version not in ("1.1", "1.0"):
            self._fail(505, "version", f"HTTP/{version} is not served")
        if parser.should_upgrade():
            self._fail(400, "upgrade", "Upgrade and CONNECT are not served")
        url = self._url
        if url[:1] != b"/":
            self._fail(400, "target", "only origin-form request targets are served")
        if self._hosts != 1 and (version == "1.1" or self._hosts > 1):
            self._fail(400, "host", "a request needs exactly one Host")
        te = self._transfer_encoding
        length = 0
        if te is not None:
            if version == "1.0":
                self._fail(400, "transfer_encoding", "Transfer-Encoding in HTTP/1.0")
            if te.lower() != b"chunked":
                self._fail(501, "transfer_encoding", "only Transfer-Encoding: chunked is served")
        elif self._content_length is not None:
            length = int(self._content_length)  # llhttp let only digits through
        query = url.find(b"?")
        self._path = (url if query < 0 else url[:query]).decode("ascii")
        target = self.server.routes.resolve(method, self._path)
        expect = self._expect
        if expect is not None and version == "1.1":
            if expect.lower() != b"100-continue":
                self._fail(417, "expect", "only Expect: 100-continue is served")
            if isinstance(target, Response):
                # The client waits for 100 before its body: answer now and close.
                self._target = target
                self._fail(target.status, "", "", answer=target, report=False)
        if length > self._max_body:
            self._too_large()
        self._target = target
        body_follows = bool(length) or te is not None
        if not isinstance(target, Response) and expect is not None and body_follows:
            self._continue_due = version == "1.1"
            self._send_continue()
        if length or te is not None:
            self._deadline("body", self.limits.body_timeout)

    def on_body(self, body: bytes) -> None:
        self._since_progress = 0
        self._body_size += len(body)
        if self._body_size > self._max_body:
            self._too_large()
        if not isinstance(self._target, Response):  # else answered without it: dropped
            self._body.append(body)

    def on_chunk_header(self) -> None:
        self._since_progress = 0

    def on_message_complete(self) -> None:
        self._in_message = False
        self._continue_due = False
        self._deadline("", INF)
        body = b"".join(self._body) if self._body else b""
        target = self._target
        assert target is not None
        request = Request(
            self._method,
            self._url,
            self._path,
            self._headers,
            body,
            self.peer,  # type: ignore[arg-type]
            self._version,
            self._keep_alive,
        )
        self._body = []
        self._body_size = 0
        self._pending.append((target, request, False))
        self._pending_bytes += len(body)
        if not self._keep_alive:
            self._input_closed = True
