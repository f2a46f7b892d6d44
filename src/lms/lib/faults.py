"""Which failures pass by themselves (retry with backoff) and which never will (fail fast, say why).

Background jobs ask this instead of guessing from exception names: a lost database or Redis
connection, a restarted server or a deadlock is transient; a full disk is permanent for the job
at hand (retrying re-does the work and fills the disk again), and so is a value the database refuses.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from lms.lib.errors import DomainError

# SQLSTATE classes and codes that a retry can outlive: connection exceptions, operator
# intervention (server shutting down or restarting), insufficient resources, deadlocks.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "57P", "53", "40001", "40P01")
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class DiskFull(DomainError):
    """No space left where the platform writes; retrying does not help until an operator frees space.

    An API request that meets it answers 507 with this envelope instead of a bare 500."""

    status = 507
    code = "insufficient_storage"


def sqlstate(exc: BaseException) -> str | None:
    original = getattr(exc, "orig", None)
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return str(code) if code else None


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, DiskFull) or (isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS)


def is_transient(exc: BaseException) -> bool:
    """A failure that a retry after a pause is expected to get past."""
    if is_disk_full(exc):
        return False
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        code = sqlstate(exc)
        if code is not None:
            return code.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
        return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    # asyncpg raises these directly when a pooled connection died under it.
    return isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError))


@contextmanager
def disk_full_as_error(partial: Path, what: str) -> Iterator[None]:
    """Around a write to `partial`: on any failure the partial file goes; a full disk becomes DiskFull."""
    try:
        yield
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            raise DiskFull(f"no space left to store {what}; try again once space is freed") from exc
        raise
