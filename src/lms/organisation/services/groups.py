"""Groups: nested (a parent), membership by hand, import or SCIM, and dynamic groups whose rule keeps
their members to the people with an attribute value (department = Sales)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.compliance.services import schedule_sync
from lms.identity.accounts.services.memberships import (
    apply_attribute_rule,
    member_counts,
    remove_group_membership,
    rename_group_membership,
)
from lms.lib.errors import Conflict, NotFound, ValidationFailed
from lms.organisation.models import OrgGroup


@dataclass(frozen=True)
class GroupView:
    group: OrgGroup
    members: int
    depth: int


class Groups:
    """The bound tenant's groups (the session is RLS-bound to it)."""

    def __init__(self, session: AsyncSession, tenant_id: UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def tree(self) -> list[GroupView]:
        """Every group, parents before their children (depth-first, by name), with member counts."""
        groups = list((await self.session.execute(select(OrgGroup).order_by(OrgGroup.name))).scalars())
        counts = await member_counts(self.session)
        children: dict[UUID | None, list[OrgGroup]] = {}
        known = {g.id for g in groups}
        for g in groups:
            children.setdefault(g.parent_id if g.parent_id in known else None, []).append(g)
        out: list[GroupView] = []

        def walk(parent: UUID | None, depth: int) -> None:
            for g in children.get(parent, []):
                out.append(GroupView(g, counts.get(g.name, 0), depth))
                if depth < 20:
                    walk(g.id, depth + 1)

        walk(None, 0)
        return out

    async def create(
        self, name: str, parent_id: UUID | None, rule_attribute: str | None, rule_value: str | None
    ) -> OrgGroup:
        name = name.strip()
        if not name:
            raise ValidationFailed("enter a name", field="name")
        if (rule_attribute is None) != (rule_value is None):
            raise ValidationFailed("a rule needs both an attribute and a value", field="rule_value")
        if parent_id is not None and await self.session.get(OrgGroup, parent_id) is None:
            raise ValidationFailed("no such group in this site", field="parent_id")
        group = OrgGroup(
            tenant_id=self.tenant_id,
            name=name,
            parent_id=parent_id,
            rule_attribute=rule_attribute,
            rule_value=rule_value,
        )
        self.session.add(group)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("a group with this name already exists", field="name") from exc
        if rule_attribute and rule_value:
            await apply_attribute_rule(self.session, name, rule_attribute, rule_value)
            await schedule_sync(self.session, self.tenant_id)
        return group

    async def update(
        self,
        group_id: UUID,
        name: str,
        parent_id: UUID | None,
        rule_attribute: str | None,
        rule_value: str | None,
    ) -> OrgGroup:
        """Rename, move or change the rule of a group; its members follow a rename."""
        group = await self.get(group_id)
        name = name.strip()
        if not name:
            raise ValidationFailed("enter a name", field="name")
        if (rule_attribute is None) != (rule_value is None):
            raise ValidationFailed("a rule needs both an attribute and a value", field="rule_value")
        if parent_id is not None:
            if parent_id == group.id or parent_id in await self.descendants(group.id):
                raise ValidationFailed("a group cannot sit inside itself or one of its subgroups", field="parent_id")
            if await self.session.get(OrgGroup, parent_id) is None:
                raise ValidationFailed("no such group in this site", field="parent_id")
        old_name = group.name
        group.name, group.parent_id = name, parent_id
        group.rule_attribute, group.rule_value = rule_attribute, rule_value
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("a group with this name already exists", field="name") from exc
        if old_name != name:
            await rename_group_membership(self.session, old_name, name)
        if rule_attribute and rule_value:
            await apply_attribute_rule(self.session, name, rule_attribute, rule_value)
        # A new rule or parent can bring people under the training assigned to this group or its parents.
        await schedule_sync(self.session, self.tenant_id)
        return group

    async def delete(self, group_id: UUID) -> None:
        """Delete a group: its members leave it, its subgroups move up to its parent."""
        group = await self.get(group_id)
        await self.session.execute(
            update(OrgGroup).where(OrgGroup.parent_id == group.id).values(parent_id=group.parent_id)
        )
        await remove_group_membership(self.session, group.name)
        await self.session.delete(group)
        await self.session.flush()

    async def descendants(self, group_id: UUID) -> set[UUID]:
        """Every group below this one, at any depth."""
        rows = (await self.session.execute(select(OrgGroup.id, OrgGroup.parent_id))).all()
        children: dict[UUID | None, list[UUID]] = {}
        for child, parent in rows:
            children.setdefault(parent, []).append(child)
        found: set[UUID] = set()
        pending = list(children.get(group_id, []))
        while pending:
            current = pending.pop()
            if current not in found:
                found.add(current)
                pending.extend(children.get(current, []))
        return found

    async def get(self, group_id: UUID) -> OrgGroup:
        group = await self.session.get(OrgGroup, group_id)
        if group is None:
            raise NotFound("group not found")
        return group

    async def apply_rules(self) -> int:
        """Bring every dynamic group's members up to date (after an import); how many changes."""
        changed = 0
        rules = await self.session.execute(select(OrgGroup).where(OrgGroup.rule_attribute.is_not(None)))
        for group in rules.scalars():
            if group.rule_attribute and group.rule_value:
                added, removed = await apply_attribute_rule(
                    self.session, group.name, group.rule_attribute, group.rule_value
                )
                changed += added + removed
        return changed
