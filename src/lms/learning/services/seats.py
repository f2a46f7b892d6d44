"""The seat hook every enrolment passes through.

Today it checks the tenant's `seats` (set by the operator, later by billing) against the learners
who hold an active enrolment: a learner already holding one uses no extra seat; `seats = 0` means
no limit has been configured. Billing replaces the count source, not this call site.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib.errors import Conflict


class SeatLimitReached(Conflict):
    code = "seat_limit_reached"


_LOCK = text("select pg_advisory_xact_lock(hashtextextended('lms.seats:' || :tenant, 0))")
_USAGE = text(
    """
    select t.seats,
           (select count(distinct e.user_id) from enrollments e where e.status = 'active') as used,
           exists (select 1 from enrollments e where e.user_id = :user and e.status = 'active') as holds_seat
      from tenants t where t.id = :tenant
    """
)


async def reserve_seat(session: AsyncSession, tenant_id: UUID, user_id: UUID) -> None:
    """Raise SeatLimitReached unless `user_id` may hold an active enrolment in this tenant.

    Serialised per tenant by a transaction-scoped advisory lock, so two concurrent enrolments
    cannot both take the last seat.
    """
    await session.execute(_LOCK, {"tenant": str(tenant_id)})
    row = (await session.execute(_USAGE, {"tenant": tenant_id, "user": user_id})).one()
    if row.seats and not row.holds_seat and row.used >= row.seats:
        raise SeatLimitReached(f"all {row.seats} seats of this site are in use; ask an administrator for more seats")
