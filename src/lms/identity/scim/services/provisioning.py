"""SCIM provisioning against the tenant's accounts: users (create, replace, patch, deprovision) and groups."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from sqlalchemy import false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.compliance.services import schedule_sync
from lms.config import Settings
from lms.identity.accounts.services.directory import UserDirectory, take_seat_of
from lms.identity.models import ERASED_EMAIL_DOMAIN, Role, ScimToken, User, UserGroup, UserStatus
from lms.identity.scim.services.documents import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    LIST_SCHEMA,
    USER_SCHEMA,
    apply_patch,
    as_bool,
    parse_eq_filter,
)
from lms.identity.scim.services.errors import ScimError
from lms.identity.signin.services.sessions import token_hash
from lms.lib import clock
from lms.lib.errors import NotFound
from lms.lib.lookup import get_or_404
from lms.lib.pagination import Page, PageParams, count_and_fetch, paginate
from lms.tenancy.services.audit import AdminAudit

USER_FILTERS = {"username": "userName", "externalid": "externalId", "id": "id", "emails.value": "emails.value"}
GROUP_FILTERS = {"displayname": "displayName", "externalid": "externalId", "id": "id"}
MAX_PAGE = 200
# Enterprise extension attributes kept as the person's custom attributes (dynamic groups match on
# them, as on an import's columns): SCIM name -> attribute name.
ENTERPRISE_ATTRIBUTES = {
    "department": "department",
    "division": "division",
    "organization": "organization",
    "costCenter": "cost_center",
    "employeeNumber": "employee_number",
}
_ROLE_VALUES = {r.value for r in Role}


async def create_scim_token(
    session: AsyncSession, tenant_id: UUID, name: str, audit: AdminAudit
) -> tuple[ScimToken, str]:
    """A new SCIM bearer token; the raw value is returned once and only its hash is kept."""
    raw = f"scim_{secrets.token_urlsafe(32)}"
    token = ScimToken(tenant_id=tenant_id, name=name, token_hash=token_hash(raw))
    session.add(token)
    await session.flush()
    await audit.record("scim.token_created", "scim_token", token.id, token.name)
    return token, raw


async def find_scim_token(session: AsyncSession, raw: str) -> ScimToken | None:
    row = await session.execute(
        select(ScimToken).where(ScimToken.token_hash == token_hash(raw), ScimToken.revoked_at.is_(None))
    )
    return row.scalar_one_or_none()


async def list_scim_tokens(session: AsyncSession, page: PageParams) -> Page[ScimToken]:
    """The site's SCIM tokens, oldest first."""
    return await paginate(session, select(ScimToken).order_by(ScimToken.created_at, ScimToken.id), page)


async def live_scim_token(session: AsyncSession, token_id: UUID) -> ScimToken:
    """A token of this site that is not revoked (NotFound otherwise)."""
    token = await get_or_404(session, ScimToken, token_id, "SCIM token not found")
    if token.revoked_at is not None:
        raise NotFound("SCIM token not found")
    return token


async def revoke_scim_token(session: AsyncSession, token_id: UUID, audit: AdminAudit) -> ScimToken:
    """Revoke a token (once: a second revocation keeps the first time)."""
    token = await get_or_404(session, ScimToken, token_id, "SCIM token not found")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        await session.flush()
        await audit.record("scim.token_revoked", "scim_token", token.id, token.name)
    return token


