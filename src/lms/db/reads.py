"""The read path of hot routes: a Core select compiled once, sent straight to asyncpg, its rows handed
back as asyncpg records (build response structs from them positionally, `Out(*row)`).

Where a read runs:
- on the session's connection when the session is already in a transaction (the same snapshot as the
  request's other statements, and no second connection);
- otherwise on a pooled connection of its own, held for exactly as long as the read: one statement that
  binds the tenant and reads, in its own implicit transaction (`bound_to_tenant`): one round trip, no
  BEGIN or COMMIT, and the connection goes back to the pool. No ORM session transaction, SQLAlchemy
  connection, compile-cache lookup or result wrapping.

A request that needs nothing else of the database reads without any session: `TenantReads` (an engine
and a tenant) stands where a session would, and every read takes a connection of its own.

Either way the tenant is the session's (`bind_tenant`) or the `TenantReads`' own, bound with
`set_config(..., true)` inside the read's (implicit or open) transaction, so RLS applies exactly as to any query of the
session. A read that fails or is interrupted (a cancelled request) closes its own connection instead of
returning it, so no transaction and no tenant binding can outlive it. Errors are raised as SQLAlchemy
raises them (a dropped connection is a `DBAPIError` with `connection_invalidated`, and the pool forgets
its older connections).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast
from uuid import UUID

from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from lms.db.binding import TENANT_KEY

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
_MISSING = object()

Record = Any  # asyncpg.Record: a tuple-like row that also answers by column name


@dataclass(frozen=True, slots=True)
class TenantReads:
    """Reads of `tenant_id` without a session: each takes a pooled connection for one statement that binds
    the tenant and reads (`bound_to_tenant`). For a request whose only database work is reading; it saves building,
    binding and closing an ORM session (and the request-scoped dependency that provides one)."""

    engine: AsyncEngine
    tenant_id: UUID | None


# Where a read runs: the request's session (its transaction, or a connection of its own under its tenant)
# or a sessionless `TenantReads`.
ReadSource: TypeAlias = AsyncSession | TenantReads


class ReadQuery:
    """A Core statement compiled once for asyncpg: `$n` parameters in a fixed order (literal values of
    the statement and the named `bindparam`s a call supplies), bound values converted as SQLAlchemy
    would (enums to their database names)."""

    __slots__ = ("_parameters", "sql")

    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        self.sql = str(compiled)
        if "POSTCOMPILE" in self.sql:
            raise ValueError("expanding IN lists cannot be compiled once; compare with = ANY(:array) instead")
        processors: Mapping[str, Any] = compiled._bind_processors
        self._parameters = [
            (name, _MISSING if compiled.binds[name].required else compiled.params[name], processors.get(name))
            for name in compiled.positiontup or ()
        ]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `values` (by bind name; statement literals fill the rest)."""
        out = []
        for name, literal, process in self._parameters:
            value = values.get(name, literal)
            if value is _MISSING:
                raise KeyError(f"no value for the parameter {name!r}")
            out.append(process(value) if process is not None and value is not None else value)
        return out


async def fetch_all(session: ReadSource, query: ReadQuery, values: Mapping[str, Any] | None = None) -> list[Record]:
    """Every row of `query` under the session's (or the `TenantReads`') tenant."""
    rows: list[Record] = await _read(session, query.sql, query.arguments(values or {}), one=False)
    return rows


async def fetch_one(session: ReadSource, query: ReadQuery, values: Mapping[str, Any] | None = None) -> Record | None:
    """The first row of `query` under the session's (or the `TenantReads`') tenant, or None."""
    return await _read(session, query.sql, query.arguments(values or {}), one=True)


async def fetch_row(session: AsyncSession, sql: str, *args: Any) -> Record | None:
    """The first row of hand-written SQL (`$1`-style parameters) under the session's tenant, or None;
    asyncpg prepares it once per connection (its statement cache)."""
    return await _read(session, sql, args, one=True)


async def fetch_row_as(engine: AsyncEngine, tenant_id: UUID | None, sql: str, *args: Any) -> Record | None:
    """`fetch_row` for a request that needs nothing else of the database: no session at all, a pooled
    connection of its own bound to `tenant_id` for the read's transaction."""
    return await _on_own_connection(engine, tenant_id, sql, args, True)


async def fetch_row_autocommit(engine: AsyncEngine, sql: str, *args: Any) -> Record | None:
    """One statement on a pooled connection of its own, in the implicit transaction PostgreSQL gives a
    statement sent outside a transaction block: committed when the answer arrives, in one round trip.
    For a statement that binds its tenant itself (a function that calls `set_config(..., true)` first;
    the binding ends with that transaction); no tenant is bound here."""
    return await _on_own_connection(engine, None, sql, args, True)


