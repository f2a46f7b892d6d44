"""The compliance jobs: the periodic run over every tenant (new group members enrolled, lapsed
completions reopened, managers told of overdue training), and one tenant's sync sent when its
memberships changed (see `schedule_sync`). Cheap when nothing changed: per rule one query for its
members and one set-based query for those without an enrolment.

Both bring dynamic groups up to date with people's attributes first (SCIM and single sign-on change
attributes without touching groups), and both hold the tenant's sync lock, so two runs for one tenant
never enrol the same person at once."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms.compliance.models import ComplianceSyncRequest
from lms.compliance.services.rules import RulesApplied, apply_all_rules
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.organisation.services.groups import Groups
from lms.tenancy.queries import active_tenant_ids


async def _sync_locked(session: AsyncSession, tenant_id: UUID) -> RulesApplied:
    # Transaction-scoped: released when the sync commits or rolls back.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"compliance.sync:{tenant_id}", 0))))
    await Groups(session, tenant_id).apply_rules()
    return await apply_all_rules(session)


async def apply_training_rules(db: Database) -> RulesApplied:
    """What the rules did over every active tenant (the periodic safety net)."""
    async with db.operator_sessions() as session:
        tenants = await active_tenant_ids(session)
    done = RulesApplied()
    for tenant_id in tenants:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            done.add(await _sync_locked(session, tenant_id))
    return done


async def sync_tenant(sessions: async_sessionmaker[AsyncSession], tenant_id: UUID) -> RulesApplied:
    """One tenant's rules applied now; idempotent (a redelivered job applies them again, changing nothing).

    The pending request is taken first, in a transaction of its own: the delete waits for every change
    that joined it to commit, and a change committing after it writes a new request and sends a new job.
    """
    async with tenant_session(sessions, tenant_id) as session:
        await session.execute(delete(ComplianceSyncRequest))
    async with tenant_session(sessions, tenant_id) as session:
        return await _sync_locked(session, tenant_id)
