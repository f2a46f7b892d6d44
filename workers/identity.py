"""Identity task wrappers: e-mail delivery from the outbox."""

from __future__ import annotations

import smtplib
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import get_settings
from lms.lib.mail import SEND_EMAIL_TASK, deliver_queued
from workers.runtime import TransientFailure, tenant_task


@tenant_task(
    SEND_EMAIL_TASK, autoretry_for=(OSError, smtplib.SMTPException, TransientFailure), retry_backoff=True, max_retries=8
)
async def send_email_task(session: AsyncSession, tenant_id: UUID, message_id: UUID) -> str:
    """Send one outbox message; idempotent (a sent message is left alone)."""
    return await deliver_queued(session, get_settings(), message_id)
