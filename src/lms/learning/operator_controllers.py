"""Operator API for progress dead letters under /api/v1/operator/dead-letters (operator credentials only)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from lms.learning.dead_letters import DeadLetterOut, list_dead_letters
from lms.lib.pagination import Page, PageParams
from lms.tenancy.guards import requires_operator


async def provide_operator_session(request: Request[Any, Any, Any]) -> AsyncGenerator[AsyncSession, None]:
    """A read-only, platform-wide session (the operator role) for one request."""
    async with request.app.state.db.operator_sessions() as session:
        yield session


class DeadLetterOperatorController(Controller):
    path = "/api/v1/operator/dead-letters"
    guards = [requires_operator]
    dependencies = {"operator_session": Provide(provide_operator_session)}
    tags = ["operator"]

    @get()
    async def list_dead_letters(
        self, operator_session: AsyncSession, page: PageParams, tenant_id: UUID | None = None
    ) -> Page[DeadLetterOut]:
        """Progress events the fold could not store, newest first; `tenant_id` narrows to one tenant."""
        return await list_dead_letters(operator_session, tenant_id, page.limit, page.offset)
