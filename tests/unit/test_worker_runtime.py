"""A job's failure is raised as TransientFailure (retried with backoff) only when a pause can cure it."""

from __future__ import annotations

import errno

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from lms.lib.faults import DiskFull
from workers.runtime import TransientFailure, run


async def failing(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(
    "exc",
    [RedisConnectionError("Connection closed by server."), ConnectionResetError(errno.ECONNRESET, "reset")],
)
def test_a_lost_connection_is_retried(exc: BaseException) -> None:
    with pytest.raises(TransientFailure) as raised:
        run(failing(exc))
    assert raised.value.__cause__ is exc


@pytest.mark.parametrize("exc", [DiskFull("no space left"), ValueError("bad input")])
def test_a_permanent_failure_is_raised_as_it_is(exc: BaseException) -> None:
    with pytest.raises(type(exc)):
        run(failing(exc))
