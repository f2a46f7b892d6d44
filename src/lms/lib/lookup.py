"""Fetch a row by key or answer 404: the one way every route says "no such thing"."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib.errors import NotFound

M = TypeVar("M")


async def get_or_404(session: AsyncSession, model: type[M], key: Any, *, what: str, field: str | None = None) -> M:
    """The row of `model` with primary key `key` visible to this session (RLS applies), else NotFound."""
    row = await session.get(model, key)
    if row is None:
        raise NotFound(f"{what} not found", field=field)
    return row
