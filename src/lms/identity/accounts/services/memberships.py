"""Group membership as identity stores it (the group's name in `users.groups`): counts and the
attribute rules of dynamic groups, applied set-based."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def member_counts(session: AsyncSession) -> dict[str, int]:
    """Active and invited people per group name."""
    rows = await session.execute(
        text("select g, count(*) from users, unnest(groups) g where status <> 'deactivated' group by g")
    )
    return {name: int(count) for name, count in rows.all()}


async def apply_attribute_rule(session: AsyncSession, group: str, attribute: str, value: str) -> tuple[int, int]:
    """The group's members become exactly the people whose attribute equals `value`: (added, removed)."""
    added = await session.execute(
        text(
            "with changed as (update users set groups = array_append(groups, cast(:g as varchar)) "
            "where attributes ->> :a = :v and not (groups @> array[cast(:g as varchar)]) returning 1) "
            "select count(*) from changed"
        ),
        {"g": group, "a": attribute, "v": value},
    )
    removed = await session.execute(
        text(
            "with changed as (update users set groups = array_remove(groups, cast(:g as varchar)) "
            "where groups @> array[cast(:g as varchar)] and (attributes ->> :a) is distinct from :v returning 1) "
            "select count(*) from changed"
        ),
        {"g": group, "a": attribute, "v": value},
    )
    return int(added.scalar_one()), int(removed.scalar_one())


async def rename_group_membership(session: AsyncSession, old: str, new: str) -> None:
    """A renamed group keeps its members: the old name becomes the new one in every membership list."""
    await session.execute(
        text(
            "update users set groups = array_replace(groups, cast(:old as varchar), cast(:new as varchar)) "
            "where groups @> array[cast(:old as varchar)]"
        ),
        {"old": old, "new": new},
    )


async def remove_group_membership(session: AsyncSession, group: str) -> None:
    """A deleted group's name leaves every membership list."""
    await session.execute(
        text(
            "update users set groups = array_remove(groups, cast(:g as varchar)) "
            "where groups @> array[cast(:g as varchar)]"
        ),
        {"g": group},
    )
