"""The seat hook every enrolment passes through.

A seat is held by an active learner (`lms.learning.queries.seats_in_use`); the number of seats and
what happens past it come from billing's licence (`lms.billing.queries.licence_of`): plans that bill
the overage let the enrolment through, the others refuse it. A limit of 0 means none is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.queries import licence_of
from lms.lib.errors import Conflict

# A seat is held by an active learner: an account that is not deactivated and holds at least one
# active enrolment (completed, refunded and expired enrolments hold none).
_SEAT_HOLDERS = """
    from enrollments e join users u on u.tenant_id = e.tenant_id and u.id = e.user_id
   where e.status = 'active' and u.status <> 'deactivated'
"""


async def seats_in_use(session: AsyncSession) -> int:
    """Active learners of the bound tenant (see `_SEAT_HOLDERS`)."""
    return int(await session.scalar(text(f"select count(distinct e.user_id) {_SEAT_HOLDERS}")) or 0)


async def seats_in_use_by_tenant(session: AsyncSession, tenant_ids: list[UUID]) -> dict[UUID, int]:
    """Active learners of each tenant at once, on the operator's platform-wide session (the console's
    tenant list); a tenant without any is absent."""
    if not tenant_ids:
        return {}
    rows = await session.execute(
        text(f"select e.tenant_id, count(distinct e.user_id) {_SEAT_HOLDERS} and e.tenant_id = any(:ids) group by 1"),
        {"ids": tenant_ids},
    )
    return {tenant_id: int(count) for tenant_id, count in rows}


async def holds_seat(session: AsyncSession, user_id: UUID) -> bool:
    return bool(
        await session.scalar(text(f"select exists (select 1 {_SEAT_HOLDERS} and e.user_id = :u)"), {"u": user_id})
    )


@dataclass(frozen=True)
class SeatHolder:
    user_id: UUID
    display_name: str
    email: str
    active_enrollments: int


async def seat_holders(session: AsyncSession, limit: int, offset: int) -> tuple[list[SeatHolder], int]:
    """Who holds the bound tenant's seats, most enrolments first, and how many they are."""
    rows = await session.execute(
        text(
            f"""select e.user_id, u.display_name, u.email, count(*) as n, count(*) over () as total
                  {_SEAT_HOLDERS}
                 group by e.user_id, u.display_name, u.email
                 order by n desc, u.display_name limit :limit offset :offset"""
        ),
        {"limit": limit, "offset": offset},
    )
    items = [(SeatHolder(r.user_id, r.display_name, r.email, r.n), r.total) for r in rows]
    total = items[0][1] if items else await seats_in_use(session)
    return [holder for holder, _ in items], int(total)


class SeatLimitReached(Conflict):
    code = "seat_limit_reached"


_LOCK = text("select pg_advisory_xact_lock(hashtextextended('lms.seats:' || :tenant, 0))")


async def reserve_seat(session: AsyncSession, tenant_id: UUID, user_id: UUID) -> None:
    """Raise SeatLimitReached unless `user_id` may hold an active enrolment in this tenant.

    Serialised per tenant by a transaction-scoped advisory lock, so two concurrent enrolments
    cannot both take the last seat.
    """
    await session.execute(_LOCK, {"tenant": str(tenant_id)})
    licence = await licence_of(session, tenant_id)
    if not licence.seat_limit or licence.overage_allowed or await holds_seat(session, user_id):
        return
    if await seats_in_use(session) >= licence.seat_limit:
        raise SeatLimitReached(
            f"all {licence.seat_limit} seats of this site are in use; ask an administrator for more seats"
        )


async def reserve_seat_if_enrolled(session: AsyncSession, tenant_id: UUID, user_id: UUID) -> None:
    """A deactivated learner who comes back with active enrolments takes a seat again: refused with
    SeatLimitReached when none is free (and the plan does not bill the overage)."""
    enrolled = await session.scalar(
        text("select exists (select 1 from enrollments where user_id = :u and status = 'active')"), {"u": user_id}
    )
    if enrolled:
        await reserve_seat(session, tenant_id, user_id)
