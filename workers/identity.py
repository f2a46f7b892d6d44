"""Identity task wrappers: e-mail delivery from the outbox."""

from __future__ import annotations

import smtplib
from uuid import UUID

from lms.config import get_settings
from lms.identity.mail import SEND_EMAIL_TASK, deliver_email
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run


@celery_app.task(
    name=SEND_EMAIL_TASK,
    autoretry_for=(OSError, smtplib.SMTPException, TransientFailure),
    retry_backoff=True,
    max_retries=8,
)
def send_email_task(tenant_id: str, message_id: str) -> str:
    return run(deliver_email(database().app_sessions, get_settings(), UUID(tenant_id), UUID(message_id)))
