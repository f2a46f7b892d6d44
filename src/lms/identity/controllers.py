"""Identity routes: the public key set, and who am I."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import User
from lms.identity.principal import Principal, provide_principal, requires_user
from lms.lib.errors import NotFound


@get("/.well-known/jwks.json", include_in_schema=False, cache_control=None)
async def jwks(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Public keys that verify access tokens (current and not yet expired retired keys)."""
    return await request.app.state.key_ring.jwks()  # type: ignore[no-any-return]


class MeOut(msgspec.Struct):
    id: str
    tenant_id: str
    email: str
    display_name: str
    roles: list[str]
    status: str


class MeController(Controller):
    path = "/api/v1/me"
    guards = [requires_user]
    dependencies = {"principal": Provide(provide_principal)}
    tags = ["identity"]

    @get("/")
    async def me(self, db_session: AsyncSession, principal: Principal) -> MeOut:
        user = await db_session.get(User, principal.user_id)
        if user is None:
            raise NotFound("user not found")
        return MeOut(
            id=str(user.id),
            tenant_id=str(user.tenant_id),
            email=user.email,
            display_name=user.display_name,
            roles=list(user.roles),
            status=user.status.value,
        )
