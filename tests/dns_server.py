"""A small authoritative DNS server on 127.0.0.1 for tests: answers from a dict the test changes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class LocalDns:
    """`records[(name, type)] = [values]`, e.g. `("_lms-verify.learn.acme.test", "TXT"): ['"token"']`."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def publish(self, name: str, rdtype: str, *values: str) -> None:
        self.records[(name.lower().rstrip("."), rdtype)] = list(values)

    def withdraw(self, name: str, rdtype: str) -> None:
        self.records.pop((name.lower().rstrip("."), rdtype), None)

    def _serve(self) -> None:
        while self._running:
            try:
                data, address = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            for question in query.question:
                name = question.name.to_text().rstrip(".").lower()
                rdtype = dns.rdatatype.to_text(question.rdtype)
                values = self.records.get((name, rdtype))
                if values:
                    response.answer.append(dns.rrset.from_text(question.name, 60, "IN", rdtype, *values))
                elif not any(known == name for known, _ in self.records):
                    response.set_rcode(dns.rcode.NXDOMAIN)
            self._socket.sendto(response.to_wire(), address)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._thread.join(timeout=2)
        self._socket.close()


@contextmanager
def local_dns() -> Iterator[LocalDns]:
    server = LocalDns()
    server.start()
    try:
        yield server
    finally:
        server.stop()
