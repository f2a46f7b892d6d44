"""Tenant administration JSON API under /api/v1/admin (tenant admins only)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from lms.organisation.guards import requires_tenant_admin
from lms.organisation.schemas import ChecklistItemOut, ChecklistOut
from lms.organisation.services.checklist import Checklist, setup_checklist
from lms.tenancy.schemas import ResolvedTenant


def checklist_out(checklist: Checklist) -> ChecklistOut:
    return ChecklistOut(
        items=[ChecklistItemOut(key=i.key, done=i.done, detail=dict(i.detail)) for i in checklist.items],
        done=checklist.done,
        total=len(checklist.items),
        complete=checklist.complete,
    )


class AdminSetupController(Controller):
    path = "/api/v1/admin"
    guards = [requires_tenant_admin]
    tags = ["organisation"]

    @get("/setup")
    async def setup(
        self, db_session: NamedDependency[AsyncSession], tenant: NamedDependency[ResolvedTenant]
    ) -> ChecklistOut:
        """The setup checklist: branding, custom domain, single sign-on, people, first course (each from real state)."""
        return checklist_out(await setup_checklist(db_session, tenant.id))
