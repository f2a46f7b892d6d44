"""Privacy task wrappers: building a person's personal data export."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import get_settings
from lms.lib.storage import storage_for
from lms.privacy.services.exports import build_export
from lms.privacy.tasks import EXPORT_TASK
from workers.runtime import TransientFailure, tenant_task


@tenant_task(EXPORT_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
async def build_personal_data_export_task(session: AsyncSession, tenant_id: UUID, export_id: UUID) -> str:
    """Write one export's zip; idempotent (a finished export is left alone, the key is fixed)."""
    return await build_export(session, tenant_id, export_id, storage_for(get_settings()))
