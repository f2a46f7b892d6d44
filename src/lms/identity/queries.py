"""Identity reads other domains may call: how to address a user, never the account row itself.

They run on the caller's tenant-bound session, so RLS scopes them like any identity query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from lms.identity.models import ScimToken, SsoIdentity, SsoProvider, User, UserStatus
from lms.lib.records import row_record


@dataclass(frozen=True)
class UserContact:
    id: UUID
    display_name: str
    email: str
    locale: str | None = None
    time_zone: str | None = None


async def user_contact(session: AsyncSession, user_id: UUID) -> UserContact | None:
    user = await session.get(User, user_id)
    if user is None:
        return None
    return UserContact(user.id, user.display_name, user.email, user.locale, user.time_zone)


async def user_contacts(session: AsyncSession, user_ids: set[UUID]) -> dict[UUID, UserContact]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.display_name, User.email, User.locale, User.time_zone).where(User.id.in_(user_ids))
    )
    return {row[0]: UserContact(*row) for row in rows}


async def active_user_ids(session: AsyncSession, roles: frozenset[str] | None = None) -> list[UUID]:
    """Every active or invited account of the bound tenant, optionally only those holding one of `roles`."""
    query = select(User.id).where(User.status != UserStatus.DEACTIVATED)
    if roles:
        query = query.where(User.roles.overlap(list(roles)))
    return list(await session.scalars(query))


async def group_members(session: AsyncSession, groups: list[str]) -> list[UUID]:
    """Active accounts sharing at least one of `groups` (the membership as the directory keeps it)."""
    if not groups:
        return []
    query = select(User.id).where(User.status != UserStatus.DEACTIVATED, User.groups.overlap(groups))
    return list(await session.scalars(query))


async def user_groups(session: AsyncSession, user_id: UUID) -> list[str]:
    return list(await session.scalar(select(User.groups).where(User.id == user_id)) or [])


async def user_status(session: AsyncSession, user_id: UUID) -> UserStatus | None:
    """The account's status; None when there is no such user in this tenant."""
    return await session.scalar(select(User.status).where(User.id == user_id))


@dataclass(frozen=True)
class AccountCounts:
    """How many accounts the bound tenant has, for admin overviews."""

    total: int
    active: int
    invited: int
    deactivated: int
    admins: int


async def account_counts(session: AsyncSession) -> AccountCounts:
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(User.status == UserStatus.ACTIVE),
                func.count().filter(User.status == UserStatus.INVITED),
                func.count().filter(User.status == UserStatus.DEACTIVATED),
                func.count().filter(User.roles.contains(["tenant_admin"])),
            )
        )
    ).one()
    return AccountCounts(*(int(v) for v in row))


async def sso_provider_count(session: AsyncSession) -> int:
    """Enabled single sign-on providers of the bound tenant."""
    return int(await session.scalar(select(func.count()).where(SsoProvider.enabled.is_(True))) or 0)


async def active_scim_token_count(session: AsyncSession) -> int:
    """SCIM tokens of the bound tenant that are not revoked (an identity provider may be using them)."""
    return int(await session.scalar(select(func.count()).where(ScimToken.revoked_at.is_(None))) or 0)


@dataclass(frozen=True)
class Report:
    """Someone in a manager's line: depth 1 reports directly, 2 to a direct report, and so on."""

    id: UUID
    display_name: str
    email: str
    manager_id: UUID
    depth: int


_REPORTS = text(
    """
    with recursive line as (
        select u.id, u.display_name, u.email, u.manager_id, 1 as depth, array[u.id] as path
          from users u where u.manager_id = :manager and u.status <> 'deactivated'
        union all
        select u.id, u.display_name, u.email, u.manager_id, l.depth + 1, l.path || u.id
          from users u join line l on u.manager_id = l.id
         where u.status <> 'deactivated' and l.depth < :max_depth and not u.id = any(l.path)
    )
    select id, display_name, email, manager_id, depth from line order by depth, display_name
    """
)


async def reports_of(session: AsyncSession, manager_id: UUID, max_depth: int = 12) -> list[Report]:
    """A manager's direct and indirect reports (deactivated people and cycles left out)."""
    rows = await session.execute(_REPORTS, {"manager": manager_id, "max_depth": max_depth})
    return [Report(*row) for row in rows.all()]


async def tenant_admin_contacts(session: AsyncSession) -> list[UserContact]:
    """The bound tenant's active administrators (who billing notices go to)."""
    rows = await session.execute(
        select(User.id, User.display_name, User.email)
        .where(User.roles.contains(["tenant_admin"]), User.status == UserStatus.ACTIVE)
        .order_by(User.created_at)
    )
    return [UserContact(user_id, name, email) for user_id, name, email in rows]


async def user_ids_by_email(session: AsyncSession, emails: list[str]) -> dict[str, UUID]:
    """Lower-cased e-mail -> user id, for the addresses that belong to users of this tenant."""
    if not emails:
        return {}
    wanted = [email.lower() for email in emails]
    rows = await session.execute(select(User.id, User.email).where(func.lower(User.email).in_(wanted)))
    return {email.lower(): user_id for user_id, email in rows}


# Secrets and session bookkeeping stay out of a person's data export.
_PROFILE_LEAVE_OUT = ("password_hash", "totp_secret_encrypted", "tokens_revoked_at")


async def profile_record(session: AsyncSession, user_id: UUID) -> dict[str, Any] | None:
    """A person's account as a plain record with their single sign-on links, for their data export;
    None when there is no such user in this tenant."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    links = await session.execute(
        select(SsoProvider.name, SsoIdentity.subject, SsoIdentity.email_at_link, SsoIdentity.created_at)
        .join(SsoProvider, SsoProvider.id == SsoIdentity.provider_id)
        .where(SsoIdentity.user_id == user_id)
        .order_by(SsoIdentity.created_at)
    )
    return {
        **row_record(user, leave_out=_PROFILE_LEAVE_OUT),
        "single_sign_on": [
            {"provider": name, "subject": subject, "email_at_link": email, "linked_at": linked_at}
            for name, subject, email, linked_at in links
        ],
    }


async def managers_of(session: AsyncSession, user_ids: list[UUID]) -> dict[UUID, UUID]:
    """Person -> their active manager, for the people of `user_ids` who have one."""
    if not user_ids:
        return {}
    manager = aliased(User)
    rows = await session.execute(
        select(User.id, manager.id)
        .join(manager, manager.id == User.manager_id)
        .where(User.id.in_(user_ids), manager.status == UserStatus.ACTIVE)
    )
    return {person: boss for person, boss in rows.all()}
