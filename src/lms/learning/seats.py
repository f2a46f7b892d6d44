"""The seat hook every enrolment passes through.

A seat is held by an active learner (`lms.learning.queries.seats_in_use`); the number of seats and
what happens past it come from billing's licence (`lms.billing.queries.licence_of`): plans that bill
the overage let the enrolment through, the others refuse it. A limit of 0 means none is configured.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.queries import licence_of
from lms.learning.queries import holds_seat, seats_in_use
from lms.lib.errors import Conflict


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