def _uuid_or_none(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


class ScimProvisioning:
    """SCIM operations for the current tenant (RLS-bound session)."""

    def __init__(self, session: AsyncSession, tenant_id: UUID, settings: Settings, base_url: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.base_url = base_url.rstrip("/")
        self.directory = UserDirectory(session, tenant_id, settings, base_url)

    # --- users -------------------------------------------------------------------------------
    def user_document(self, user: User) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": str(user.id),
            "userName": user.email,
            "displayName": user.display_name,
            "name": {"formatted": user.display_name},
            "emails": [{"value": user.email, "type": "work", "primary": True}],
            "active": user.status is not UserStatus.DEACTIVATED,
            "roles": [{"value": role} for role in user.roles],
            "groups": [{"display": name} for name in user.groups or []],
            ENTERPRISE_SCHEMA: self._enterprise_document(user),
            "meta": {
                "resourceType": "User",
                "created": user.created_at.isoformat(),
                "lastModified": user.updated_at.isoformat(),
                "location": f"{self.base_url}/scim/v2/Users/{user.id}",
            },
        }
        if user.external_id:
            doc["externalId"] = user.external_id
        return doc

    def _enterprise_document(self, user: User) -> dict[str, Any]:
        doc: dict[str, Any] = {"manager": {"value": str(user.manager_id)}} if user.manager_id else {}
        attributes = user.attributes or {}
        for scim_name, name in ENTERPRISE_ATTRIBUTES.items():
            if attributes.get(name) not in (None, ""):
                doc[scim_name] = str(attributes[name])
        return doc

    async def _provisioned(self, user_id: UUID | None) -> User | None:
        """The person as the identity provider sees them: an erased person is gone (their row stays
        only for learning records), so it can be neither read nor provisioned again by its id."""
        user = await self.session.get(User, user_id) if user_id else None
        return None if user is None or user.erased else user

    async def get_user(self, user_id: str) -> User:
        user = await self._provisioned(_uuid_or_none(user_id))
        if user is None:
            raise ScimError(404, f"User {user_id} not found")
        return user

    async def list_users(self, filter_: str | None, start_index: int, count: int) -> dict[str, Any]:
        query = select(User).where(User.email.not_like(f"%{ERASED_EMAIL_DOMAIN}"))
        if filter_:
            attribute, value = parse_eq_filter(filter_, USER_FILTERS)
            if attribute in ("userName", "emails.value"):
                query = query.where(func.lower(User.email) == value.lower())
            elif attribute == "externalId":
                query = query.where(User.external_id == value)
            else:
                query = query.where(User.id == _uuid_or_none(value)) if _uuid_or_none(value) else query.where(false())
        return await self._page(query, User.created_at, start_index, count, self.user_document)

    async def create_user(self, doc: dict[str, Any]) -> User:
        user_name = self._user_name(doc)
        if await self.directory.find_by_email(user_name) is not None:
            raise ScimError(409, f"a user with userName {user_name} already exists", "uniqueness")
        user = User(tenant_id=self.tenant_id, email=user_name, display_name=user_name, roles=[Role.LEARNER.value])
        await self._apply_user(user, doc, creating=True)
        self.session.add(user)
        await self.session.flush()
        await schedule_sync(self.session, self.tenant_id)
        return user

    async def replace_user(self, user_id: str, doc: dict[str, Any]) -> User:
        user = await self.get_user(user_id)
        await self._apply_user(user, doc, creating=False)
        await self.session.flush()
        await schedule_sync(self.session, self.tenant_id)
        return user

    async def patch_user(self, user_id: str, body: Any) -> User:
        user = await self.get_user(user_id)
        doc = apply_patch(self.user_document(user), body)
        await self._apply_user(user, doc, creating=False)
        await self.session.flush()
        await schedule_sync(self.session, self.tenant_id)
        return user

    async def deprovision_user(self, user_id: str) -> None:
        """DELETE keeps the account (its learning history stays) but deactivates it and frees its seat."""
        user = await self.get_user(user_id)
        await self.directory.deactivate(user.id, None)

    def _user_name(self, doc: dict[str, Any]) -> str:
        user_name = doc.get("userName")
        if not isinstance(user_name, str) or "@" not in user_name or len(user_name) > 320:
            raise ScimError(400, "userName must be the person's e-mail address", "invalidValue")
        return user_name.strip()

    async def _apply_user(self, user: User, doc: dict[str, Any], creating: bool) -> None:
        user_name = self._user_name(doc)
        if user_name.lower() != user.email.lower():
            other = await self.directory.find_by_email(user_name)
            if other is not None and other.id != user.id:
                raise ScimError(409, f"a user with userName {user_name} already exists", "uniqueness")
        user.email = user_name
        name = doc.get("name") if isinstance(doc.get("name"), dict) else {}
        assert isinstance(name, dict)
        given_family = " ".join(str(name[k]) for k in ("givenName", "familyName") if name.get(k)).strip()
        display = doc.get("displayName") or name.get("formatted") or given_family or user.display_name
        user.display_name = str(display)[:200]
        external_id = doc.get("externalId")
        user.external_id = str(external_id)[:255] if external_id else None
        roles = doc.get("roles")
        if isinstance(roles, list):
            values = {str(r.get("value") if isinstance(r, dict) else r) for r in roles}
            unknown = values - _ROLE_VALUES
            if unknown:
                raise ScimError(400, f"unknown roles {sorted(unknown)}; use {sorted(_ROLE_VALUES)}", "invalidValue")
            user.roles = sorted(values) or [Role.LEARNER.value]
        enterprise = doc.get(ENTERPRISE_SCHEMA) or {}
        if isinstance(enterprise, dict) and "manager" in enterprise:
            manager = enterprise["manager"]
            raw = manager.get("value") if isinstance(manager, dict) else manager
            user.manager_id = await self._manager_id(raw, user)
        if isinstance(enterprise, dict):
            self._apply_enterprise_attributes(user, enterprise)
        active = as_bool(doc.get("active", True), "active")
        if not active and user.status is not UserStatus.DEACTIVATED:
            if creating:
                user.status = UserStatus.DEACTIVATED
            else:
                await self.directory.deactivate(user.id, None)
        elif (active and user.status is UserStatus.DEACTIVATED) or creating:
            if not creating:
                await take_seat_of(self.directory.session, user.tenant_id, user.id)
            user.status = UserStatus.ACTIVE

    def _apply_enterprise_attributes(self, user: User, enterprise: dict[str, Any]) -> None:
        """Department and the like become custom attributes; one the document leaves out is kept, one
        it sends empty is removed."""
        attributes = dict(user.attributes or {})
        for scim_name, name in ENTERPRISE_ATTRIBUTES.items():
            if scim_name not in enterprise:
                continue
            value = enterprise[scim_name]
            if value in (None, ""):
                attributes.pop(name, None)
            elif isinstance(value, str | int):
                attributes[name] = str(value).strip()[:200]
            else:
                raise ScimError(400, f"{scim_name} must be a string", "invalidValue")
        user.attributes = attributes

    async def _manager_id(self, raw: Any, user: User) -> UUID | None:
        if raw in (None, ""):
            return None
        manager_id = _uuid_or_none(str(raw))
        if manager_id is None or manager_id == user.id or await self.session.get(User, manager_id) is None:
            raise ScimError(400, f"manager {raw} is not a user of this tenant", "invalidValue")
        return manager_id

    # --- groups ------------------------------------------------------------------------------
    async def group_document(self, group: UserGroup) -> dict[str, Any]:
        members = await self.session.execute(
            select(User.id, User.email).where(User.groups.contains([group.display_name])).order_by(User.email)
        )
        doc: dict[str, Any] = {
            "schemas": [GROUP_SCHEMA],
            "id": str(group.id),
            "displayName": group.display_name,
            "members": [
                {"value": str(row.id), "display": row.email, "$ref": f"{self.base_url}/scim/v2/Users/{row.id}"}
                for row in members
            ],
            "meta": {
                "resourceType": "Group",
                "created": group.created_at.isoformat(),
                "lastModified": group.updated_at.isoformat(),
                "location": f"{self.base_url}/scim/v2/Groups/{group.id}",
            },
        }
        if group.external_id:
            doc["externalId"] = group.external_id
        return doc

    async def get_group(self, group_id: str) -> UserGroup:
        parsed = _uuid_or_none(group_id)
        group = await self.session.get(UserGroup, parsed) if parsed else None
        if group is None:
            raise ScimError(404, f"Group {group_id} not found")
        return group

    async def list_groups(self, filter_: str | None, start_index: int, count: int) -> dict[str, Any]:
        query = select(UserGroup)
        if filter_:
            attribute, value = parse_eq_filter(filter_, GROUP_FILTERS)
            if attribute == "displayName":
                query = query.where(UserGroup.display_name == value)
            elif attribute == "externalId":
                query = query.where(UserGroup.external_id == value)
            else:
                parsed = _uuid_or_none(value)
                query = query.where(UserGroup.id == parsed) if parsed else query.where(false())
        return await self._page(query, UserGroup.created_at, start_index, count, self.group_document)

    async def create_group(self, doc: dict[str, Any]) -> UserGroup:
        name = self._group_name(doc)
        existing = await self.session.execute(select(UserGroup).where(UserGroup.display_name == name))
        if existing.scalar_one_or_none() is not None:
            raise ScimError(409, f"a group named {name} already exists", "uniqueness")
        group = UserGroup(tenant_id=self.tenant_id, display_name=name)
        self.session.add(group)
        await self._apply_group(group, doc)
        await schedule_sync(self.session, self.tenant_id)
        return group

    async def replace_group(self, group_id: str, doc: dict[str, Any]) -> UserGroup:
        group = await self.get_group(group_id)
        await self._apply_group(group, doc)
        await schedule_sync(self.session, self.tenant_id)
        return group

    async def patch_group(self, group_id: str, body: Any) -> UserGroup:
        group = await self.get_group(group_id)
        doc = apply_patch(await self.group_document(group), body)
        await self._apply_group(group, doc)
        await schedule_sync(self.session, self.tenant_id)
        return group

    async def delete_group(self, group_id: str) -> None:
        group = await self.get_group(group_id)
        await self._set_members(group.display_name, set())
        await self.session.delete(group)
        await self.session.flush()

    def _group_name(self, doc: dict[str, Any]) -> str:
        name = doc.get("displayName")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ScimError(400, "displayName is required (at most 200 characters)", "invalidValue")
        return name.strip()

    async def _apply_group(self, group: UserGroup, doc: dict[str, Any]) -> None:
        name = self._group_name(doc)
        if group.display_name and name != group.display_name:
            await self._set_members(group.display_name, set())
        group.display_name = name
        external_id = doc.get("externalId")
        group.external_id = str(external_id)[:255] if external_id else None
        await self.session.flush()
        members = doc.get("members") or []
        if not isinstance(members, list):
            raise ScimError(400, "members must be a list", "invalidValue")
        ids: set[UUID] = set()
        for member in members:
            raw = str(member.get("value") if isinstance(member, dict) else member)
            member_id = _uuid_or_none(raw)
            if member_id is None or await self._provisioned(member_id) is None:
                raise ScimError(400, f"member {raw} is not a user of this tenant", "invalidValue")
            ids.add(member_id)
        await self._set_members(name, ids)

    async def _set_members(self, name: str, member_ids: set[UUID]) -> None:
        """Membership lives in users.groups: add the name to members, remove it from everyone else."""
        current = await self.session.execute(select(User).where(User.groups.contains([name])))
        for user in current.scalars():
            if user.id not in member_ids:
                user.groups = [g for g in user.groups if g != name]
        for member_id in member_ids:
            member = await self.session.get(User, member_id)
            if member is not None and name not in (member.groups or []):
                member.groups = sorted({*(member.groups or []), name})
        await self.session.flush()

    async def _page(self, query: Any, order: Any, start_index: int, count: int, render: Any) -> dict[str, Any]:
        start_index = max(start_index, 1)
        count = min(max(count, 0), MAX_PAGE)
        rows, total = await count_and_fetch(self.session, query.order_by(order), count, start_index - 1)
        resources = []
        for row in rows:
            rendered = render(row)
            resources.append(await rendered if hasattr(rendered, "__await__") else rendered)
        return list_response(resources, int(total), start_index)
