"""An access token stops working soon after its user's sessions end, not only at its expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.signin.services.revocation import POLL_SECONDS
from tests.conftest import Login, MakeTenant, MakeUser, eventually, host
from tests.integration.catalog.helpers import Client
from tests.integration.identity.helpers import PASSWORD, make_member

LIMIT = POLL_SECONDS + 3


async def test_deactivating_a_user_ends_their_access_tokens_within_seconds(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other_tenant = await make_tenant(), await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    learner, colleague = await make_user(tenant), await make_user(tenant)
    stranger = await make_user(other_tenant)
    tokens = {u.id: await login(u) for u in (admin, learner, colleague, stranger)}
    me = f"{host(tenant)}/api/v1/me"
    assert (await client.get(me, headers=tokens[learner.id])).status_code == 200
    await asyncio.sleep(1.1)  # tokens carry whole seconds: issue them a second before the revocation

    deactivated = await client.post(f"{host(tenant)}/api/v1/users/{learner.id}/deactivate", headers=tokens[admin.id])
    assert deactivated.status_code == 200

    async def refused() -> bool:
        return (await client.get(me, headers=tokens[learner.id])).status_code == 401

    await eventually(refused, timeout=LIMIT)
    answer = await client.get(me, headers=tokens[learner.id])
    assert answer.json()["error"]["message"] == "this session has ended; sign in again"
    # Nobody else is affected, in this tenant or another.
    assert (await client.get(me, headers=tokens[colleague.id])).status_code == 200
    assert (await client.get(f"{host(other_tenant)}/api/v1/me", headers=tokens[stranger.id])).status_code == 200

    # Reactivated, the user signs in again and the new token works.
    reactivated = await client.post(f"{host(tenant)}/api/v1/users/{learner.id}/reactivate", headers=tokens[admin.id])
    assert reactivated.status_code == 200
    await asyncio.sleep(1.1)
    assert (await client.get(me, headers=await login(learner))).status_code == 200


async def test_changing_the_password_ends_other_access_tokens_but_not_the_new_one(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    old = await login(user)
    await asyncio.sleep(1.1)
    changed = await client.post(
        f"{host(tenant)}/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "an entirely new passphrase"},
        headers=old,
    )
    assert changed.status_code == 200
    new = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    me = f"{host(tenant)}/api/v1/me"

    async def old_refused() -> bool:
        return (await client.get(me, headers=old)).status_code == 401

    await eventually(old_refused, timeout=LIMIT)
    assert (await client.get(me, headers=new)).status_code == 200


async def test_the_revocation_function_reveals_recent_user_ids_and_instants_only(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    """app.recently_revoked_users is SECURITY DEFINER: it must not become a way to read users."""
    tenant = await make_tenant()
    revoked, untouched = await make_user(tenant), await make_user(tenant)
    now = datetime.now(UTC)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(
            text("update users set tokens_revoked_at = :at where id = :id"), {"at": now, "id": revoked.id}
        )
    async with tenant_session(db.app_sessions, None) as session:
        query = text("select * from app.recently_revoked_users(:since)")
        recent = (await session.execute(query, {"since": now - timedelta(minutes=1)})).mappings().all()
        later = (await session.execute(query, {"since": now + timedelta(seconds=1)})).all()
        visible_users = (await session.execute(text("select count(*) from users"))).scalar_one()
    mine = [row for row in recent if row["user_id"] in (revoked.id, untouched.id)]
    assert [(row["user_id"], set(row)) for row in mine] == [(revoked.id, {"user_id", "revoked_at"})]
    assert all(row.user_id != revoked.id for row in later)
    assert visible_users == 0  # without a bound tenant the table itself stays invisible
