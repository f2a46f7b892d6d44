"""uvicorn's httptools protocol, writing a response's head and its body to the socket in one write.

uvicorn writes the status line and headers as soon as the application sends `http.response.start`, and
the body at `http.response.body`: two socket writes per response, each a system call whose loopback or
network path wakes the reader. A response's head is now held until its body follows (the application
sends both in one step of the event loop) and goes out with it; whatever is still held when that step
ends (a HEAD answer, a streamed response whose body comes later) is written then, so nothing waits longer
than the current step. `lms api` and the benchmarks run uvicorn with this protocol
(`--http lms.lib.http_protocol:OneWriteHttpToolsProtocol`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL_PATH = "lms.lib.http_protocol:OneWriteHttpToolsProtocol"


class _HeldWrites:
    """The transport as one response cycle sees it: its first write (the response's head) is held until
    the next one (then both go out as one) or until the current event-loop step ends; later writes and
    everything else are the transport's own."""

    __slots__ = ("_held", "_holding", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._holding = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._holding:
            self._holding = False
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        held, self._held = self._held, None
        self._transport.write(held + bytes(data) if held is not None else data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose response cycles write through `_HeldWrites` (the protocol's own writes,
    such as a 400 for a malformed request, go straight to the transport)."""

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not previous:
            # The cycle's task has not run yet (it starts at the next step), so it never saw the transport.
            cycle.transport = _HeldWrites(self.transport, self.loop)  # type: ignore[assignment]
