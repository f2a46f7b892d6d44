"""Fetch a row by key or answer 404: the one way every route says "no such thing"."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib.errors import NotFound

M = TypeVar("M")


async def get_or_404(
    session: AsyncSession, model: type[M], key: Any, message: str, *, field: str | None = None, for_update: bool = False
) -> M:
    """The row of `model` with primary key `key` visible to this session (RLS applies), else NotFound(message).

    `for_update` locks the row for the rest of the transaction.
    """
    row = await session.get(model, key, with_for_update=True if for_update else None)
    if row is None:
        raise NotFound(message, field=field)
    return row
