"""E-mail outbox for every domain: a message is a row first; SMTP delivers it when configured, else the
log shows it.

Keeping the row makes the demo (and tests) work without a mail server: the invitation link is in
the outbox table and in the log line.
"""

from __future__ import annotations

import smtplib
from datetime import datetime
from email import policy
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import anyio.to_thread
import structlog
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Index, String, Text, delete, func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from lms.config import Settings
from lms.db.base import Base, JsonDict, TenantScoped
from lms.db.binding import tenant_session
from lms.lib import clock
from lms.lib.jobs import enqueue_after_commit

# The task name predates the move to lib/; queued messages in Redis still carry it.
SEND_EMAIL_TASK = "identity.send_email"

log = structlog.get_logger(__name__)


class EmailMessage(TenantScoped, Base):
    """An e-mail the platform sends: queued here, delivered by SMTP when configured, else logged."""

    __tablename__ = "email_outbox"
    __tenant_table_args__ = (Index("ix_email_outbox_tenant_created", "tenant_id", "created_at"),)

    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The HTML alternative of `body`, when the sender made one.
    html_body: Mapped[str | None] = mapped_column(Text, default=None)
    # The display name in From (the tenant's name) and extra headers such as List-Unsubscribe.
    sender_name: Mapped[str | None] = mapped_column(String(200), default=None)
    headers: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    # queued -> sent (SMTP) | logged (no SMTP configured) | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


async def queue_email(
    session: AsyncSession,
    settings: Settings,
    tenant_id: UUID,
    recipient: str,
    subject: str,
    body: str,
    *,
    html_body: str | None = None,
    sender_name: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """Write the message to the outbox; with SMTP configured a job sends it after commit."""
    message = EmailMessage(
        tenant_id=tenant_id,
        recipient=recipient,
        subject=subject,
        body=body,
        html_body=html_body,
        sender_name=sender_name,
        headers=dict(headers or {}),
    )
    if settings.smtp_url is None:
        message.status = "logged"
        message.sent_at = clock.now()
        log.info("e-mail (no SMTP configured)", to=recipient, subject=subject, body=body)
    session.add(message)
    await session.flush()
    if settings.smtp_url is not None:
        enqueue_after_commit(session, SEND_EMAIL_TASK, str(tenant_id), str(message.id))
    return message


async def deliver_email(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, tenant_id: UUID, message_id: UUID
) -> str:
    """Send one queued message over SMTP in its own tenant-bound transaction."""
    async with tenant_session(sessions, tenant_id) as session:
        return await deliver_queued(session, settings, message_id)


async def deliver_queued(session: AsyncSession, settings: Settings, message_id: UUID) -> str:
    """Send one queued message over SMTP. Idempotent: a message already sent is left alone."""
    message = await session.get(EmailMessage, message_id, with_for_update=True)
    if message is None or message.status != "queued" or settings.smtp_url is None:
        return message.status if message is not None else "missing"
    try:
        await anyio.to_thread.run_sync(_send_smtp, settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        message.error = str(exc)[:2000]
        raise
    message.status = "sent"
    message.sent_at = clock.now()
    message.error = None
    return message.status


async def forget_recipient(session: AsyncSession, address: str) -> int:
    """Remove the bound tenant's messages to `address`, sent or still queued (a person's erasure: the
    copies hold their address, and a queued one must not reach them). Returns how many went."""
    result = await session.execute(delete(EmailMessage).where(func.lower(EmailMessage.recipient) == address.lower()))
    return int(getattr(result, "rowcount", 0) or 0)


def mime_message(settings: Settings, message: EmailMessage) -> MimeMessage:
    """The message as sent: plain text, plus the HTML alternative when there is one."""
    # Long unbroken values (the List-Unsubscribe address) must stay readable, not be encoded-word folded.
    mime = MimeMessage(policy=policy.default.clone(max_line_length=998))
    mime["From"] = formataddr((message.sender_name, settings.mail_from)) if message.sender_name else settings.mail_from
    mime["To"] = message.recipient
    mime["Subject"] = message.subject
    for name, value in (message.headers or {}).items():
        mime[name] = str(value)
    mime.set_content(message.body)
    if message.html_body:
        mime.add_alternative(message.html_body, subtype="html")
    return mime


def _send_smtp(settings: Settings, message: EmailMessage) -> None:
    url = urlsplit(settings.smtp_url or "")
    mime = mime_message(settings, message)
    smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with smtp_class(
        url.hostname or "localhost", url.port or (465 if url.scheme == "smtps" else 25), timeout=30
    ) as smtp:
        if url.scheme == "smtp+starttls":
            smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(mime)
