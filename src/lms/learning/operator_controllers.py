"""Operator API for progress dead letters under /api/v1/operator/dead-letters (operator credentials only)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from lms.db.engines import Database
from lms.learning.dead_letters import DeadLetterOut, list_dead_letters
from lms.lib.pagination import Page, PageParams
from lms.tenancy.guards import requires_operator


async def provide_operator_session(database: NamedDependency[Database]) -> AsyncGenerator[AsyncSession, None]:
    """A read-only, platform-wide session (the operator role) for one request."""
    async with database.operator_sessions() as session:
        yield session


class DeadLetterOperatorController(Controller):
    path = "/api/v1/operator/dead-letters"
    guards = [requires_operator]
    dependencies = {"operator_session": Provide(provide_operator_session)}
    tags = ["operator"]

    @get()
    async def list_dead_letters(
        self,
        operator_session: NamedDependency[AsyncSession],
        page: NamedDependency[PageParams],
        tenant_id: FromQuery[UUID | None] = None,
    ) -> Page[DeadLetterOut]:
        """Progress events the fold could not store, newest first; `tenant_id` narrows to one tenant."""
        return await list_dead_letters(operator_session, tenant_id, page.limit, page.offset)
