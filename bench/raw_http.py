"""A lean HTTP/1.1 client for load generators: one keep-alive connection per simulated user, requests
written as bytes and answers parsed by hand (Content-Length bodies, as the API answers).

A general client (httpx) spends 1-3 ms of CPU per request. A generator on the same cores as the server
then takes CPU from it, and its own event loop lags under bursts, which shows up as server latency.
This one spends a small fraction of that, so the figures measure the server.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any


class HTTPError(Exception):
    """The connection failed or closed before a whole answer arrived."""


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Connection:
    """One keep-alive connection to `host:port`, reopened after the server closes it or it fails."""

    def __init__(self, port: int, host_header: str, timeout: float = 60.0) -> None:
        self._port = port
        self._host = host_header
        self._timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> Answer:
        return await self.request("GET", path, headers)

    async def post(self, path: str, headers: dict[str, str], json_body: Any = None) -> Answer:
        return await self.request("POST", path, headers, _json(json_body), "application/json")

    async def put(self, path: str, headers: dict[str, str], json_body: Any) -> Answer:
        return await self.request("PUT", path, headers, _json(json_body), "application/json")

    async def post_file(
        self, path: str, headers: dict[str, str], field: str, name: str, media_type: str, data: bytes
    ) -> Answer:
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f"Content-Type: {media_type}\r\n\r\n"
        ).encode()
        body = b"".join([head, data, f"\r\n--{boundary}--\r\n".encode()])
        return await self.request("POST", path, headers, body, f"multipart/form-data; boundary={boundary}")

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b"", content_type: str = ""
    ) -> Answer:
        try:
            return await asyncio.wait_for(self._exchange(method, path, headers, body, content_type), self._timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
            self.close()
            raise HTTPError(repr(error)) from error

    async def _exchange(
        self, method: str, path: str, headers: dict[str, str], body: bytes, content_type: str
    ) -> Answer:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        reader, writer = self._reader, self._writer
        assert reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}", "Accept: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and b"close" in value.lower():
                close = True
        content = await reader.readexactly(length)
        if close:
            self.close()
        return Answer(status, content)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _json(value: Any) -> bytes:
    return b"" if value is None else json.dumps(value, separators=(",", ":")).encode()
