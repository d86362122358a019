"""Property: for any valid HTTP/1.1 request sequence h11 writes (methods, header casing, bodies
with Content-Length or chunked with trailers, pipelined, delivered in any split down to single
bytes), the lean server gives its handler the same requests, in the same order, as h11 reads
from the same bytes on the server side; and answers each, in order."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import h11
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.lean.http import Handler
from gateway.lean.server import LeanServer
from tests.lean_support import Recorder, parse_answers

TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "upgrade", "te"}
VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F))
PATH_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@%/"


class Everything:
    """A router that sends every method and path to the recorder."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def resolve(self, method: str, path: str) -> Handler:
        return self.handler


@dataclass
class Sent:
    method: str
    target: str
    headers: list[tuple[str, str]]
    pieces: list[bytes]
    framing: str  # "none" | "length" | "chunked"
    trailers: list[tuple[str, str]]


names = st.text(TOKEN, min_size=1, max_size=12).filter(lambda n: n.lower() not in FRAMING)
values = st.builds(
    lambda words: " ".join(words),
    st.lists(st.text(VISIBLE, min_size=1, max_size=10), min_size=0, max_size=3),
)
fields = st.lists(st.tuples(names, values), max_size=6)


@st.composite
def requests(draw: st.DrawFn) -> Sent:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
    path = "/" + draw(st.text(PATH_CHARS, max_size=20)).replace("%", "%25")
    query = draw(
        st.one_of(
            st.just(""),
            st.text(PATH_CHARS + "?", max_size=10).map(lambda q: "?" + q.replace("%", "%25")),
        )
    )
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    body = b"" if framing == "none" else draw(st.binary(max_size=600))
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    pieces = [p for p in pieces if p]
    headers = [("Host", draw(st.sampled_from(["gw", "gw:8080", "localhost"])))]
    headers += draw(fields)
    if framing == "length":
        headers.insert(draw(st.integers(0, len(headers))), ("Content-Length", str(len(body))))
    elif framing == "chunked":
        headers.append(
            (
                draw(
                    st.sampled_from(["Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING"])
                ),
                "chunked",
            )
        )
    trailers = draw(fields) if framing == "chunked" else []
    return Sent(method, path + query, headers, pieces, framing, trailers)


def encode(sequence: list[Sent]) -> bytes:
    """The bytes h11 writes for the sequence, pipelined on one connection."""
    out = b""
    for sent in sequence:
        client = h11.Connection(h11.CLIENT)
        out += client.send(
            h11.Request(method=sent.method, target=sent.target, headers=sent.headers)
        )
        for piece in sent.pieces:
            out += client.send(h11.Data(data=piece))
        out += client.send(h11.EndOfMessage(headers=sent.trailers))
    return out


def h11_reads(data: bytes) -> list[tuple[str, bytes, list[tuple[bytes, bytes]], bytes]]:
    """What h11, as the server, reads from the bytes: (method, target, headers, body) each."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    out = []
    current: list = []
    while True:
        event = server.next_event()
        if isinstance(event, h11.Request):
            current = [event.method.decode(), event.target, list(event.headers), b""]
        elif isinstance(event, h11.Data):
            current[3] += event.data
        elif isinstance(event, h11.EndOfMessage):
            out.append(tuple(current))
            server.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
            server.send(h11.EndOfMessage())
            server.start_next_cycle()
        else:
            return out


async def deliver(port: int, data: bytes, splits: list[int], byte_by_byte: bool) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if byte_by_byte:
        pieces = [data[i : i + 1] for i in range(len(data))]
    else:
        cuts = sorted({min(c, len(data)) for c in splits})
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0)
    writer.write_eof()
    out = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return out


async def run_case(data: bytes, splits: list[int], byte_by_byte: bool) -> tuple[Recorder, bytes]:
    recorder = Recorder()
    server = LeanServer(Everything(recorder))  # type: ignore[arg-type]
    await server.start("127.0.0.1", 0)
    try:
        out = await deliver(server.port, data, splits, byte_by_byte)
    finally:
        await server.shutdown(2)
    return recorder, out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequence=st.lists(requests(), min_size=1, max_size=4),
    splits=st.lists(st.integers(0, 4000), max_size=8),
    byte_by_byte=st.booleans(),
)
def test_the_handler_gets_what_h11_reads_from_the_same_bytes(
    sequence: list[Sent], splits: list[int], byte_by_byte: bool
) -> None:
    data = encode(sequence)
    expected = h11_reads(data)
    assert len(expected) == len(sequence)
    recorder, out = uvloop.run(run_case(data, splits, byte_by_byte))
    got = [(s.method, s.target, s.headers, s.body) for s in recorder.seen]
    assert got == expected
    answers = parse_answers(out, [s.method for s in sequence])
    assert [a.status for a in answers] == [200] * len(sequence)
    assert [a.body.split(b":", 1)[0] for a in answers] == [
        b"answer %d" % i for i in range(len(sequence))
    ]
