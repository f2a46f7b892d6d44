"""Certificate task wrappers: issue on course completion, render PDFs, send expiry reminders."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from lms.certificates.services import issue_and_render as issue_certificate_and_render
from lms.certificates.services import render_certificate
from lms.certificates.services.lifecycle import send_all_expiry_reminders
from lms.certificates.services.rendering import CertificateTemplates, process_renderer
from lms.certificates.tasks import ISSUE_TASK, REMINDERS_TASK, RENDER_TASK
from lms.config import get_settings
from lms.lib.faults import DiskFull
from workers.app import celery_app
from workers.runtime import database, run

_templates: CertificateTemplates | None = None


def templates() -> CertificateTemplates:
    global _templates
    if _templates is None:
        _templates = CertificateTemplates(get_settings().branding_dir)
    return _templates


async def issue_and_render(tenant_id: UUID, enrollment_id: UUID) -> str | None:
    """Issue the enrolment's certificate (once) and render its PDF (once)."""
    cert_id = await issue_certificate_and_render(
        database(), get_settings(), process_renderer(), templates(), tenant_id, enrollment_id
    )
    return str(cert_id) if cert_id is not None else None


# Retry what may pass (a crashed browser, a lost connection); a full disk fails at once.
RETRY: dict[str, Any] = {
    "autoretry_for": (Exception,),
    "dont_autoretry_for": (DiskFull,),
    "retry_backoff": True,
    "max_retries": 5,
}


@celery_app.task(name=ISSUE_TASK, **RETRY)
def course_completed_task(tenant_id: str, enrollment_id: str) -> str | None:
    """Sent by the learning domain after a completion commits; idempotent under redelivery."""
    return run(issue_and_render(UUID(tenant_id), UUID(enrollment_id)))


@celery_app.task(name=RENDER_TASK, **RETRY)
def render_task(tenant_id: str, cert_id: str) -> str | None:
    settings = get_settings()
    return run(
        render_certificate(database(), settings, process_renderer(), templates(), UUID(tenant_id), UUID(cert_id))
    )


@celery_app.task(name=REMINDERS_TASK)
def send_expiry_reminders_task() -> int:
    """Daily: recertification reminders for compliance certificates nearing expiry."""
    return run(send_all_expiry_reminders(database(), get_settings()))