async def _read(session: ReadSource, sql: str, args: Sequence[Any], *, one: bool) -> Any:
    if isinstance(session, TenantReads):
        return await _on_own_connection(session.engine, session.tenant_id, sql, args, one)
    if session.in_transaction():
        return await _in_session(session, sql, args, one)
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        raise TypeError("a session of the read path is bound to an AsyncEngine")
    return await _on_own_connection(engine, session.sync_session.info.get(TENANT_KEY), sql, args, one)


async def _in_session(session: AsyncSession, sql: str, args: Sequence[Any], one: bool) -> Any:
    """On the connection the session's transaction holds (begun and tenant-bound by its after_begin hook)."""
    if session.new or session.deleted or session.dirty:
        await session.flush()  # what a query through the session would see (autoflush)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        return await (driver.fetchrow(sql, *args) if one else driver.fetch(sql, *args))
    except Exception as error:
        adapter: Any = raw.dbapi_connection
        raise _as_dbapi_error(adapter, connection.dialect, sql, args, error) from error


async def _on_own_connection(
    engine: AsyncEngine, tenant_id: UUID | None, sql: str, args: Sequence[Any], one: bool
) -> Any:
    """One statement, in the implicit transaction PostgreSQL gives a statement sent outside a transaction
    block: one round trip, committed (and its tenant binding gone) when the answer arrives."""
    fairy = await engine.raw_connection()  # past DB_POOL_TIMEOUT: sqlalchemy.exc.TimeoutError (503)
    driver: Any = fairy.driver_connection
    finished = False
    if driver.is_in_transaction():
        # Never expected (the pool rolls back what it takes back), and the statement would not commit.
        fairy.invalidate()
        fairy.close()
        raise RuntimeError("a pooled connection was handed out inside a transaction")
    if tenant_id is not None:
        sql, args = bound_to_tenant(sql, len(args)), (*args, tenant_id)
    try:
        result = await (driver.fetchrow(sql, *args) if one else driver.fetch(sql, *args))
        finished = True
        return result
    except Exception as error:
        adapter: Any = fairy.dbapi_connection
        dbapi_error = _as_dbapi_error(adapter, engine.dialect, sql, args, error)
        if dbapi_error.connection_invalidated:
            # As SQLAlchemy does on a disconnect: older pooled connections are likely dead too.
            engine.sync_engine.pool._invalidate(fairy, error)
        else:
            finished = True  # a refused statement: its implicit transaction is over, the connection usable
        raise dbapi_error from error
    finally:
        if not finished and fairy.is_valid:
            fairy.invalidate()  # its state is unknown (a half-read answer): closed
        fairy.close()


@functools.lru_cache(maxsize=1024)
def bound_to_tenant(sql: str, parameters: int) -> str:
    """`sql` (a SELECT with `parameters` `$n` parameters) as one statement that first binds the tenant
    given as parameter `parameters + 1`, for the statement's own transaction.

    `app.bind_tenant` (migration 1615) calls `set_config('app.tenant_id', ..., true)` and returns the id.
    The read is a LATERAL subquery that refers to that result, and OFFSET 0 keeps PostgreSQL from merging
    it into the outer query, so it runs for the function's one row, after the binding is made. RLS and
    its policies are untouched: a read that ran unbound would see no tenant's rows, never another
    tenant's. Rows keep the read's own order (one outer row)."""
    tenant = f"${parameters + 1}"
    return (
        f"SELECT read.* FROM app.bind_tenant({tenant}) AS bound, "
        f"LATERAL (SELECT * FROM ({sql}) AS rows WHERE bound IS NOT NULL OFFSET 0) AS read"
    )


def _as_dbapi_error(adapter: Any, dialect: Any, sql: str, args: Sequence[Any], error: Exception) -> DBAPIError:
    """asyncpg's exception as SQLAlchemy raises it (IntegrityError, ProgrammingError, ...)."""
    if isinstance(error, DBAPIError):
        return error
    try:
        adapter._handle_exception(error)  # raises the DBAPI-level error
    except Exception as dbapi_error:
        disconnect = dialect.is_disconnect(dbapi_error, adapter, None)
        base = dialect.loaded_dbapi.Error
        wrapped = DBAPIError.instance(sql, list(args), dbapi_error, base, connection_invalidated=disconnect)
        if isinstance(wrapped, DBAPIError):
            return wrapped
    raise error
