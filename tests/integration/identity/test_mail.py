"""With SMTP configured, queued e-mails are delivered once and marked sent; without it they stay readable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.mail import EmailMessage, deliver_email, queue_email
from tests.conftest import MakeTenant


class SmtpSink:
    """A minimal SMTP server: enough of RFC 5321 for smtplib to hand over a message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ready\r\n")
        while line := await reader.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250 sink\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                body = await reader.readuntil(b"\r\n.\r\n")
                self.messages.append(body)
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    async with server:
        yield sink


async def test_smtp_delivery_marks_the_message_sent_once(
    db: Database, settings: Settings, make_tenant: MakeTenant, smtp_sink: SmtpSink
) -> None:
    tenant = await make_tenant()
    smtp = replace(settings, smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}", mail_from="lms@example.com")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        message = await queue_email(session, smtp, tenant.id, "ada@acme.com", "Hello", "Body text")
        assert message.status == "queued"

    assert await deliver_email(db.app_sessions, smtp, tenant.id, message.id) == "sent"
    assert await deliver_email(db.app_sessions, smtp, tenant.id, message.id) == "sent"
    assert len(smtp_sink.messages) == 1
    assert b"Subject: Hello" in smtp_sink.messages[0]
    assert b"To: ada@acme.com" in smtp_sink.messages[0]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        stored = await session.get(EmailMessage, message.id)
        assert stored is not None
        assert stored.sent_at is not None


async def test_without_smtp_the_message_is_kept_and_logged(
    db: Database, settings: Settings, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        message = await queue_email(session, settings, tenant.id, "bob@acme.com", "Hi", "Text")
    assert message.status == "logged"
    assert await deliver_email(db.app_sessions, settings, tenant.id, message.id) == "logged"
