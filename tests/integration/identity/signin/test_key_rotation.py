"""`lms keys rotate`: new tokens use the new key; tokens signed before keep working until their key retires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from lms.cli import _rotate_keys
from lms.config import Settings
from lms.db.engines import Database
from lms.identity.signin.services.keys import KeyRing, SigningKey
from lms.identity.signin.services.tokens import InvalidToken, issue_access_token, verify_access_token
from tests.conftest import MakeTenant, MakeUser


async def test_rotation_keeps_old_tokens_valid_until_the_old_key_retires(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant)
    before = KeyRing(db.app_sessions, settings.secret_key)
    old_token = await issue_access_token(before, user.id, tenant.id, ["learner"], 600)
    old_kid = (await before.signing_key()).kid

    new_kid = await _rotate_keys(settings)

    after = KeyRing(db.app_sessions, settings.secret_key)
    assert (await after.signing_key()).kid == new_kid != old_kid
    assert {k["kid"] for k in (await after.jwks())["keys"]} >= {old_kid, new_kid}
    assert (await verify_access_token(after, old_token)).user_id == user.id
    new_token = await issue_access_token(after, user.id, tenant.id, ["learner"], 600)
    assert (await verify_access_token(after, new_token)).user_id == user.id

    # Once the retired key's verification window has passed, its tokens are refused and it leaves the JWKS.
    async with db.operator_sessions() as session, session.begin():
        retired = await session.execute(
            update(SigningKey)
            .where(SigningKey.kid == old_kid)
            .values(verify_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert retired.rowcount == 1  # type: ignore[attr-defined]
    try:
        later = KeyRing(db.app_sessions, settings.secret_key)
        assert old_kid not in {k["kid"] for k in (await later.jwks())["keys"]}
        with pytest.raises(InvalidToken, match="unknown signing key"):
            # Even though this process verified the token before, a withdrawn key ends it.
            await verify_access_token(later, old_token)
    finally:
        async with db.operator_sessions() as session, session.begin():
            await session.execute(
                update(SigningKey)
                .where(SigningKey.kid == old_kid)
                .values(verify_until=datetime.now(UTC) + timedelta(minutes=30))
            )
