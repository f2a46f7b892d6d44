"""SSO accounts at the service level: two first sign-ins of one person at the same moment make one account."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import SsoIdentity, SsoProvider, User
from lms.identity.sso.services.accounts import provision_user
from lms.identity.sso.services.provisioning import AssertedIdentity
from lms.lib.errors import Conflict
from tests.conftest import MakeTenant


async def test_simultaneous_first_sign_ins_make_one_account(db: Database, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        provider = SsoProvider(tenant_id=tenant.id, kind="oidc", name="Acme", config={"trust_unverified_email": True})
        session.add(provider)
        await session.flush()
        provider_id = provider.id
    identity = AssertedIdentity(
        subject=f"sub-{uuid.uuid4().hex}",
        email="twin@acme.com",
        email_verified=True,
        display_name="Twin",
        groups=[],
        group_roles=frozenset(),
    )
    both_checked = asyncio.Barrier(2)

    async def sign_in() -> User:
        async with tenant_session(db.app_sessions, tenant.id) as session:
            row = await session.get(SsoProvider, provider_id)
            assert row is not None
            await both_checked.wait()  # both start before either has written anything
            return await provision_user(session, row, identity)

    results = await asyncio.gather(sign_in(), sign_in(), return_exceptions=True)
    made = [r for r in results if isinstance(r, User)]
    refused = [r for r in results if isinstance(r, BaseException)]
    # Whichever way the two interleave: the one that loses the race is told to sign in again, or (when
    # the winner has committed before it looks) signs in to the account the winner made. Never two.
    assert made, results
    assert len({user.id for user in made}) == 1, results
    assert all(isinstance(error, Conflict) for error in refused), results
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar() == 1
        assert (await session.execute(select(func.count()).select_from(SsoIdentity))).scalar() == 1
