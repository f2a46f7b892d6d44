"""Seat utilisation: the seats page (used, available, trend, who holds them) and the daily snapshot
(seats used and licensed, and the media storage, which the operator console charts)."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import SeatSnapshot
from lms.billing.queries import licence_of
from lms.billing.schemas import SeatDayOut, SeatHolderOut, SeatsOut
from lms.billing.services.accounts import notify_admins
from lms.config import get_settings
from lms.learning.queries import seat_holders, seats_in_use
from lms.lib import clock
from lms.lib.ids import new_id
from lms.media.queries import storage_in_use
from lms.notifications.schemas import N_

HISTORY_DAYS = 30
# Admins hear when this share of the licensed seats is in use (on plans that refuse the overage).
NEARLY_FULL = 0.9


async def seat_summary(session: AsyncSession, tenant_id: UUID) -> SeatsOut:
    licence = await licence_of(session, tenant_id)
    used = await seats_in_use(session)
    return SeatsOut(
        used=used,
        licensed=licence.seat_limit,
        available=max(0, licence.seat_limit - used) if licence.seat_limit else 0,
        overage_allowed=licence.overage_allowed,
        history=await seat_history(session, clock.now().date() - timedelta(days=HISTORY_DAYS)),
    )


async def seat_history(session: AsyncSession, since: date) -> list[SeatDayOut]:
    """The bound tenant's daily seat snapshots from `since` on, oldest first (days without one are absent)."""
    rows = await session.execute(
        select(SeatSnapshot.day, SeatSnapshot.used, SeatSnapshot.licensed, SeatSnapshot.storage_bytes)
        .where(SeatSnapshot.day >= since)
        .order_by(SeatSnapshot.day)
    )
    return [SeatDayOut(day, used, licensed, storage) for day, used, licensed, storage in rows]


async def holders(session: AsyncSession, limit: int, offset: int) -> tuple[list[SeatHolderOut], int]:
    items, total = await seat_holders(session, limit, offset)
    return [SeatHolderOut(h.user_id, h.display_name, h.email, h.active_enrollments) for h in items], total


async def snapshot_seats(session: AsyncSession, tenant_id: UUID, day: date | None = None) -> int:
    """Record today's seats and storage (idempotent: a second run the same day overwrites with the current
    counts)."""
    licence = await licence_of(session, tenant_id)
    used = await seats_in_use(session)
    storage = await storage_in_use(session)
    now = clock.now()
    statement = pg_insert(SeatSnapshot.__table__).values(  # type: ignore[arg-type]
        id=new_id(),
        tenant_id=tenant_id,
        day=day or now.date(),
        used=used,
        licensed=licence.seat_limit,
        storage_bytes=storage,
        created_at=now,
        updated_at=now,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "day"],
            set_={
                "used": statement.excluded.used,
                "licensed": statement.excluded.licensed,
                "storage_bytes": statement.excluded.storage_bytes,
                "updated_at": now,
            },
        )
    )
    if licence.seat_limit and not licence.overage_allowed and used >= NEARLY_FULL * licence.seat_limit:
        # Once a month per licence size: a full site is not announced every night.
        await notify_admins(
            session,
            get_settings(),
            tenant_id,
            N_("Your seats are nearly all in use"),
            N_("%(used)s of %(licensed)s seats are in use. Add seats before new learners are refused."),
            once_as=f"seats-nearly-full:{licence.seat_limit}:{now:%Y-%m}",
            used=str(used),
            licensed=str(licence.seat_limit),
        )
    return used
