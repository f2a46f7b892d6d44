"""fetch_row (a hot read sent straight to asyncpg) keeps the session's tenant binding: RLS applies as to
any query of the session, across tenants, with no tenant bound, and after a commit; errors arrive as
SQLAlchemy's and leave the session usable."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import ProgrammingError

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.db.reads import fetch_row
from lms.identity.accounts.services.profiles import read_profile
from lms.identity.models import UserStatus
from tests.conftest import MakeTenant, MakeUser

BY_ID = "SELECT email FROM users WHERE id = $1"


async def test_a_row_is_read_only_under_its_own_tenant(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    mine, other = await make_tenant(), await make_tenant()
    user = await make_user(mine)
    async with tenant_session(db.app_sessions, mine.id) as session:
        row = await fetch_row(session, BY_ID, user.id)
        assert row is not None
        assert row[0] == user.email
        await session.commit()  # the next transaction is bound again
        assert (await fetch_row(session, BY_ID, user.id)) is not None
    async with tenant_session(db.app_sessions, other.id) as session:
        assert await fetch_row(session, BY_ID, user.id) is None
    async with tenant_session(db.app_sessions, None) as session:
        assert await fetch_row(session, BY_ID, user.id) is None


async def test_the_profile_read_matches_the_stored_user(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    user = await make_user(tenant, roles=["learner", "instructor"])
    async with tenant_session(db.app_sessions, tenant.id) as session:
        profile = await read_profile(session, user.id)
    assert profile is not None
    assert (profile.id, profile.tenant_id, profile.email) == (user.id, tenant.id, user.email)
    assert (profile.display_name, profile.roles, profile.status) == (user.display_name, user.roles, user.status)
    assert isinstance(profile.status, UserStatus)
    async with tenant_session(db.app_sessions, other.id) as session:
        assert await read_profile(session, user.id) is None


async def test_an_error_is_raised_as_sqlalchemy_raises_it(db: Database) -> None:
    async with db.app_sessions() as session:
        with pytest.raises(ProgrammingError):
            await fetch_row(session, "SELECT no_such_column FROM users")
        await session.rollback()
        assert (await fetch_row(session, "SELECT 1"))[0] == 1
