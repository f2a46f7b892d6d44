"""Which failures a job retries and which it fails fast on."""

from __future__ import annotations

import errno

import asyncpg  # type: ignore[import-untyped]
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from lms.lib.faults import DiskFull, is_disk_full, is_transient


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (RedisConnectionError("Connection closed by server."), True),
        (ConnectionResetError(errno.ECONNRESET, "reset"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), True),
        (OperationalError("select 1", {}, PgError("57P01")), True),  # admin shutdown (a restart)
        (OperationalError("select 1", {}, PgError("08006")), True),  # connection failure
        (OperationalError("select 1", {}, PgError("40P01")), True),  # deadlock
        (DataError("insert", {}, PgError("22021")), False),  # NUL in text
        (IntegrityError("insert", {}, PgError("23505")), False),
        (OSError(errno.ENOSPC, "No space left on device"), False),
        (DiskFull("no space left"), False),
        (ValueError("bad"), False),
    ],
)
def test_transient_failures_are_told_from_permanent_ones(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


@pytest.mark.parametrize(
    ("exc", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (DiskFull("x"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
    ],
)
def test_a_full_disk_is_recognised(exc: BaseException, full: bool) -> None:
    assert is_disk_full(exc) is full


def test_a_full_disk_answers_507() -> None:
    assert DiskFull.status == 507
    assert DiskFull.code == "insufficient_storage"
