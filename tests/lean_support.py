"""Helpers for the lean server's and pool's tests: a server on loopback, raw sockets, and h11
(the reference implementation) to read what comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import h11

from gateway.lean.http import Limits, Peer, Request, Response
from gateway.lean.server import LeanServer, Routes

PATH = "/soap/provision"


@dataclass
class Seen:
    """What a handler was given, for comparing with what was sent."""

    method: str
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    certified: str | None = None


@dataclass
class Recorder:
    """A handler that records every request and echoes its body; `delays` slow given calls."""

    seen: list[Seen] = field(default_factory=list)
    delays: dict[int, float] = field(default_factory=dict)
    started: int = 0

    async def __call__(self, request: Request) -> Response:
        n = self.started
        self.started += 1
        if n in self.delays:
            await asyncio.sleep(self.delays[n])
        self.seen.append(
            Seen(request.method, request.target, request.headers, request.body, request.certified)
        )
        return Response(200, b"answer %d:" % n + request.body)


@dataclass
class Refusals:
    """The server's on_refused hook, recording (reason, detail)."""

    got: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, reason: str, detail: str, peer: Peer) -> None:
        self.got.append((reason, detail))

    @property
    def reasons(self) -> list[str]:
        return [r for r, _ in self.got]


@dataclass
class Lean:
    server: LeanServer
    handler: Recorder
    refusals: Refusals

    @property
    def port(self) -> int:
        return self.server.port


def soap_fault_413(request: Request) -> Response:
    return Response(413, b"<Fault>BODY_TOO_LARGE</Fault>")


@asynccontextmanager
async def lean_server(
    handler: Recorder | None = None,
    *,
    routes: Callable[[Recorder], Routes] | None = None,
    ssl_context=None,
    **limits: object,
) -> AsyncIterator[Lean]:
    handler = handler or Recorder()
    refusals = Refusals()
    server = LeanServer(
        routes(handler) if routes else Routes({("POST", PATH): handler}),
        limits=Limits(**limits),  # type: ignore[arg-type]
        too_large=soap_fault_413,
        on_refused=refusals,
    )
    await server.start("127.0.0.1", 0, ssl_context=ssl_context)
    try:
        yield Lean(server, handler, refusals)
    finally:
        await server.shutdown(2.0)


async def raw(
    port: int,
    data: bytes | list[bytes],
    *,
    timeout: float = 5.0,
    pause: float = 0.0,
    half_close: bool = True,
) -> bytes:
    """Send `data` (pieces with `pause` between them), half-close, read until the server closes.
    A server that closes while we still send gets its answer read all the same."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        try:
            for piece in [data] if isinstance(data, bytes) else data:
                writer.write(piece)
                await writer.drain()
                if pause:
                    await asyncio.sleep(pause)
            if half_close:
                writer.write_eof()
        except ConnectionError:
            pass
        try:
            return await asyncio.wait_for(reader.read(), timeout)
        except ConnectionError:
            return bytes(reader._buffer)  # what came before the reset
    finally:
        writer.close()


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


def parse_answers(data: bytes, methods: list[str] | None = None) -> list[Answer]:
    """Every complete HTTP/1.1 response in `data`, read by h11 one after the other (a response
    to HEAD has no body: give the request methods in order when one was HEAD)."""
    out: list[Answer] = []
    rest = data
    i = 0
    while rest:
        method = (methods[i] if methods and i < len(methods) else "POST").encode()
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method=method, target="/", headers=[("host", "x")]))
        if method != b"HEAD":
            client.send(h11.EndOfMessage())
        client.receive_data(rest)
        status, headers, body = 0, {}, b""
        while True:
            event = client.next_event()
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k: v for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                return out  # an incomplete last response
        out.append(Answer(status, headers, body))
        rest = client.trailing_data[0]
        i += 1
    return out


def request(
    body: bytes = b"<q/>", *, target: bytes = PATH.encode(), extra: bytes = b"", version=b"1.1"
) -> bytes:
    return (
        b"POST " + target + b" HTTP/" + version + b"\r\nHost: gw\r\n" + extra
        + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip
