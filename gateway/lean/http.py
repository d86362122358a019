"""The values the lean server hands to a handler and takes back, and its limits and deadlines.

Kept free of I/O so that handlers (and their tests) deal in plain values: a `Request` is built
once by the server from what it parsed and checked, a `Response` is status, headers and body.
"""

from __future__ import annotations

import http
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

# The limits aiohttp's server applies today (web_protocol.py: 8190 bytes a line or field,
# 128 fields) or stricter: a whole head of at most 64 KiB instead of 128 x 8190 bytes.
MAX_REQUEST_LINE = 8190
MAX_FIELD = 8190  # name + value of one header field
MAX_FIELDS = 128
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """What one connection may cost the server, in bytes and seconds."""

    max_body: int = 1024 * 1024  # Settings.max_body_bytes
    max_request_line: int = MAX_REQUEST_LINE
    max_field: int = MAX_FIELD
    max_fields: int = MAX_FIELDS
    max_head: int = MAX_HEAD
    # A request's head must be complete this long after its first byte (or after the
    # connection opened, for the first request): a slowloris sender is cut off here.
    head_timeout: float = 10.0
    # ...and its body this long after the head: a total deadline, whatever the rate.
    body_timeout: float = 30.0
    # An idle keep-alive connection is closed after this long without a new request.
    idle_timeout: float = 30.0
    # A client that does not read its answers: the write buffer must drain within this long.
    send_timeout: float = 30.0
    # TLS handshakes that do not finish in this long are dropped (a slow handshake is a
    # slowloris too).
    handshake_timeout: float = 10.0
    # After an answer that closes the connection with unread input (413, 400...), unread input
    # is read and dropped for at most this long, so the client sees the answer and not a reset.
    linger_timeout: float = 2.0
    # Requests read ahead on one connection while an earlier one is being answered (HTTP
    # pipelining), and the body bytes they may hold: past either, reading stops until the
    # earlier answers are written.
    max_pipelined: int = 16
    max_pipelined_bytes: int = 256 * 1024


@dataclass(slots=True)
class Peer:
    """Who is at the other end of one connection; made once per connection, shared by its
    requests. `certified` is `gateway.tls.certified_org`'s value: None on plain HTTP, the
    requesterOrgCode the client certificate names, or "" when it names none."""

    address: tuple[str, int] | None
    tls: bool
    peercert: dict[str, Any] | None
    certified: str | None


class Request:
    """One request as parsed and checked: method and path as str, header names lower-cased
    bytes with surrounding whitespace removed from values, the whole body. Trailers of a
    chunked body are checked and dropped, never merged into `headers`."""

    __slots__ = (
        "body",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "path",
        "peer",
        "target",
    )

    def __init__(
        self,
        method: str,
        target: bytes,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        peer: Peer,
        http_version: str = "1.1",
        keep_alive: bool = True,
    ) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.headers = headers
        self.body = body
        self.peer = peer
        self.http_version = http_version
        self.keep_alive = keep_alive

    def header(self, name: bytes) -> bytes | None:
        """The value of header `name` (lower-case), the first if it came more than once."""
        for n, v in self.headers:
            if n == name:
                return v
        return None

    @property
    def certified(self) -> str | None:
        return self.peer.certified

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target!r} {len(self.body)} bytes>"


XML = b"text/xml; charset=utf-8"
TEXT = b"text/plain; charset=utf-8"


class Response:
    """What a handler answers: status, content type, body and any further header fields."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: bytes = XML,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


Handler = Callable[[Request], Awaitable[Response]]


def plain(status: int, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Response:
    """The short text answer aiohttp gives for a status ("404: Not Found")."""
    phrase = http.HTTPStatus(status).phrase
    return Response(status, f"{status}: {phrase}".encode(), TEXT, extra)


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")


STATUS_LINES = {status: _status_line(status) for status in range(100, 600)}
_FORBIDDEN_IN_HEADERS = (b"\r", b"\n", b"\x00")


class HeaderError(ValueError):
    """A handler gave a header that would split the response (CR, LF or NUL in it)."""


def serialize(
    response: Response, keep_alive: bool, date: bytes, *, head_only: bool = False
) -> bytes:
    """The bytes of one HTTP/1.1 response. Header fields a handler adds are checked for CR, LF
    and NUL: a value passed on from elsewhere must not be able to add a header or a response."""
    content_type = response.content_type
    if b"\r" in content_type or b"\n" in content_type or b"\x00" in content_type:
        raise HeaderError("forbidden byte in the content type")
    extra = b""
    if response.headers:
        parts = []
        for name, value in response.headers:
            for bad in _FORBIDDEN_IN_HEADERS:
                if bad in name or bad in value:
                    raise HeaderError(f"forbidden byte in header {name!r}")
            parts += (name, b": ", value, b"\r\n")
        extra = b"".join(parts)
    body = response.body
    head = b"%scontent-type: %s\r\ncontent-length: %d\r\ndate: %s\r\nconnection: %s\r\n%s\r\n" % (
        STATUS_LINES.get(response.status) or _status_line(response.status),
        content_type,
        len(body),
        date,
        b"keep-alive" if keep_alive else b"close",
        extra,
    )
    return head if head_only else head + body


class DateCache:
    """The Date header's value, formatted at most once a second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._value = formatdate(second, usegmt=True).encode("ascii")
        return self._value
