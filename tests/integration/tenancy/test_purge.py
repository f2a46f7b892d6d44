"""Deleting a tenant hides it at once; the purge job (a real Celery worker) removes every row."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text

from lms.db.engines import Database
from lms.tenancy.models import OperatorAuditEntry, Tenant
from lms.tenancy.services import tenant_tables_in_purge_order
from tests.conftest import MakeTenant, MakeUser, eventually
from tests.support import TEST_BASE_DOMAIN

OPS = f"http://{TEST_BASE_DOMAIN}/api/v1/operator"


async def count_rows(db: Database, tenant_id: Any) -> int:
    async with db.operator_sessions() as session:
        total = 0
        for table in tenant_tables_in_purge_order():
            total += (
                await session.execute(text(f"select count(*) from {table} where tenant_id = :t"), {"t": tenant_id})
            ).scalar_one()
        return total


async def test_purge_removes_all_rows_of_a_deleted_tenant_only(
    client: AsyncTestClient[Litestar],
    db: Database,
    operator_token: str,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    worker: Any,
) -> None:
    doomed, neighbour = await make_tenant(), await make_tenant()
    for tenant in (doomed, neighbour):
        await make_user(tenant)
        await make_user(tenant)
    headers = {"Authorization": f"Bearer {operator_token}"}
    await client.post(
        f"{OPS}/tenants/{doomed.id}/domains", json={"hostname": f"{doomed.slug}.example.com"}, headers=headers
    )
    assert await count_rows(db, doomed.id) == 3

    refused = await client.post(f"{OPS}/tenants/{doomed.id}/purge", headers=headers)
    assert refused.status_code == 409  # only a deleted tenant can be purged

    await client.delete(f"{OPS}/tenants/{doomed.id}", headers=headers)
    queued = await client.post(f"{OPS}/tenants/{doomed.id}/purge", headers=headers)
    assert queued.status_code == 202

    async def tenant_gone() -> bool:
        async with db.operator_sessions() as session:
            return await session.get(Tenant, doomed.id) is None

    await eventually(tenant_gone, timeout=60)
    assert await count_rows(db, doomed.id) == 0
    assert await count_rows(db, neighbour.id) == 2
    async with db.operator_sessions() as session:
        purged = (
            await session.execute(
                select(func.count()).where(
                    OperatorAuditEntry.target_tenant_id == doomed.id, OperatorAuditEntry.action == "tenant.purge"
                )
            )
        ).scalar_one()
    assert purged == 1
