"""The served protocol writes a response's head and body to the socket once, and still answers every kind
of response whole: bodies with a length, HEAD, streamed (chunked) bodies, keep-alive and closed
connections."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from litestar.types import Receive, Scope, Send

from lms.lib.http_protocol import PROTOCOL_PATH, OneWriteHttpToolsProtocol, _HeldWrites


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


async def test_a_head_and_its_body_go_out_in_one_write() -> None:
    transport = RecordingTransport()
    held = _HeldWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.writes == []
    held.write(b"body")
    held.write(b"more")
    await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"more"]
    assert held.get_extra_info("peername") == "extra peername"


async def test_a_head_without_a_body_goes_out_when_the_step_ends_or_before_closing() -> None:
    transport = RecordingTransport()
    held = _HeldWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"]

    closing = RecordingTransport()
    held = _HeldWrites(closing, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
    held.close()
    assert closing.writes == [b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n"]
    assert closing.closed
    await asyncio.sleep(0)
    assert len(closing.writes) == 1  # the scheduled flush finds nothing left


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    body = b"hello " + scope["path"].encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def served_port() -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(app, port=port, http=PROTOCOL_PATH, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn's Server offers no event to wait on
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    assert config.http_protocol_class is OneWriteHttpToolsProtocol
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def exchange(port: int, requests: bytes, until: bytes, count: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(requests)
    received = b""
    while received.count(until) < count:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        if not chunk:
            break
        received += chunk
    writer.close()
    return received


async def test_responses_of_every_kind_arrive_whole_on_a_kept_connection(served_port: int) -> None:
    requests = (
        b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /second HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    received = await exchange(served_port, requests, b"HTTP/1.1 200 OK", 4)
    received += await exchange(served_port, b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n", b"hello /again", 1)
    assert received.count(b"HTTP/1.1 200 OK") == 5
    assert b"hello /first" in received
    assert b"hello /second" not in received  # HEAD: the head alone
    assert b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n" in received
    assert received.index(b"hello /first") < received.index(b"three") < received.index(b"hello /last")
    assert b"connection: close" in received
