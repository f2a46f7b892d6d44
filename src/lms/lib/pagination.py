"""Limit/offset pagination shared by every list endpoint: one page shape, one way to count and slice."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.db.reads import ReadQuery, ReadSource, fetch_all, fetch_one
from lms.lib.params import Limit, Offset

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50


class Page(msgspec.Struct, Generic[T]):
    """Every list answers this shape: the slice, how many there are in all, and the slice's bounds."""

    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(msgspec.Struct):
    limit: int
    offset: int

    def of(self, items: Sequence[T], total: int) -> Page[T]:
        return Page(items=list(items), total=total, limit=self.limit, offset=self.offset)

    def slice(self, items: Sequence[T]) -> Page[T]:
        """A page cut from a list already held in memory (short, bounded lists)."""
        return self.of(items[self.offset : self.offset + self.limit], len(items))


def provide_page_params(limit: Limit = DEFAULT_LIMIT, offset: Offset = 0) -> PageParams:
    return PageParams(limit=limit, offset=offset)


async def count_and_fetch(
    session: AsyncSession, statement: Select[*tuple[Any, ...]], limit: int, offset: int
) -> tuple[list[Any], int]:
    """The rows of one page of `statement` (ordered by the caller) and the total without the bounds."""
    total = (await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))).scalar_one()
    result = await session.execute(statement.limit(limit).offset(offset))
    # One selected entity gives the entities themselves; several give row tuples.
    rows = result.scalars().all() if len(statement.column_descriptions) == 1 else result.all()
    return list(rows), int(total)


async def fetch_with_total(
    session: AsyncSession, statement: Select[*tuple[Any, ...]], limit: int, offset: int
) -> tuple[list[Any], int]:
    """Like `count_and_fetch`, in one statement for hot lists: the total rides along as a window count
    (`count(*) over ()`); only a page past the end needs a second, counting statement. For plain
    selects (no DISTINCT, whose window would count rows before de-duplication)."""
    single = len(statement.column_descriptions) == 1
    rows = (await session.execute(statement.add_columns(func.count().over()).limit(limit).offset(offset))).all()
    if rows:
        return [row[0] if single else tuple(row[:-1]) for row in rows], int(rows[0][-1])
    if offset == 0:
        return [], 0
    total = (await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))).scalar_one()
    return [], int(total)


async def paginate(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    page: PageParams,
    out: Callable[[Any], R] | None = None,
) -> Page[R]:
    """One page of `statement` in the page shape; `out` turns each row into its response struct."""
    rows, total = await count_and_fetch(session, statement, page.limit, page.offset)
    items: list[Any] = [out(row) for row in rows] if out is not None else rows
    return page.of(items, total)


def page_json(items: Sequence[bytes], total: int, page: PageParams) -> bytes:
    """The JSON of `Page` (fields in its order, as msgspec writes it) around items that are already JSON:
    a list whose rows are stored encoded answers without decoding and re-encoding each of them."""
    return b'{"items":[%b],"total":%d,"limit":%d,"offset":%d}' % (b",".join(items), total, page.limit, page.offset)


async def read_rows_and_total(
    session: ReadSource, rows: ReadQuery, values: Mapping[str, Any], count: ReadQuery, page: PageParams
) -> tuple[Sequence[Any], int]:
    """One page of a hot list on the read path (`lms.db.reads`: no ORM, rows straight from asyncpg): its
    rows, and the total. `rows` ends with the total as its last column (a window count or a counting
    subquery) and takes `:limit` and `:offset`. Only a page past the end, which has no row to carry the
    total, sends `count` (same `values`) as well. `session` may be a sessionless `TenantReads`."""
    bounded = {**values, "limit": page.limit, "offset": page.offset}
    found = await fetch_all(session, rows, bounded)
    if found:
        return found, int(found[0][-1])
    if page.offset == 0:
        return found, 0
    counted = await fetch_one(session, count, bounded)
    return found, int(counted[0]) if counted is not None else 0
